"""The stand-in's data directory: what was written is there after a restart,
a crash loses at most the writes since the last snapshot, and a damaged
snapshot is refused, never half loaded."""

from __future__ import annotations

import time

import bson
import pymongo
import pytest
from pymongo.errors import DuplicateKeyError

from hubspot_assets_tests.mongo_standin import MongoStandin
from hubspot_assets_tests.mongo_standin import persistence
from hubspot_assets_tests.mongo_standin.persistence import (
    SnapshotError,
    load_snapshot,
    save_snapshot,
    snapshot_path,
)
from hubspot_assets_tests.mongo_standin.process import StandinProcess


def _client(uri: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)


def _fill(db) -> None:
    db.items.create_index("kind")
    db.items.create_index([("code", 1)], unique=True, name="code_unique")
    db.items.insert_many([{"_id": f"id{i}", "kind": "even" if i % 2 == 0 else "odd",
                           "code": i, "data": {"n": i, "tags": ["a", "b"]}} for i in range(50)])
    db.items.update_one({"_id": "id3"}, {"$set": {"data.n": 300}})
    db.items.delete_one({"_id": "id4"})
    db.compound.insert_one({"_id": {"source": "demo", "stage": "events"}, "mark": 7})
    db.create_collection("empty")


def _check_filled(db) -> None:
    assert db.items.count_documents({}) == 49
    assert db.items.find_one({"_id": "id3"})["data"] == {"n": 300, "tags": ["a", "b"]}
    assert db.items.find_one({"_id": "id4"}) is None
    assert db.items.count_documents({"kind": "even"}) == 24  # through the equality index
    assert {"kind_1", "code_unique"} <= set(db.items.index_information())
    with pytest.raises(DuplicateKeyError):  # the unique index still holds
        db.items.insert_one({"_id": "other", "code": 1})
    assert db.compound.find_one({"_id": {"source": "demo", "stage": "events"}})["mark"] == 7
    assert "empty" in db.list_collection_names()


def test_data_survives_a_clean_restart(tmp_path):
    with MongoStandin(data_dir=tmp_path, snapshot_seconds=3600) as first:
        with _client(first.uri) as client:
            _fill(client.demo)
    with MongoStandin(data_dir=tmp_path) as second:
        assert second.keeper.loaded == 50  # 49 items, 1 compound
        with _client(second.uri) as client:
            _check_filled(client.demo)
            client.demo.items.insert_one({"_id": "late", "code": 1000})
    with MongoStandin(data_dir=tmp_path) as third, _client(third.uri) as client:
        assert client.demo.items.find_one({"_id": "late"})["code"] == 1000


def test_sigterm_saves_writes_since_the_last_snapshot(tmp_path):
    standin = StandinProcess(data_dir=tmp_path, snapshot_seconds=3600).start()
    with _client(standin.uri) as client:
        _fill(client.demo)
    assert not snapshot_path(tmp_path).exists()  # the timer has not fired
    assert standin.stop() == 0
    again = StandinProcess(data_dir=tmp_path).start()
    try:
        with _client(again.uri) as client:
            _check_filled(client.demo)
    finally:
        again.stop()


def test_sigkill_keeps_the_last_timed_snapshot(tmp_path):
    standin = StandinProcess(data_dir=tmp_path, snapshot_seconds=0.2).start()
    try:
        with _client(standin.uri) as client:
            _fill(client.demo)
            deadline = time.monotonic() + 20
            while not snapshot_path(tmp_path).exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # let the timer pass the last write
    finally:
        standin.process.kill()  # no chance to save on the way out
        standin.process.wait()
        standin.process = None
    again = StandinProcess(data_dir=tmp_path).start()
    try:
        with _client(again.uri) as client:
            _check_filled(client.demo)
    finally:
        again.stop()


def test_a_save_that_dies_midway_leaves_the_previous_snapshot(tmp_path, monkeypatch):
    standin = MongoStandin()
    standin.executor.execute("demo", {"insert": "items", "documents": [{"_id": 1, "v": "old"}]})
    save_snapshot(standin.executor, tmp_path)
    standin.executor.execute("demo", {"insert": "items",
                                      "documents": [{"_id": i, "v": "new"} for i in range(2, 9)]})
    written = []

    def failing_full(entry):
        if len(written) == 3:
            raise OSError("disk full")
        written.append(entry)
        return bytes(entry)

    monkeypatch.setattr(persistence, "full", failing_full)
    with pytest.raises(OSError, match="disk full"):
        save_snapshot(standin.executor, tmp_path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.bson"]  # no temp file left
    fresh = MongoStandin()
    assert load_snapshot(fresh.executor, tmp_path) == 1
    found = fresh.executor.execute("demo", {"find": "items", "filter": {}})
    assert [d["v"] for d in found["cursor"]["firstBatch"]] == ["old"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no-trailer"])
def test_a_damaged_snapshot_is_refused_by_name(tmp_path, damage):
    standin = MongoStandin()
    standin.executor.execute("demo", {"insert": "items",
                                      "documents": [{"_id": i, "pad": "x" * 100}
                                                    for i in range(20)]})
    save_snapshot(standin.executor, tmp_path)
    path = snapshot_path(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a snapshot" + data)
    else:  # whole documents, but the end marker is gone
        trailer = bson.encode({"end": True, "collections": 1, "documents": 20})
        assert data.endswith(trailer)
        path.write_bytes(data[:-len(trailer)])
    with pytest.raises(SnapshotError, match=str(path)) as error:
        MongoStandin(data_dir=tmp_path).start()
    assert "move it away" in str(error.value)


def test_only_writes_make_a_snapshot_due():
    standin = MongoStandin()
    executor = standin.executor
    executor.execute("demo", {"insert": "items", "documents": [{"_id": 1, "n": 1}]})
    before = executor.writes
    executor.execute("demo", {"find": "items", "filter": {}})
    executor.execute("demo", {"aggregate": "items", "pipeline": [{"$match": {"n": 1}}],
                              "cursor": {}})
    executor.execute("demo", {"count": "items"})
    assert executor.writes == before
    executor.execute("demo", {"aggregate": "items", "cursor": {},
                              "pipeline": [{"$match": {}}, {"$merge": {"into": "copy"}}]})
    executor.execute("demo", {"update": "items", "updates": [{"q": {"_id": 1},
                                                               "u": {"$set": {"n": 2}}}]})
    assert executor.writes == before + 2
