"""Change over time: advance updates, archives, creates, re-links and adds events."""

from __future__ import annotations

import requests

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, truth

from .helpers import Http

SIZES = {"contacts": 200, "companies": 15, "deals": 30}
NOW = 1_770_000_000_000


def _snapshot(account, type_):
    return {r["id"]: r for r in truth.iter_records(account, type_)}


def test_advance_changes_records_links_and_events(sandbox_factory):
    sb = sandbox_factory(sizes=SIZES, ten_second_limit=10_000, search_per_second=10_000)
    account = sb.account(DEMO_PORTAL_ID)
    before = {t: _snapshot(account, t) for t in ("contacts", "companies")}
    links_before = set((f, t["toObjectId"]) for f, t in truth.iter_associations(account, "contacts", "companies"))
    events_before = len(list(truth.iter_events(account, "e_visited_page")))

    r = requests.post(f"{sb.url}/_sandbox/advance/{DEMO_PORTAL_ID}", json={"now": NOW}, timeout=30)
    assert r.status_code == 200
    summary = r.json()
    assert summary["step"] == 1 and summary["now"] == NOW
    updated, archived, created = (summary[k]["contacts"] for k in ("updated", "archived", "created"))
    assert updated and archived and created

    http = Http(sb)
    after = _snapshot(account, "contacts")
    for rid in updated:
        assert after[rid]["updatedAt"] > before["contacts"][rid]["updatedAt"]
        assert after[rid]["properties"] != before["contacts"][rid]["properties"]
    assert set(archived).isdisjoint(after)
    archived_listing = {r["id"] for r in http.get("/crm/v3/objects/contacts", {"archived": "true", "limit": 100}).json()["results"]}
    assert set(archived) <= archived_listing
    assert set(created) <= set(after)
    # Incremental search sees exactly the updated and created records.
    found = http.search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(NOW)}]}], "limit": 200}).json()
    assert {x["id"] for x in found["results"]} == set(updated) | set(created)

    # Associations changed, yet no untouched record's last-modified date moved.
    links_after = set((f, t["toObjectId"]) for f, t in truth.iter_associations(account, "contacts", "companies"))
    assert links_after != links_before
    assert summary["associations_added"]["contacts->companies"] > 0
    assert summary["associations_removed"]["contacts->companies"] > 0
    touched = set(updated) | set(created) | set(archived)
    for type_, old in before.items():
        now = _snapshot(account, type_)
        touched_t = touched if type_ == "contacts" else set(
            summary["updated"][type_] + summary["created"][type_] + summary["archived"][type_])
        for rid, rec in old.items():
            if rid not in touched_t:
                assert now[rid]["updatedAt"] == rec["updatedAt"]
    assert len(list(truth.iter_events(account, "e_visited_page"))) == events_before + 5
    api_events = http.get("/events/v3/events", {"eventType": "e_visited_page", "limit": 5}).json()["results"]
    assert api_events[0]["occurredAt"] > "2025"  # newest first: the new events


def test_advance_is_deterministic(sandbox_factory):
    a = sandbox_factory(sizes=SIZES)
    b = sandbox_factory(sizes=SIZES)
    for step in range(3):
        sa = a.advance(DEMO_PORTAL_ID, now_ms=NOW + step * 60_000)
        sb_ = b.advance(DEMO_PORTAL_ID, now_ms=NOW + step * 60_000)
        assert sa == sb_
    assert a.truth(DEMO_PORTAL_ID) == b.truth(DEMO_PORTAL_ID)
    c = sandbox_factory(sizes=SIZES, seed=2)
    assert c.advance(DEMO_PORTAL_ID, now_ms=NOW)["updated"] != a.account(DEMO_PORTAL_ID).advance(now_ms=NOW)["updated"]


def test_advance_uses_wall_clock_by_default(sandbox_factory):
    import time
    sb = sandbox_factory(sizes=SIZES)
    t0 = int(time.time() * 1000)
    first = sb.advance(DEMO_PORTAL_ID)
    second = sb.advance(DEMO_PORTAL_ID)
    assert first["now"] >= t0 and second["now"] > first["now"]
    multi = requests.post(f"{sb.url}/_sandbox/advance/{DEMO_PORTAL_ID}", json={"steps": 2}, timeout=30).json()
    assert [s["step"] for s in multi["steps"]] == [3, 4]
