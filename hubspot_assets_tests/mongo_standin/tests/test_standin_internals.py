"""Stand-in internals without the wire: the fast paths agree with mongomock."""

from __future__ import annotations

import datetime as dt
import random

import bson
import mongomock
import pytest
from mongomock.filtering import filter_applies

from hubspot_assets_tests.mongo_standin import commands as commands_module
from hubspot_assets_tests.mongo_standin.commands import CommandExecutor
from hubspot_assets_tests.mongo_standin.cursors import CursorRegistry
from hubspot_assets_tests.mongo_standin.fastpaths import (
    compile_filter,
    compile_projection,
    id_lookup,
)
from hubspot_assets_tests.mongo_standin.storage import Packed


def _random_update(rng: random.Random) -> dict:
    update: dict = {}
    if rng.random() < 0.8:
        update["$setOnInsert"] = {"first": rng.randint(0, 3), "data": {"x": rng.randint(0, 2)}}
    if rng.random() < 0.8:
        update["$set"] = {"last": rng.choice(["a", "b"]), "n": rng.randint(0, 2)}
    if rng.random() < 0.7:
        each = [rng.choice("xyz") for _ in range(rng.randint(1, 3))]
        update["$push"] = {"tags": rng.choice([
            {"$each": each, "$slice": rng.choice([-3, -1, 2])}, {"$each": each}, each[0]])}
    return update or {"$set": {"n": 0}}


def _run(executor: CommandExecutor, statements: list[dict]) -> list[dict]:
    replies = []
    for start in range(0, len(statements), 7):
        replies.append(executor.execute("db", {
            "update": "c", "updates": statements[start:start + 7], "ordered": False}))
    return replies


def test_fast_upsert_matches_mongomocks_general_update(monkeypatch):
    rng = random.Random(7)
    statements = [{"q": {"_id": f"id{rng.randint(0, 40)}"}, "u": _random_update(rng),
                   "upsert": rng.random() < 0.9} for _ in range(600)]
    fast = CommandExecutor()
    fast_replies = _run(fast, statements)
    monkeypatch.setattr(commands_module, "fast_upsert", lambda *args, **kwargs: None)
    slow = CommandExecutor()
    slow_replies = _run(slow, statements)
    assert fast_replies == slow_replies

    assert _stored(fast) == _stored(slow)  # the same BSON, field order included


@pytest.mark.parametrize("query, expected", [
    ({"_id": "a"}, ["a"]),
    ({"_id": 5}, [5]),
    ({"_id": {"$eq": "a"}}, ["a"]),
    ({"_id": {"$in": ["a", "b", "a"]}}, ["a", "b"]),
    ({"_id": True}, None),             # bool is not the int 1
    ({"_id": {"$gt": 1}}, None),
    ({"_id": "a", "x": 1}, None),
    ({"x": 1}, None),
    ({"_id": {"a": 1}}, None),
])
def test_id_lookup_only_takes_plain_id_filters(query, expected):
    assert id_lookup(query) == expected


def test_cursors_expire_when_idle(monkeypatch):
    registry = CursorRegistry()
    reply = registry.first_batch("db.c", iter([{"_id": i} for i in range(10)]), 3)
    cursor_id = reply["cursor"]["id"]
    assert cursor_id != 0 and len(registry) == 1
    more = registry.get_more(cursor_id, 3)
    assert [d["_id"] for d in more["cursor"]["nextBatch"]] == [3, 4, 5]
    monkeypatch.setattr("hubspot_assets_tests.mongo_standin.cursors.IDLE_TIMEOUT_S", -1)
    registry.first_batch("db.c", iter([]), 3)  # opening a cursor reaps idle ones
    assert len(registry) == 0


def test_batches_stop_at_the_reply_size_limit(monkeypatch):
    monkeypatch.setattr("hubspot_assets_tests.mongo_standin.cursors.MAX_BATCH_BYTES", 1000)
    registry = CursorRegistry()
    docs = iter([{"_id": i, "pad": "x" * 300} for i in range(10)])
    reply = registry.first_batch("db.c", docs, 100)  # 324 bytes each: 3 fit in 1000
    assert len(reply["cursor"]["firstBatch"]) == 3
    rest = registry.get_more(reply["cursor"]["id"], None)
    assert [d["_id"] for d in rest["cursor"]["nextBatch"]] == [3, 4, 5]


def test_errors_are_command_replies_not_exceptions():
    executor = CommandExecutor()
    assert executor.execute("db", {"getMore": 12345, "collection": "c"})["code"] == 43
    assert executor.execute("db", {"find": 5})["ok"] == 0
    assert executor.execute("db", {})["code"] == 59
    reply = executor.execute("db", {"update": "c", "updates": [
        {"q": {"_id": 1}, "u": {"$set": {"a": 1}, "$inc": {"a": 1}}, "upsert": True}]})
    assert reply["writeErrors"][0]["code"] == 40


