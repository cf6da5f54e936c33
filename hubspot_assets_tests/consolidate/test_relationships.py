"""consolidate.relationships on its own: the latest association sweep in, current edges out."""

from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.consolidate.relationships import consolidate_relationships
from hubspot_assets.stream.records import OBJECT, StreamRecord

from .records import SOURCE, active, edge, fetched, swept


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


def test_a_stubbed_edge_is_kept_marked_not_a_crash(db):
    bad = edge("1", "101")
    bad.data["associationTypes"].append({"label": "x", "bad\x00key": 1})
    summary = swept(db, "s1", bad, edge("2", "102"))
    assert (summary.read, summary.new, summary.stubs, summary.unreadable) == (2, 2, 1, 0)
    stored = db[f"source_{SOURCE}_relationships"].find_one({"_id": "contacts|1|companies|101"})
    assert "NUL" in stored["data_omitted"] and not stored["removed"]
