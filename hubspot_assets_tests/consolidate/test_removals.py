"""consolidate.removals on its own: merges from survivors' hs_merged_object_ids, and records
gone from every listing marked only on the evidence of complete listings."""

import datetime as dt

from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.extract.records import IdEvidence
from hubspot_assets.timestamps import epoch_ms

from .records import SOURCE, contact, fetched

LATER = "2026-05-01T00:00:00.000Z"


def objects(db):
    return {d["hubspot_id"]: d for d in db[f"source_{SOURCE}_objects"].find()}


def listing(kind, ids, listed_from, complete=True):
    """The id_listing records one listing writes (closed by a marker only when complete)."""
    evidence = IdEvidence("contacts", kind, listed_from)
    records = [r for i in ids for r in evidence.add(str(i))]
    if complete:
        records += list(evidence.close())
    return records


def test_a_survivor_marks_the_ids_merged_into_it_and_a_merge_is_never_undone(db):
    fetched(db, "r1", contact("1", "2026-02-01T00:00:00.000Z"),
            contact("2", "2026-02-01T00:00:00.000Z"), contact("3", "2026-02-01T00:00:00.000Z"))
    consolidate_objects(db, SOURCE, "c1")
    fetched(db, "r2", contact("1", "2026-02-02T00:00:00.000Z", hs_merged_object_ids="2;77"))
    summary = consolidate_objects(db, SOURCE, "c2", overlap_ms=0)
    assert summary.merged == 2
    found = objects(db)
    assert (found["2"]["deleted"], found["2"]["deleted_reason"], found["2"]["merged_into"]) == (
        True, "merged", "1")
    # An id merged before the first sync gets an object saying where it went.
    assert found["77"]["merged_into"] == "1" and found["77"]["properties"] == {}
    assert found["1"]["deleted"] is False and found["1"]["deleted_reason"] is None

    # The survivor merged into 3: every id follows the newest survivor; an old
    # version of the merged-away record (re-read in the overlap) changes nothing.
    fetched(db, "r3", contact("3", "2026-02-03T00:00:00.000Z", hs_merged_object_ids="1;2;77"),
            contact("2", "2026-02-05T00:00:00.000Z"))
    fetched(db, "r4", contact("1", "2026-02-02T00:00:00.000Z", hs_merged_object_ids="2;77"))
    consolidate_objects(db, SOURCE, "c3", full_refresh=True)
    found = objects(db)
    assert {i: found[i]["merged_into"] for i in ("1", "2", "77")} == {"1": "3", "2": "3", "77": "3"}
    assert all(found[i]["deleted_reason"] == "merged" for i in ("1", "2", "77"))


def test_ids_in_no_complete_listing_are_marked_gone_and_revived_when_listed_again(db):
    fetched(db, "r1", contact("1", "2026-02-01T00:00:00.000Z"),
            contact("2", "2026-02-01T00:00:00.000Z", archived=True),
            contact("3", "2026-02-01T00:00:00.000Z"),
            contact("4", LATER))  # changed after the listing began: not judged by it
    consolidate_objects(db, SOURCE, "c1")
    listed_from = epoch_ms("2026-03-01T00:00:00.000Z")
    fetched(db, "r2", *listing("live", [1], listed_from), *listing("archived", [], listed_from))
    summary = consolidate_objects(db, SOURCE, "c2")
    assert summary.reconciliation["reconciled_types"] == ["contacts"]
    assert summary.reconciliation["objects_gone"] == 2
    found = objects(db)
    for i, archived in (("2", True), ("3", False)):
        assert (found[i]["deleted"], found[i]["deleted_reason"], found[i]["archived"]) == (
            True, "gone", archived)
        assert found[i]["gone_since"].replace(tzinfo=dt.timezone.utc) == dt.datetime(
            2026, 3, 1, tzinfo=dt.timezone.utc)
    assert found["1"]["deleted_reason"] is None and found["4"]["deleted_reason"] is None
    # The same evidence is not applied twice; newer evidence listing 3 again revives it.
    assert consolidate_objects(db, SOURCE, "c3").reconciliation["reconciled_types"] == []
    fetched(db, "r3", *listing("live", [1, 3, 4], listed_from + 1),
            *listing("archived", [], listed_from + 1))
    summary = consolidate_objects(db, SOURCE, "c4")
    assert summary.reconciliation["objects_revived"] == 1
    found = objects(db)
    assert (found["3"]["deleted"], found["3"]["deleted_reason"], found["3"]["gone_since"]) == (
        False, None, None)
    assert found["2"]["deleted_reason"] == "gone"


def test_a_listing_that_failed_or_stopped_early_marks_nothing(db):
    fetched(db, "r1", *(contact(str(i), "2026-02-01T00:00:00.000Z") for i in range(1, 5)))
    consolidate_objects(db, SOURCE, "c1")
    listed_from = epoch_ms("2026-03-01T00:00:00.000Z")
    # The live listing stopped after id 1 (no marker); the archived one finished.
    fetched(db, "r2", *listing("live", [1], listed_from, complete=False),
            *listing("archived", [], listed_from))
    summary = consolidate_objects(db, SOURCE, "c2")
    assert summary.reconciliation["reconciliation_skipped"] == {
        "contacts": "no complete live listing"}
    # A marker whose chunks are not all in the run's stream proves nothing either.
    complete = listing("live", [1], listed_from)
    marker = complete[-1]._replace(data={**complete[-1].data, "chunks": 2})
    fetched(db, "r3", *complete[:-1], marker, *listing("archived", [], listed_from))
    summary = consolidate_objects(db, SOURCE, "c3")
    assert "chunks missing" in summary.reconciliation["reconciliation_skipped"]["contacts"]
    assert all(d["deleted"] is False for d in objects(db).values())