def test_fast_upsert_matches_mongomock_on_statements_from_the_wire(monkeypatch):
    # As the server hands them over: decoded from BSON, datetimes naive UTC.
    rng = random.Random(11)
    statements = [bson.decode(bson.encode({"q": {"_id": f"id{rng.randint(0, 30)}"},
                                           "u": _random_update(rng), "upsert": True}))
                  for _ in range(300)]
    fast = CommandExecutor()
    fast_replies = _run(fast, statements)
    monkeypatch.setattr(commands_module, "fast_upsert", lambda *args, **kwargs: None)
    slow = CommandExecutor()
    assert fast_replies == _run(slow, statements)
    assert _stored(fast) == _stored(slow)


def _stored(executor: CommandExecutor, name: str = "c") -> dict:
    store = executor.client.db[name]._store
    return {key: store.raw(key) for key, _ in store.raw_snapshot()}


def test_documents_are_stored_encoded_and_general_updates_write_back():
    executor = CommandExecutor()
    executor.execute("db", {"insert": "c", "documents": [
        {"_id": i, "n": i, "tags": ["a"], "sub": {"x": i}} for i in range(5)]})
    store = executor.client.db.c._store
    assert store.raw(3) == bson.encode({"_id": 3, "n": 3, "tags": ["a"], "sub": {"x": 3}})
    # mongomock's own update path ($inc, $addToSet, dotted paths) changes dicts in place.
    reply = executor.execute("db", {"update": "c", "updates": [
        {"q": {"n": {"$gte": 2}}, "u": {"$inc": {"n": 10}, "$addToSet": {"tags": "b"},
                                        "$set": {"sub.y": 1}}, "multi": True}]})
    assert (reply["n"], reply["nModified"]) == (3, 3)
    assert bson.decode(store.raw(3)) == {"_id": 3, "n": 13, "tags": ["a", "b"],
                                         "sub": {"x": 3, "y": 1}}
    assert bson.decode(store.raw(1))["n"] == 1
    found = executor.execute("db", {"findAndModify": "c", "query": {"_id": 1},
                                    "update": {"$inc": {"n": 1}}, "new": True})
    assert found["value"]["n"] == 2 and bson.decode(store.raw(1))["n"] == 2
    assert store.data_size == sum(len(store.raw(k)) for k, _ in store.raw_snapshot())


# -- filters and projections answered without mongomock ---------------------------

_WHEN = [dt.datetime(2024, 1, d) for d in (1, 2, 3)]
_VALUES = ["a", "b", "c", True, False, None, *_WHEN, {"x": "a"}, ["a", "b"], [True], ["c", _WHEN[1]],
           [["a"]], []]


def _random_document(rng: random.Random, i: int) -> dict:
    document = {"_id": i}
    for field in ("f", "g", "h"):
        if rng.random() < 0.85:
            document[field] = rng.choice(_VALUES)
    return document


def _random_condition(rng: random.Random):
    scalars = ["a", "b", "c", True, False]
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(scalars)
    if roll < 0.5:
        return {"$eq": rng.choice(scalars)}
    if roll < 0.7:
        return {"$in": rng.sample(scalars, rng.randint(0, 3))}
    operands = ["a", "b", "c"] if rng.random() < 0.5 else _WHEN
    ops = rng.sample(["$gt", "$gte", "$lt", "$lte"], rng.randint(1, 2))
    return {op: rng.choice(operands) for op in ops}


def test_compiled_filters_agree_with_mongomock():
    rng = random.Random(3)
    documents = [_random_document(rng, i) for i in range(300)]
    for _ in range(300):
        filter_doc = {field: _random_condition(rng)
                      for field in rng.sample(["f", "g", "h"], rng.randint(1, 2))}
        test = compile_filter(filter_doc)
        assert test is not None, filter_doc
        for document in documents:
            assert test(document) == filter_applies(filter_doc, document), (filter_doc, document)


@pytest.mark.parametrize("filter_doc", [
    {"a.b": "x"}, {"$or": [{"a": "x"}]}, {"a": 1}, {"a": None}, {"a": {"x": 1}},
    {"a": {"$ne": "x"}}, {"a": {"$in": [1]}}, {"a": {"$gt": 1}}, {"a": {"$exists": True}},
    {"a": {"$gt": dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)}},
])
def test_other_filters_are_left_to_mongomock(filter_doc):
    assert compile_filter(filter_doc) is None


@pytest.mark.parametrize("projection", [
    {"a": 1}, {"a": 1, "_id": 0}, {"_id": 1}, {"_id": 0}, {"a": 0}, {"a": False, "b": 0},
    {"a": True, "missing": 1},
])
def test_compiled_projections_agree_with_mongomock(projection):
    collection = CommandExecutor().client.db.c
    document = {"_id": 1, "a": {"x": 1}, "b": [1, 2], "c": "z"}
    expected = collection._copy_only_fields(document, dict(projection), dict)
    assert compile_projection(projection)(document) == expected


@pytest.mark.parametrize("projection", [{"a.b": 1}, {"a": 1, "b": 0}, {"a": {"$slice": 1}}])
def test_other_projections_are_left_to_mongomock(projection):
    assert compile_projection(projection) is None


