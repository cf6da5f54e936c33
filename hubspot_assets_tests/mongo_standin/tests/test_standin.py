"""The MongoDB stand-in answers what pymongo 4.20 sends, as a real server would.

Each test talks to `mongo_uri` over the wire: the stand-in subprocess, or a
real MongoDB when MONGODB_URI is set (these tests must pass on both).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import bson
import pymongo
import pytest
from pymongo import DeleteMany, DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from hubspot_assets_tests.mongo_standin.process import StandinProcess


def test_handshake_and_server_commands(mongo_client):
    assert mongo_client.admin.command("ping")["ok"] == 1
    hello = mongo_client.admin.command("hello")
    assert hello["isWritablePrimary"] is True
    assert 9 <= hello["maxWireVersion"]
    info = mongo_client.server_info()
    assert info["versionArray"][0] >= 4
    assert "databases" in mongo_client.admin.command("listDatabases")


def test_crud_round_trip(db):
    coll = db.items
    assert coll.insert_one({"_id": 1, "a": {"b": [1, 2]}}).inserted_id == 1
    coll.insert_many([{"_id": i, "n": i} for i in range(2, 12)])
    assert coll.find_one({"_id": 1}) == {"_id": 1, "a": {"b": [1, 2]}}
    assert coll.update_one({"_id": 2}, {"$set": {"n": 20}}).modified_count == 1
    assert coll.update_one({"_id": 2}, {"$set": {"n": 20}}).modified_count == 0
    assert coll.update_many({"n": {"$gte": 5}}, {"$inc": {"n": 1}}).matched_count == 8
    assert coll.replace_one({"_id": 3}, {"x": "y"}).modified_count == 1
    assert coll.find_one({"_id": 3}) == {"_id": 3, "x": "y"}
    assert coll.delete_one({"_id": 4}).deleted_count == 1
    assert coll.delete_many({"n": {"$gt": 10}}).deleted_count == 3
    assert coll.count_documents({}) == 7
    assert coll.estimated_document_count() == 7
    assert [d["_id"] for d in coll.find({}, {"_id": 1}).sort("_id", -1).limit(3)] == [9, 8, 7]
    assert coll.find_one({"_id": 5}, {"n": 1, "_id": 0}) == {"n": 6}


def test_cursor_batches_get_more_and_kill(db, watched_client, command_log):
    db.many.insert_many([{"_id": i} for i in range(2500)])
    coll = watched_client[db.name].many
    command_log.clear()
    assert sum(1 for _ in coll.find({}, batch_size=1000)) == 2500
    assert command_log.count("find") == 1 and command_log.count("getMore") == 2
    command_log.clear()
    cursor = coll.find({}, batch_size=100)
    next(cursor)
    cursor.close()  # an open server cursor must be killed
    assert command_log.count("killCursors") == 1
    # Default first batch (101) then the rest in getMore batches.
    assert len(list(coll.find({"_id": {"$lt": 500}}))) == 500
    assert list(coll.find({}).skip(2490).sort("_id", 1))[0]["_id"] == 2490


def test_unordered_bulk_upserts_report_per_operation(db):
    coll = db.bulk
    coll.insert_one({"_id": "a", "v": 1})
    result = coll.bulk_write([
        UpdateOne({"_id": "a"}, {"$set": {"v": 1}}, upsert=True),   # matched, unchanged
        UpdateOne({"_id": "b"}, {"$set": {"v": 2}}, upsert=True),   # upserted
        UpdateOne({"_id": "a"}, {"$set": {"v": 3}}, upsert=True),   # matched, modified
        InsertOne({"_id": "c"}),
        ReplaceOne({"_id": "d"}, {"v": 4}, upsert=True),            # upserted
        DeleteOne({"_id": "c"}),
    ], ordered=False)
    assert (result.matched_count, result.modified_count) == (2, 1)
    assert result.upserted_ids == {1: "b", 4: "d"}
    assert (result.inserted_count, result.deleted_count) == (1, 1)
    coll.bulk_write([DeleteMany({})])
    assert coll.count_documents({}) == 0


def test_upsert_operators_used_by_the_io_manager(db):
    coll = db.ops
    update = {"$setOnInsert": {"first": 1}, "$set": {"last": 1},
              "$push": {"tags": {"$each": ["t1"], "$slice": -2}}}
    coll.update_one({"_id": "x"}, update, upsert=True)
    update2 = {"$setOnInsert": {"first": 2}, "$set": {"last": 2},
               "$push": {"tags": {"$each": ["t2"], "$slice": -2}}}
    coll.update_one({"_id": "x"}, update2, upsert=True)
    coll.update_one({"_id": "x"}, {**update2, "$push": {"tags": {"$each": ["t3"], "$slice": -2}}},
                    upsert=True)
    assert coll.find_one({"_id": "x"}) == {"_id": "x", "first": 1, "last": 2, "tags": ["t2", "t3"]}
    with pytest.raises(OperationFailure):  # the same path under two operators
        coll.update_one({"_id": "x"}, {"$set": {"a": 1}, "$setOnInsert": {"a": 2}}, upsert=True)


def test_unique_index_duplicate_keys_are_per_operation_errors(db):
    coll = db.uniq
    coll.create_index("email", unique=True, name="email_unique")
    coll.insert_one({"_id": 1, "email": "a"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 2, "email": "a"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": 1, "email": "z"})
    with pytest.raises(BulkWriteError) as info:
        coll.bulk_write([
            UpdateOne({"_id": 3}, {"$set": {"email": "b"}}, upsert=True),
            UpdateOne({"_id": 4}, {"$set": {"email": "a"}}, upsert=True),  # duplicate
            InsertOne({"_id": 5, "email": "c"}),
            InsertOne({"_id": 6, "email": "c"}),                            # duplicate
        ], ordered=False)
    details = info.value.details
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(1, 11000), (3, 11000)]
    assert details["nUpserted"] == 1 and details["nInserted"] == 1
    with pytest.raises(BulkWriteError) as info:
        coll.insert_many([{"_id": 7, "email": "a"}, {"_id": 8, "email": "d"}], ordered=True)
    assert info.value.details["nInserted"] == 0  # ordered: stops at the first error
    assert sorted(d["_id"] for d in coll.find()) == [1, 3, 5]


def test_indexes_and_collections(db):
    coll = db.indexed
    assert coll.create_index([("a", 1), ("b", -1)], name="a_b") == "a_b"
    assert coll.create_index([("a", 1), ("b", -1)], name="a_b") == "a_b"  # idempotent
    names = {i["name"]: i for i in coll.list_indexes()}
    assert set(names) == {"_id_", "a_b"}
    assert list(names["a_b"]["key"].items()) == [("a", 1), ("b", -1)]
    db.create_collection("explicit")
    assert {"indexed", "explicit"} <= set(db.list_collection_names())
    assert db.list_collection_names(filter={"name": "explicit"}) == ["explicit"]
    coll.drop_index("a_b")
    assert [i["name"] for i in coll.list_indexes()] == ["_id_"]
    db.drop_collection("explicit")
    assert "explicit" not in db.list_collection_names()
    assert list(db.missing.list_indexes()) == []


def test_count_distinct_and_aggregation(db):
    coll = db.agg
    coll.insert_many([{"_id": i, "k": i % 3, "v": i} for i in range(30)])
    assert coll.count_documents({"k": 1}) == 10
    assert coll.count_documents({}, skip=5, limit=10) == 10
    assert sorted(coll.distinct("k")) == [0, 1, 2]
    assert sorted(coll.distinct("v", {"k": 2}))[:2] == [2, 5]
    grouped = list(coll.aggregate([
        {"$match": {"v": {"$gte": 3}}},
        {"$group": {"_id": "$k", "n": {"$sum": 1}, "top": {"$max": "$v"}}},
        {"$sort": {"_id": 1}},
        {"$project": {"n": 1, "top": 1}},
        {"$limit": 2},
    ]))
    assert grouped == [{"_id": 0, "n": 9, "top": 27}, {"_id": 1, "n": 9, "top": 28}]
    assert list(coll.aggregate([{"$match": {"k": 0}}, {"$count": "zeros"}])) == [{"zeros": 10}]
    roots = list(coll.aggregate([{"$match": {"_id": 4}},
                                 {"$replaceRoot": {"newRoot": {"value": "$v"}}}]))
    assert roots == [{"value": 4}]
    coll.aggregate([{"$match": {"k": 2}}, {"$out": "agg_out"}])
    assert db.agg_out.count_documents({}) == 10
    db.agg_merged.insert_one({"_id": 2, "keep": True})
    coll.aggregate([{"$match": {"k": 2}}, {"$project": {"v": 1}},
                    {"$merge": {"into": "agg_merged", "whenMatched": "merge"}}])
    assert db.agg_merged.count_documents({}) == 10
    assert db.agg_merged.find_one({"_id": 2}) == {"_id": 2, "keep": True, "v": 2}


def test_equality_and_ranges_compare_within_one_bson_type(db):
    coll = db.types
    coll.insert_many([{"_id": 1, "f": False}, {"_id": 2, "f": 0}, {"_id": 3, "f": ["a", False]},
                      {"_id": 4, "f": "a"}, {"_id": 5}, {"_id": 6, "f": {"g": "a"}}])
    for indexed in (False, True):
        assert sorted(d["_id"] for d in coll.find({"f": False})) == [1, 3], indexed
        assert sorted(d["_id"] for d in coll.find({"f": {"$in": ["a", True]}})) == [3, 4]
        assert sorted(d["_id"] for d in coll.find({"f": {"$gte": "a"}}, {"_id": 1})) == [3, 4]
        assert coll.count_documents({"f": "a"}) == 2
        coll.create_index("f")


def test_find_and_modify(db):
    coll = db.fam
    coll.insert_many([{"_id": 1, "n": 1}, {"_id": 2, "n": 2}])
    assert coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 10}}) == {"_id": 1, "n": 1}
    assert coll.find_one_and_update({"_id": 1}, {"$inc": {"n": 10}},
                                    return_document=ReturnDocument.AFTER) == {"_id": 1, "n": 21}
    assert coll.find_one_and_update({"_id": 9}, {"$set": {"n": 9}}, upsert=True) is None
    assert coll.find_one({"_id": 9}) == {"_id": 9, "n": 9}
    assert coll.find_one_and_replace({"_id": 2}, {"m": 1}, projection={"_id": 0},
                                     return_document=ReturnDocument.AFTER) == {"m": 1}
    assert coll.find_one_and_delete({}, sort=[("_id", -1)]) == {"_id": 9, "n": 9}
    assert coll.find_one_and_delete({"_id": 99}) is None


def test_unknown_command_and_drop_database(mongo_client, db):
    with pytest.raises(OperationFailure) as info:
        db.command("noSuchCommandAnywhere")
    assert info.value.code == 59
    db.x.insert_one({})
    assert db.name in mongo_client.list_database_names()
    mongo_client.drop_database(db.name)
    assert db.name not in mongo_client.list_database_names()


def test_unacknowledged_writes(mongo_uri, db):
    client = pymongo.MongoClient(mongo_uri, w=0)
    try:
        client[db.name].w0.insert_many([{"_id": i} for i in range(50)])
        client[db.name].w0.update_one({"_id": 1}, {"$set": {"x": 1}})
    finally:
        client.close()
    # w=0 gives no acknowledgement; the next acknowledged read on another
    # connection may race, so poll briefly.
    import time

    deadline = time.monotonic() + 5
    while db.w0.count_documents({}) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.w0.count_documents({}) == 50


def test_concurrent_clients(mongo_uri, db):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        client = pymongo.MongoClient(mongo_uri, maxPoolSize=4)
        try:
            coll = client[db.name].shared
            for i in range(200):
                coll.update_one({"_id": f"{n}-{i}"}, {"$inc": {"hits": 1}}, upsert=True)
                coll.find_one({"_id": f"{n}-{i // 2}"})
            sum(1 for _ in coll.find({}, batch_size=50))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert db.shared.count_documents({}) == 1600


def test_command_line_prints_uri_and_stops_on_sigterm():
    standin = StandinProcess().start()
    try:
        assert standin.uri.startswith("mongodb://127.0.0.1:")
        client = pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=5000)
        assert client.admin.command("ping")["ok"] == 1
        client.close()
    finally:
        assert standin.stop() == 0  # SIGTERM: a clean exit, not a kill


def test_command_line_help():
    out = subprocess.run([sys.executable, "-m", "hubspot_assets_tests.mongo_standin", "--help"],
                         capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert out.returncode == 0 and "--port" in out.stdout and "stand-in" in out.stdout


def test_in_process_standin_context_manager():
    from hubspot_assets_tests.mongo_standin import MongoStandin

    with MongoStandin() as standin:
        client = pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=5000)
        client.t.c.insert_one({"_id": 1})
        assert client.t.c.count_documents({}) == 1
        client.close()
    with pytest.raises(RuntimeError):
        standin.uri


def test_handshakes_are_answered_while_a_long_command_runs():
    """MongoDB answers hello and ping while another connection's command runs. pymongo
    depends on it: a monitor check that times out resets the pool and cancels the
    commands in flight, so a command longer than the connect timeout would cancel itself."""
    from hubspot_assets_tests.mongo_standin import MongoStandin

    with MongoStandin() as standin:
        client = pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=5000,
                                     connectTimeoutMS=1000, heartbeatFrequencyMS=500,
                                     retryReads=False)
        client.t.c.insert_one({"_id": 1})
        held, release = threading.Event(), threading.Event()

        def long_command():  # what a long aggregate does to the others: hold the lock
            with standin.executor.lock:
                held.set()
                release.wait(10)

        worker = threading.Thread(target=long_command)
        worker.start()
        try:
            assert held.wait(5)
            started = time.monotonic()
            # Answered while the lock is held (it is released only after these): a reply
            # that waited for the lock would hit this client's 2 s socket timeout.
            with pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=2000,
                                     socketTimeoutMS=2000) as prompt:
                assert prompt.admin.command("ping")["ok"] == 1.0
                assert prompt.admin.command("hello")["isWritablePrimary"] is True
            # A data command waits its turn, and outlives several monitor checks with a
            # 1 s deadline each: not cancelled (no read retry here to hide it).
            threading.Timer(3.0, release.set).start()
            assert client.t.c.find_one({"_id": 1}) == {"_id": 1}
            assert time.monotonic() - started >= 2.5
        finally:
            release.set()
            worker.join()
            client.close()


LIMIT = 16 * 1024 * 1024  # MongoDB's BSON document limit


def padded(doc_id, size, **fields):
    """A document of exactly ``size`` BSON bytes."""
    base = {"_id": doc_id, **fields, "pad": ""}
    return {**base, "pad": "x" * (size - len(bson.encode(base)))}


def test_documents_over_16_mib_are_refused_with_mongodbs_codes(db):
    coll = db.limits
    exact = padded(1, LIMIT)
    assert len(bson.encode(exact)) == LIMIT
    coll.insert_one(exact)  # 16 MiB exactly is allowed ...
    with pytest.raises(BulkWriteError) as refused:  # ... one byte more is not
        coll.bulk_write([InsertOne(padded(2, LIMIT + 1)), InsertOne({"_id": 3})], ordered=False)
    assert [e["code"] for e in refused.value.details["writeErrors"]] == [10334]
    assert refused.value.details["nInserted"] == 1
    # An upsert whose new document is too large: 17420; an update that grows one: 17419.
    big = padded(4, LIMIT + 1)
    with pytest.raises(BulkWriteError) as refused:
        coll.bulk_write([UpdateOne({"_id": 4}, {"$setOnInsert": {"pad": big["pad"]}},
                                   upsert=True)], ordered=False)
    assert refused.value.details["writeErrors"][0]["code"] == 17420
    coll.insert_one({"_id": 5, "n": 1})
    for update in ({"$set": {"pad": big["pad"]}}, {"$set": {"pad": big["pad"]}, "$inc": {"n": 1}}):
        with pytest.raises(OperationFailure) as refused:
            coll.update_one({"_id": 5}, update)
        assert refused.value.code == 17419
    assert coll.find_one({"_id": 5}) == {"_id": 5, "n": 1}  # a refused update changes nothing
    assert sorted(coll.distinct("_id")) == [1, 3, 5]
