"""Records leaving HubSpot: merges, permanent deletes, archive expiry, restores (AccountSpec.removals)."""

from __future__ import annotations

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, truth

from hubspot_assets.timestamps import epoch_ms as truth_ms

from .helpers import Http

SIZES = {"contacts": 300, "companies": 40, "deals": 40, "tickets": 20}
NOW = 1_770_000_000_000
DAY = 86_400_000


def _ids(records):
    return {r["id"] for r in records}


def _links(account, from_type, to_type):
    return {(f, str(t["toObjectId"])) for f, t in truth.iter_associations(account, from_type, to_type)}


def test_merge_moves_the_record_and_its_associations_to_the_survivor(sandbox_factory):
    sb = sandbox_factory(sizes=SIZES, removals=True)
    account = sb.account(DEMO_PORTAL_ID)
    http = Http(sb)
    before = _links(account, "contacts", "companies")
    step = sb.advance(DEMO_PORTAL_ID, now_ms=NOW)
    (merge,) = step["merged"]["contacts"]
    away, survivor = merge["id"], merge["into"]
    # Gone from the live and the archived listing, from batch read and single reads.
    assert away not in _ids(http.list_all("contacts", ["hs_object_id"]))
    assert away not in _ids(http.list_all("contacts", ["hs_object_id"], archived=True))
    read = http.post("/crm/v3/objects/contacts/batch/read",
                     {"inputs": [{"id": away}, {"id": survivor}],
                      "properties": ["hs_merged_object_ids"]})
    assert read.status_code == 207
    assert [r["id"] for r in read.json()["results"]] == [survivor]
    assert read.json()["results"][0]["properties"]["hs_merged_object_ids"] == away
    assert http.get(f"/crm/v3/objects/contacts/{away}").status_code == 404
    # The survivor changed (the incremental search finds it) and holds the associations.
    assert read.json()["results"][0]["updatedAt"] >= "2026"
    moved = {c for f, c in before if f == away}
    after = _links(account, "contacts", "companies")
    assert not {(f, c) for f, c in after if f == away}
    assert {(survivor, c) for c in moved} <= after
    assert truth.object_states(account, "contacts")[away] == ("merged", survivor)

    # A survivor merged again carries every id merged into it, and the first id follows it.
    for step_no in range(2, 40):
        step = sb.advance(DEMO_PORTAL_ID, now_ms=NOW + step_no * 60_000)
        chain = [m for m in step["merged"]["contacts"] if m["id"] == survivor]
        if chain:
            top = chain[0]["into"]
            assert truth.object_states(account, "contacts")[away] == ("merged", top)
            record = http.get(f"/crm/v3/objects/contacts/{top}",
                              {"properties": "hs_merged_object_ids"}).json()
            assert {away, survivor} <= set(record["properties"]["hs_merged_object_ids"].split(";"))
            break


def test_deletes_restores_and_expiry_reach_every_listing(sandbox_factory):
    sb = sandbox_factory(sizes=SIZES, removals=True, archive_retention_days=1)
    account = sb.account(DEMO_PORTAL_ID)
    http = Http(sb)
    base_archived = _ids(truth.iter_records(account, "deals", archived=True))
    assert base_archived
    step = sb.advance(DEMO_PORTAL_ID, now_ms=NOW)
    # Base archives are years old: all past the retention window at once.
    assert base_archived <= set(step["expired"]["deals"]) | set(step["restored"]["deals"]) \
        | set(step["deleted"]["deals"])
    archived_by_advance, expired, restored = set(step["archived"]["deals"]), set(), set()
    for k in range(1, 7):  # half a day apart: a record archived at step k expires by step k+2
        now = NOW + k * DAY // 2
        step = sb.advance(DEMO_PORTAL_ID, now_ms=now)
        archived_by_advance |= set(step["archived"]["deals"])
        expired |= set(step["expired"]["deals"])
        restored |= set(step["restored"]["deals"])
        listed = http.list_all("deals", ["hs_object_id"], archived=True)
        assert all(truth_ms(r["archivedAt"]) >= now - DAY for r in listed)
    assert expired & archived_by_advance
    live = _ids(http.list_all("deals", ["hs_object_id"]))
    archived = _ids(http.list_all("deals", ["hs_object_id"], archived=True))
    states = truth.object_states(account, "deals")
    assert live == {i for i, (s, _) in states.items() if s == "live"}
    assert archived == {i for i, (s, _) in states.items() if s == "archived"}
    gone = {g["id"]: g["reason"] for g in truth.iter_gone(account, "deals")}
    assert {"expired", "deleted", "merged"} <= set(gone.values())
    assert set(gone).isdisjoint(live | archived)
    summary = truth.summary(account, checksums=False)["objects"]["deals"]
    assert (summary["live"], summary["archived"], summary["gone"]) == (
        len(live), len(archived), len(gone))
    # Search (the incremental read) agrees with the listing, restored records included.
    found = http.search("deals", {"filterGroups": [], "limit": 200,
                                  "properties": ["hs_object_id"]}).json()
    assert found["total"] == len(live)
    assert restored and restored - set(gone) - archived <= live


def test_removals_are_deterministic_and_off_by_default(sandbox_factory):
    a = sandbox_factory(sizes=SIZES, removals=True)
    b = sandbox_factory(sizes=SIZES, removals=True)
    for k in range(3):
        assert a.advance(DEMO_PORTAL_ID, now_ms=NOW + k) == b.advance(DEMO_PORTAL_ID, now_ms=NOW + k)
    assert a.truth(DEMO_PORTAL_ID) == b.truth(DEMO_PORTAL_ID)
    plain = sandbox_factory(sizes=SIZES)
    step = plain.advance(DEMO_PORTAL_ID, now_ms=NOW)
    assert "merged" not in step
    assert truth.summary(plain.account(DEMO_PORTAL_ID), checksums=False)["objects"]["contacts"]["gone"] == 0