def _by_id(documents: list[dict]) -> list[dict]:
    return sorted(documents, key=lambda d: repr(d.get("_id")))


@pytest.mark.parametrize("indexed", [False, True])
def test_find_and_count_agree_with_mongomock(indexed):
    rng = random.Random(5)
    documents = [_random_document(rng, i) for i in range(200)]
    executor = CommandExecutor()
    plain = mongomock.MongoClient().db.c  # mongomock alone: dicts, its own filters
    if indexed:  # before and after the documents: both fill the index
        executor.execute("db", {"createIndexes": "c", "indexes": [
            {"key": {"f": 1, "h": -1}, "name": "f_h"}]})
    executor.execute("db", {"insert": "c", "documents": documents[:100]})
    if indexed:
        executor.execute("db", {"createIndexes": "c", "indexes": [
            {"key": {"g": 1}, "name": "g"}]})
    executor.execute("db", {"insert": "c", "documents": documents[100:]})
    plain.insert_many(documents)
    changes = [{"q": {"_id": i}, "u": {"$set": {"f": rng.choice(_VALUES), "g": "b"}},
                "upsert": True} for i in range(0, 250, 3)]
    changes.append({"q": {"f": "c"}, "u": {"$set": {"g": ["a", True]}}, "multi": True})
    executor.execute("db", {"update": "c", "updates": changes})
    for change in changes:
        plain.update_many(change["q"], change["u"], upsert=change.get("upsert", False))
    executor.execute("db", {"delete": "c", "deletes": [{"q": {"h": "a"}, "limit": 0}]})
    plain.delete_many({"h": "a"})
    for filter_doc, projection in [({}, None), ({"f": "a"}, None), ({"f": "a"}, {"g": 1}),
                                   ({"_id": {"$in": [3, 1, 500]}}, {"f": 0}),
                                   ({"_id": 7, "g": {"$in": ["a", "b"]}}, None),
                                   ({"h": {"$gte": _WHEN[1]}}, {"_id": 0, "h": 1}),
                                   ({"f.x": "a"}, None), ({"g": {"$ne": True}}, {"f": 1}),
                                   ({"g": True}, None), ({"g": {"$in": ["a", False]}}, None),
                                   ({"f": "b", "g": "b"}, {"g": 1}), ({"f": {"$in": []}}, None)]:
        reply = executor.execute("db", {"find": "c", "filter": filter_doc,
                                        "projection": projection, "batchSize": 1000})
        found = [bson.decode(d.raw) for d in reply["cursor"]["firstBatch"]]
        expected = list(plain.find(filter_doc, projection))
        assert _by_id(found) == _by_id(expected), filter_doc
        count = executor.execute("db", {"count": "c", "query": filter_doc})["n"]
        assert count == len(expected)


def test_packed_documents_read_back_the_same():
    # Past the threshold, large documents are compressed behind a head of small fields.
    rng = random.Random(9)
    documents = []
    for i in range(120):
        document = _random_document(rng, i)
        if i % 2:
            document["data"] = {f"p{j}": f"value {i} {j}" for j in range(rng.randint(0, 300))}
        documents.append(document)
    packed, plain = CommandExecutor(compress_above=0), CommandExecutor()
    for executor in (packed, plain):
        # `data` is left out of a packed document's head: its index reads the whole.
        executor.execute("db", {"createIndexes": "c", "indexes": [
            {"key": {"f": 1}, "name": "f"}, {"key": {"data": 1}, "name": "data"}]})
        executor.execute("db", {"insert": "c", "documents": documents})
    store = packed.client.db.c._store
    assert any(type(entry) is Packed for _, entry in store.raw_snapshot())
    assert _stored(packed) == _stored(plain)
    assert store.data_size == plain.client.db.c._store.data_size
    for filter_doc, projection in [({}, None), ({"f": "a"}, {"g": 1}), ({"f": "a"}, {"data": 1}),
                                   ({"data": {"$in": ["x"]}}, {"f": 1}), ({"f": "b"}, {"f": 0}),
                                   ({"data.p1": "value 3 1"}, None), ({"g": True}, None)]:
        replies = [executor.execute("db", {"find": "c", "filter": filter_doc,
                                           "projection": projection, "batchSize": 1000})
                   for executor in (packed, plain)]
        found = [[bson.decode(d.raw) for d in r["cursor"]["firstBatch"]] for r in replies]
        assert found[0] == found[1], filter_doc
    update = {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"f": "z"}}},
                                         {"q": {"g": "a"}, "u": {"$set": {"h": 1}}, "multi": True}]}
    assert packed.execute("db", update) == plain.execute("db", update)
    assert _stored(packed) == _stored(plain)
    after = [executor.execute("db", {"find": "c", "filter": {"f": {"$in": ["z", "a"]}}})
             for executor in (packed, plain)]
    assert after[0]["cursor"]["firstBatch"] == after[1]["cursor"]["firstBatch"]
