"""A Dagster resource for code that reads the streams outside an IO manager
(consolidation, checks, history sensors)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.connection import get_database, stream_collection
from hubspot_assets.mongo.redaction import redact_uri
from hubspot_assets.mongo.stored_stream import StoredStream, latest_stream


class MongoResource(dg.ConfigurableResource):
    """The process-wide pymongo client for `uri`, and the stream helpers."""

    uri: str = Field(description="MongoDB URI; pass dg.EnvVar('MONGODB_URI').")
    database: str = Field(default="hubspot")

    def db(self) -> Database:
        return get_database(self.uri, self.database)

    def stream_collection(self, source_id: str) -> Collection:
        return stream_collection(self.db(), source_id)

    def latest_stream(self, source_id: str, stage: str) -> StoredStream | None:
        """What `stage` wrote for `source_id` in its latest finished run (None if never)."""
        return latest_stream(self.db(), source_id, stage)

    def __repr__(self) -> str:
        return f"MongoResource(uri={redact_uri(self.uri)!r}, database={self.database!r})"

    __str__ = __repr__
