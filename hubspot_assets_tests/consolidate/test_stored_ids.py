"""consolidate.stored_ids on its own: the ids the events fallback reads, before and after
consolidation has folded the read in."""

import datetime as dt

from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.consolidate.stored_ids import StoredIds
from hubspot_assets.mongo.stored_stream import latest_stream

from .records import NOW, SOURCE, contact, fetched


def read_of(db):
    return latest_stream(db, SOURCE, "object_records")


def test_after_a_full_read_its_own_documents_are_the_ids_each_once(db):
    # Contact 2 changed while it was read: two versions, one id; 3 is archived.
    fetched(db, "full", contact("1", "2026-02-01T00:00:00.000Z"),
            contact("2", "2026-02-01T00:00:00.000Z", email="a@x"),
            contact("2", "2026-02-02T00:00:00.000Z", email="b@x"),
            contact("3", "2026-02-01T00:00:00.000Z", archived=True))
    ids = StoredIds(db, SOURCE, read_of(db), complete=True)
    assert list(ids.of("contacts")) == ["1", "2", "3"]
    # Nothing consolidated yet: events need not wait for it.
    assert db[f"source_{SOURCE}_objects"].count_documents({}) == 0
    assert list(ids.of("companies")) == []


def test_after_an_incremental_read_the_changes_come_with_the_consolidated_ids(db):
    fetched(db, "first", *(contact(i, "2026-02-01T00:00:00.000Z") for i in "1234"),
            at=NOW - dt.timedelta(hours=2))
    consolidate_objects(db, SOURCE, "c1")
    fetched(db, "next", contact("2", "2026-02-05T00:00:00.000Z", archived=True),
            contact("5", "2026-02-05T00:00:00.000Z"), contact("3", "2026-02-05T00:00:00.000Z"),
            at=NOW)
    for consolidated in (False, True):  # before and after consolidation: the same answer
        if consolidated:
            consolidate_objects(db, SOURCE, "c2")
        ids = list(StoredIds(db, SOURCE, read_of(db), complete=False).of("contacts"))
        assert sorted(ids) == ["1", "2", "3", "4", "5"]
        assert len(ids) == len(set(ids)), "each id once: one read per object"


def test_a_full_read_ignores_what_only_the_consolidated_collection_still_holds(db):
    fetched(db, "first", contact("1", "2026-02-01T00:00:00.000Z"),
            contact("9", "2026-02-01T00:00:00.000Z"), at=NOW - dt.timedelta(hours=2))
    consolidate_objects(db, SOURCE, "c1")
    # A full re-sync no longer lists 9 (merged away, or deleted for good).
    fetched(db, "resync", contact("1", "2026-02-01T00:00:00.000Z"), at=NOW)
    assert list(StoredIds(db, SOURCE, read_of(db), complete=True).of("contacts")) == ["1"]
    assert sorted(StoredIds(db, SOURCE, read_of(db), complete=False).of("contacts")) == [
        "1", "9"]
