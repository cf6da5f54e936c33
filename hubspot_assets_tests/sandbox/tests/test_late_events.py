"""Events on several object types, events sent late, and an account that wants one
record per events query."""

from __future__ import annotations

import pytest

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, truth
from hubspot_assets_tests.sandbox.encoding import parse_time

from .helpers import Http
from .test_events import _all

HOUR = 3_600_000
NOW = 1_780_000_000_000  # 2026-05-28


def _spec(**kwargs):
    return AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes={"contacts": 40, "companies": 10,
                                                         "deals": 12}, events_per_type=30, **kwargs)


@pytest.fixture
def late(sandbox_factory):
    return sandbox_factory(accounts=[_spec(late_event_lags_ms=(3 * HOUR, 30 * HOUR))],
                           ten_second_limit=10_000)


def test_events_happen_to_companies_and_deals_too(late):
    account = late.account(DEMO_PORTAL_ID)
    http = Http(late)
    on = {name: {e["objectType"] for e in truth.iter_events(account, name)} for name in account.events}
    assert on[f"pe{DEMO_PORTAL_ID}_company_signal"] == {"company"}
    assert on[f"pe{DEMO_PORTAL_ID}_deal_milestone"] == {"deal"}
    assert on["e_visited_page"] == {"contact"}
    deal = next(truth.iter_events(account, f"pe{DEMO_PORTAL_ID}_deal_milestone"))
    ids = {r["id"] for r in truth.iter_records(account, "deals")}
    assert deal["objectId"] in ids
    # One deal's events, without eventType: every type that happens to deals.
    mine = _all(http, objectType="deal", objectId=deal["objectId"], sort="ASCENDING")
    assert mine and {e["eventType"] for e in mine} == {deal["eventType"]}
    assert all(e["objectId"] == deal["objectId"] for e in mine)
    assert _all(http, objectType="0-3", objectId=deal["objectId"], sort="ASCENDING") == mine


def test_late_events_slot_in_by_occurred_at_and_paging_survives_them(late):
    account = late.account(DEMO_PORTAL_ID)
    http = Http(late)
    name = "e_visited_page"
    first_page = http.get("/events/v3/events", {"eventType": name, "limit": 7,
                                                "sort": "ASCENDING"}).json()
    step = late.advance(DEMO_PORTAL_ID, now_ms=NOW)
    assert len(step["events_late"][name]) == 2 and len(step["events_late"]) == len(account.events)
    late_events = dict((e["id"], ms) for e, ms in truth.iter_late_events(account, name))
    assert sorted(late_events.values()) == [3 * HOUR, 30 * HOUR]
    everything = _all(http, eventType=name, sort="ASCENDING")
    assert everything == list(truth.iter_events(account, name))
    times = [parse_time(e["occurredAt"]) for e in everything]
    assert times == sorted(times)
    # The late ones lie among the older events: behind the five sent on time.
    assert [e["id"] for e in everything[-7:-5]] == sorted(late_events, key=lambda i: -late_events[i])
    assert _all(http, eventType=name, limit=4) == everything[::-1]
    # A cursor taken before the late events arrived still pages on without a gap.
    rest = _all(http, eventType=name, sort="ASCENDING", after=first_page["paging"]["next"]["after"])
    assert first_page["results"] + rest == everything
    # Within a lookback of a day, the one three hours late; not the one 30 hours late.
    within = {e["id"] for e in truth.iter_events(account, name, late_by_at_most=24 * HOUR)}
    assert {i for i, ms in late_events.items() if i in within} == {
        i for i, ms in late_events.items() if ms == 3 * HOUR}
    since = NOW - 24 * HOUR
    window = _all(http, eventType=name, occurredAfter=str(since), sort="ASCENDING")
    assert window == [e for e in everything if parse_time(e["occurredAt"]) > since]
    assert len(window) == 6  # five on time and the one three hours late


def test_an_account_that_wants_one_record_per_query(sandbox_factory):
    server = sandbox_factory(accounts=[_spec(events_need_object=True)], ten_second_limit=10_000)
    http = Http(server)
    for params in ({"eventType": "e_visited_page"}, {"eventType": "e_visited_page",
                                                     "objectType": "contact"}):
        response = http.get("/events/v3/events", params)
        assert response.status_code == 400
        body = response.json()
        assert body["category"] == "VALIDATION_ERROR" and body["correlationId"]
        assert "objectId" in body["message"] and {e["in"] for e in body["errors"]} == {
            "objectId", "objectType"}
    account = server.account(DEMO_PORTAL_ID)
    event = next(truth.iter_events(account, "e_opened_email"))
    mine = _all(http, eventType="e_opened_email", objectType="contact",
                objectId=event["objectId"], sort="ASCENDING")
    assert event in mine
