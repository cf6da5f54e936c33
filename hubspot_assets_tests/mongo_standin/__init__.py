"""A MongoDB stand-in for development and tests: mockupdb speaks the wire
protocol, mongomock executes the commands. Not a database: data lives in
one process's memory and is gone when it stops, unless a data directory is
given (snapshots, `persistence.py`).
"""

from hubspot_assets_tests.mongo_standin.server import MongoStandin

__all__ = ["MongoStandin"]
