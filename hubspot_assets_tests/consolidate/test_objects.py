"""consolidate.objects on its own (no Dagster, no HubSpot): stream versions in, current
objects out."""

import datetime as dt

import pymongo

from hubspot_assets.consolidate.objects import consolidate_objects

from .records import NOW, SOURCE, contact, fetched


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


def test_a_watermark_the_objects_no_longer_back_means_a_full_refresh(db):
    fetched(db, "r1", *(contact(i, "2026-02-01T00:00:00.000Z") for i in "12"))
    assert consolidate_objects(db, SOURCE, "c1").mode == "full"
    db.drop_collection(f"source_{SOURCE}_objects")  # an old backup, an empty node
    again = consolidate_objects(db, SOURCE, "c2")
    assert again.mode == "full" and "holds 0 documents, 2 when" in again.metadata()["mode_reason"]
    assert (again.new, db[f"source_{SOURCE}_objects"].count_documents({})) == (2, 2)
    watermarks = db["watermarks"]
    for corrupt in ("yesterday", dt.datetime(2999, 1, 1)):
        watermarks.update_one({"stage": "consolidated_objects"},
                              {"$set": {"fetched_through": corrupt}})
        summary = consolidate_objects(db, SOURCE, "c3")
        assert summary.mode == "full" and "watermark ignored" in summary.reason
    assert consolidate_objects(db, SOURCE, "c4").mode == "incremental"


def test_a_stub_becomes_an_object_marked_data_omitted_and_versions_still_order(db):
    fetched(db, "r1", contact("1", "2026-02-01T00:00:00.000Z", email="a@x"))
    consolidate_objects(db, SOURCE, "c1")
    # A newer version MongoDB cannot store (a NUL in a property name): a stub.
    fetched(db, "r2", contact("1", "2026-02-02T00:00:00.000Z", **{"bad\x00": "x"}),
            contact("2", "2026-02-02T00:00:00.000Z", archived=True, **{"bad\x00": "x"}))
    summary = consolidate_objects(db, SOURCE, "c2")
    assert (summary.stubs, summary.changed, summary.new, summary.deleted) == (2, 1, 0, 1)
    objects = db[f"source_{SOURCE}_objects"]
    stub = objects.find_one({"_id": "contacts|1"})
    assert "NUL" in stub["data_omitted"] and stub["properties"] == {}
    assert stub["updated_at"] is not None and not stub["deleted"]
    assert objects.find_one({"_id": "contacts|2"})["deleted"]
    # A later good version replaces the stub and clears the mark.
    fetched(db, "r3", contact("1", "2026-02-03T00:00:00.000Z", email="b@x"))
    consolidate_objects(db, SOURCE, "c3")
    assert objects.find_one({"_id": "contacts|1"})["data_omitted"] is None
