"""Consolidation on its own (no Dagster, no HubSpot): stream documents in, current state out."""

import datetime as dt

import pymongo
import pytest

from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.consolidate.relationships import consolidate_relationships
from hubspot_assets.incremental.watermarks import WatermarkStore
from hubspot_assets.mongo.documents import OBJECT, RELATIONSHIP, StreamRecord
from hubspot_assets.mongo.writer import write_stream

SOURCE = "acme"
NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.timezone.utc)


@pytest.fixture
def db(mongo_client: pymongo.MongoClient, mongo_database: str):
    return mongo_client[mongo_database]


def contact(hubspot_id, updated, archived=False, **properties):
    data = {"id": hubspot_id, "properties": properties, "createdAt": "2026-01-01T00:00:00.000Z",
            "updatedAt": updated, "archived": archived}
    if archived:
        data["archivedAt"] = "2026-03-01T00:00:00.000Z"
    return StreamRecord(OBJECT, "contacts", hubspot_id, data, updated)


def fetched(db, run_id, *records, stage="object_records", at=None):
    """Store records as a stage run would (at a given time, optionally)."""
    write_stream(db, SOURCE, stage, run_id, records,
                 clock=lambda: at or dt.datetime.now(dt.timezone.utc))


def test_the_newest_version_wins_whatever_the_order_and_reruns_change_nothing(db):
    fetched(db, "r1", contact("1", "2026-02-02T00:00:00.000Z", email="new@x"),
            contact("2", "2026-01-05T00:00:00.000Z", email="b@x"))
    fetched(db, "r2", contact("1", "2026-02-01T00:00:00.000Z", email="old@x"))
    first = consolidate_objects(db, SOURCE, "c1")
    assert (first.mode, first.new, first.changed, first.deleted) == ("full", 2, 0, 0)
    objects = db[f"source_{SOURCE}_objects"]
    assert objects.find_one({"object_type": "contacts", "hubspot_id": "1"})["properties"] == {
        "email": "new@x"}
    for again in (consolidate_objects(db, SOURCE, "c2"),
                  consolidate_objects(db, SOURCE, "c3", full_refresh=True)):
        assert (again.new, again.changed, again.deleted) == (0, 0, 0)
    assert objects.count_documents({}) == 2


def test_archived_records_are_marked_deleted_and_changes_counted(db):
    fetched(db, "r0", contact("9", "2026-01-09T00:00:00.000Z"), at=NOW - dt.timedelta(hours=1))
    fetched(db, "r1", contact("1", "2026-02-01T00:00:00.000Z", email="a@x"),
            contact("2", "2026-02-01T00:00:00.000Z", email="b@x"), at=NOW)
    consolidate_objects(db, SOURCE, "c1")
    # Archiving may leave updatedAt as it was: the archived version still wins the tie.
    fetched(db, "r2", contact("1", "2026-02-01T00:00:00.000Z", archived=True, email="a@x"),
            contact("2", "2026-02-03T00:00:00.000Z", email="b2@x"),
            contact("3", "2026-02-03T00:00:00.000Z", email="c@x"), at=NOW + dt.timedelta(hours=1))
    second = consolidate_objects(db, SOURCE, "c2", overlap_ms=0)
    assert (second.mode, second.new, second.changed, second.deleted) == ("incremental", 1, 1, 1)
    # Read from the watermark on (inclusive): r1's batch and r2's, not r0's.
    assert second.read == 2 + 3
    gone = db[f"source_{SOURCE}_objects"].find_one({"hubspot_id": "1"})
    assert gone["deleted"] and gone["archived"] and gone["archived_at"] is not None
    assert gone["properties"] == {"email": "a@x"}


def edge(from_id, to_id, *labels, to_type="companies"):
    types = [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None},
             *({"category": "USER_DEFINED", "typeId": 9, "label": label} for label in labels)]
    data = {"fromObjectType": "contacts", "fromObjectId": from_id, "toObjectType": to_type,
            "toObjectId": to_id, "associationTypes": types}
    return StreamRecord(RELATIONSHIP, "contacts", from_id, data, None)


