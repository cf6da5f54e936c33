"""Stand-in internals without the wire: the fast paths agree with mongomock."""

from __future__ import annotations

import random

import pytest

from hubspot_assets.mongo.standin import commands as commands_module
from hubspot_assets.mongo.standin.commands import CommandExecutor
from hubspot_assets.mongo.standin.cursors import CursorRegistry
from hubspot_assets.mongo.standin.fastpaths import id_lookup


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
    monkeypatch.setattr(commands_module, "fast_upsert", lambda collection, statement: None)
    slow = CommandExecutor()
    slow_replies = _run(slow, statements)
    assert fast_replies == slow_replies

    def documents(executor):
        return sorted(executor.client.db.c.find(), key=lambda d: d["_id"])

    assert documents(fast) == documents(slow)


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
    monkeypatch.setattr("hubspot_assets.mongo.standin.cursors.IDLE_TIMEOUT_S", -1)
    registry.first_batch("db.c", iter([]), 3)  # opening a cursor reaps idle ones
    assert len(registry) == 0


def test_batches_stop_at_the_reply_size_limit(monkeypatch):
    monkeypatch.setattr("hubspot_assets.mongo.standin.cursors.MAX_BATCH_BYTES", 1000)
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
