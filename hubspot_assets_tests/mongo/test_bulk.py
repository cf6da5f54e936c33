"""The one bulk writer: a dropped connection resends the batch; no server fails at once."""

import pytest
from pymongo import UpdateOne
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from hubspot_assets.mongo import bulk


class FlakyCollection:
    """Unit-test double: fails the first `failures` bulk writes with `error`."""

    name = "flaky"

    def __init__(self, inner, failures: int, error: Exception):
        self.inner, self.failures, self.error, self.calls = inner, failures, error, 0

    def bulk_write(self, operations, ordered):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.inner.bulk_write(operations, ordered=ordered)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(bulk.time, "sleep", lambda seconds: None)


def ops(n):
    return [UpdateOne({"_id": i}, {"$setOnInsert": {"n": i}}, upsert=True) for i in range(n)]


def test_a_dropped_connection_sends_the_batch_again(db):
    collection = FlakyCollection(db.things, failures=2, error=AutoReconnect("connection reset"))
    written = bulk.write(collection, ops(5))
    assert collection.calls == 3
    assert written.inserted == 5 and written.upserted_ids == set(range(5))
    assert db.things.count_documents({}) == 5


def test_it_gives_up_after_the_last_attempt(db):
    collection = FlakyCollection(db.things, failures=bulk.WRITE_ATTEMPTS, error=AutoReconnect("x"))
    with pytest.raises(AutoReconnect):
        bulk.write(collection, ops(1))
    assert collection.calls == bulk.WRITE_ATTEMPTS


def test_no_server_at_all_is_not_retried(db):
    collection = FlakyCollection(db.things, failures=1, error=ServerSelectionTimeoutError("none"))
    with pytest.raises(ServerSelectionTimeoutError):
        bulk.write(collection, ops(1))
    assert collection.calls == 1


def test_nothing_to_send_sends_nothing_and_batches_are_lazy():
    assert bulk.write(None, []) == bulk.Written()
    assert [len(b) for b in bulk.batched(iter(range(2500)), 1000)] == [1000, 1000, 500]