def swept(db, run_id, *edges, completed=("contacts->companies", "contacts->deals"),
          incomplete=()):
    fetched(db, run_id, *edges, stage="relationships")
    WatermarkStore(db).commit(SOURCE, "relationships", {
        "run_id": run_id, "units": {}, "completed": list(completed),
        "incomplete": list(incomplete)})
    return consolidate_relationships(db, SOURCE, f"c-{run_id}")


def active(db):
    edges = db[f"source_{SOURCE}_relationships"]
    return {(e["from_id"], e["to_type"], e["to_id"], tuple(e["labels"]))
            for e in edges.find({"removed": False})}


def test_edges_follow_the_latest_complete_sweep(db):
    first = swept(db, "s1", edge("1", "10"), edge("2", "10", "Boss"), edge("3", "20"),
                  edge("4", "30", to_type="deals"))
    assert (first.new, first.changed, first.removed) == (4, 0, 0)

    # 1->10 gone (its company was deleted), 2->10 relabelled, 3->20 unchanged,
    # 4->30 missing from an incomplete pair, 5->20 new.
    fetched(db, "r1", StreamRecord(OBJECT, "companies", "10", {
        "id": "10", "properties": {}, "updatedAt": "2026-02-01T00:00:00.000Z",
        "archived": True}, None))
    consolidate_objects(db, SOURCE, "c1")
    second = swept(db, "s2", edge("2", "10", "Champion"), edge("3", "20"), edge("5", "20"),
                   completed=["contacts->companies"], incomplete=["contacts->deals"])
    assert (second.new, second.changed, second.removed) == (1, 1, 1)
    assert second.pairs_skipped == ["contacts->deals"]
    assert active(db) == {("2", "companies", "10", ("Champion",)), ("3", "companies", "20", ()),
                          ("5", "companies", "20", ()), ("4", "deals", "30", ())}
    removed = db[f"source_{SOURCE}_relationships"].find_one({"removed": True})
    assert (removed["from_id"], removed["to_deleted"], removed["from_deleted"]) == (
        "1", True, False)

    # Back again: restored, not duplicated; a re-run of the same sweep changes nothing.
    third = swept(db, "s3", edge("1", "10"), edge("2", "10", "Champion"), edge("3", "20"),
                  edge("5", "20"), edge("4", "30", to_type="deals"))
    assert (third.new, third.changed, third.removed) == (0, 1, 0)
    assert len(active(db)) == 5
    again = consolidate_relationships(db, SOURCE, "c-again")
    assert (again.new, again.changed, again.removed) == (0, 0, 0)
    assert db[f"source_{SOURCE}_relationships"].count_documents({}) == 5


def test_a_sweep_without_a_record_of_its_completed_pairs_removes_nothing(db):
    swept(db, "s1", edge("1", "10"), edge("2", "10"))
    fetched(db, "s2", edge("2", "10"), stage="relationships")  # no watermark for s2
    summary = consolidate_relationships(db, SOURCE, "c2")
    assert summary.removed == 0
    assert len(active(db)) == 2


def test_a_stale_version_never_replaces_a_newer_one_on_the_server(db):
    # What protects concurrent consolidations: the condition travels with the write.
    objects = db["versions"]
    objects.insert_one({"_id": "contacts|1", "version": "002", "properties": {"v": 2}})
    stale = pymongo.UpdateOne({"_id": "contacts|1", "version": {"$lt": "001"}},
                              {"$set": {"version": "001", "properties": {"v": 1}}})
    newer = pymongo.UpdateOne({"_id": "contacts|1", "version": {"$lt": "003"}},
                              {"$set": {"version": "003", "properties": {"v": 3}}})
    assert objects.bulk_write([stale]).modified_count == 0
    assert objects.find_one()["properties"] == {"v": 2}
    assert objects.bulk_write([newer]).modified_count == 1
    assert objects.find_one()["properties"] == {"v": 3}
