"""The marketing consolidation against a real MongoDB (the stand-in or $MONGODB_URI): a
list's newest sweep decides its members exactly, an unverifiable sweep removes nothing,
a deleted list ends its memberships, a run that read no list changes nothing."""

from hubspot_assets.consolidate.marketing import consolidate_marketing
from hubspot_assets.stream.records import LIST, LIST_MEMBERSHIP, LIST_SWEEP, StreamRecord
from hubspot_assets_tests.consolidate.records import SOURCE, fetched


def searched(list_id):
    return StreamRecord(LIST, "0-1", list_id, {"listId": list_id, "objectTypeId": "0-1",
                                               "additionalProperties": {}}, None)


def member(list_id, record_id):
    return StreamRecord(LIST_MEMBERSHIP, list_id, record_id,
                        {"recordId": record_id, "membershipTimestamp": "2026-01-01T00:00:00Z"})


def sweep(list_id, at, count):
    return StreamRecord(LIST_SWEEP, list_id, f"{list_id}@{at}",
                        {"listId": list_id, "objectTypeId": "0-1", "members": count,
                         "sweptAt": at}, at)


def run(db, run_id, lists, events):
    fetched(db, run_id, *lists)
    fetched(db, run_id, *events, stage="events")
    return consolidate_marketing(db, SOURCE, f"c-{run_id}")


def active(db, list_id):
    return {d["record_id"] for d in db[f"source_{SOURCE}_list_memberships"].find(
        {"list_id": list_id, "removed": False})}


def test_the_newest_sweep_decides_a_lists_members(db):
    run(db, "r1", [searched("1")], [member("1", "a"), member("1", "b"),
                                    sweep("1", "2026-01-01T00:00:00.000Z", 2)])
    summary = run(db, "r2", [searched("1")], [member("1", "b"), member("1", "c"),
                                              sweep("1", "2026-01-02T00:00:00.000Z", 2)])
    assert active(db, "1") == {"b", "c"}
    assert summary.memberships_added == 1 and summary.memberships_removed == 1
    lists = db[f"source_{SOURCE}_lists"]
    assert lists.find_one({"_id": "1"})["member_count"] == 2
    # a later run that did not read the list again leaves it as it was
    summary = run(db, "r3", [searched("1")], [])
    assert active(db, "1") == {"b", "c"} and summary.lists_swept == 0


def test_a_sweep_whose_members_do_not_add_up_removes_nothing(db):
    run(db, "r1", [searched("1")], [member("1", "a"), member("1", "b"),
                                    sweep("1", "2026-01-01T00:00:00.000Z", 2)])
    summary = run(db, "r2", [searched("1")], [member("1", "a"),
                                              sweep("1", "2026-01-02T00:00:00.000Z", 5)])
    assert active(db, "1") == {"a", "b"}
    assert len(summary.lists_not_consolidated) == 1
    assert "counted 5 members" in summary.lists_not_consolidated[0]


def test_a_deleted_list_ends_its_memberships(db):
    run(db, "r1", [searched("1"), searched("2")],
        [member("2", "x"), sweep("2", "2026-01-01T00:00:00.000Z", 1)])
    summary = run(db, "r2", [searched("1")], [])
    lists = db[f"source_{SOURCE}_lists"]
    assert lists.find_one({"_id": "2"})["removed"] is True
    assert active(db, "2") == set() and summary.memberships_removed == 1


def test_a_run_that_read_no_list_changes_nothing(db):
    run(db, "r1", [searched("1")], [member("1", "a"), sweep("1", "2026-01-01T00:00:00.000Z", 1)])
    summary = run(db, "r2", [], [])
    assert db[f"source_{SOURCE}_lists"].find_one({"_id": "1"})["removed"] is False
    assert active(db, "1") == {"a"} and "no list" in summary.lists_reason
