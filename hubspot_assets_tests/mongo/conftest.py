"""Helpers for the MongoDB tests: a client that records the commands it sends."""

from __future__ import annotations

import pymongo
import pytest
from pymongo import monitoring


class CommandLog(monitoring.CommandListener):
    """Names (and bodies) of the commands a client sent."""

    def __init__(self) -> None:
        self.started_events: list[monitoring.CommandStartedEvent] = []

    def started(self, event):
        self.started_events.append(event)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def names(self) -> list[str]:
        return [e.command_name for e in self.started_events]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def clear(self) -> None:
        self.started_events.clear()


@pytest.fixture
def command_log() -> CommandLog:
    return CommandLog()


@pytest.fixture
def watched_client(mongo_uri, command_log):
    client = pymongo.MongoClient(mongo_uri, event_listeners=[command_log])
    yield client
    client.close()


@pytest.fixture
def db(mongo_client, mongo_database):
    return mongo_client[mongo_database]
