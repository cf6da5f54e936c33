"""Events: types, both list paths, filters, cursor paging, sort."""

from __future__ import annotations

import pytest

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, truth
from hubspot_assets_tests.sandbox.encoding import iso_ms, parse_time

from .helpers import Http


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 40}, events_per_type=75, ten_second_limit=10_000)


def _all(http, path="/events/v3/events", **params):
    out, after = [], None
    while True:
        p = dict(params, limit=params.get("limit", 20))
        if after:
            p["after"] = after
        r = http.get(path, p)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


def test_event_types(sb):
    types = Http(sb).get("/events/v3/events/event-types").json()["eventTypes"]
    assert len(types) >= 3
    assert any(t.startswith("e_") for t in types)
    assert f"pe{DEMO_PORTAL_ID}_custom_event" in types


@pytest.mark.parametrize("path", ["/events/v3/events", "/events/v3/events/"])
def test_paging_matches_truth_both_paths(sb, path):
    http = Http(sb)
    account = sb.account(DEMO_PORTAL_ID)
    for name in account.events:
        got = _all(http, path, eventType=name, sort="ASCENDING")
        assert got == list(truth.iter_events(account, name))
        assert len(got) == 75
        newest_first = _all(http, path, eventType=name, limit=33)
        assert newest_first == got[::-1]


def test_time_and_object_filters(sb):
    http = Http(sb)
    account = sb.account(DEMO_PORTAL_ID)
    events = list(truth.iter_events(account, "e_visited_page"))
    lo, hi = events[10]["occurredAt"], events[40]["occurredAt"]
    window = _all(http, eventType="e_visited_page", occurredAfter=lo, occurredBefore=hi, sort="ASCENDING")
    assert window == events[11:40]
    as_ms = _all(http, eventType="e_visited_page", occurredAfter=str(parse_time(lo)), sort="ASCENDING")
    assert as_ms == events[11:]
    target = events[5]["objectId"]
    mine = _all(http, eventType="e_visited_page", objectType="contact", objectId=target, sort="ASCENDING")
    assert mine == [e for e in events if e["objectId"] == target] and mine
    assert _all(http, eventType="e_visited_page", objectType="companies") == []
    everything = _all(http, limit=50)
    assert len(everything) == 75 * len(account.events)
    assert iso_ms(parse_time(lo)) == lo


def test_property_values_are_strings_never_null(sb):
    events = _all(Http(sb), eventType="e_visited_page", limit=100)
    assert events and all(isinstance(v, str) for e in events for v in e["properties"].values())
    # Some page views have no referrer: the property is absent, not null.
    assert any("hs_referrer" not in e["properties"] for e in events)
    assert any("hs_referrer" in e["properties"] for e in events)


def test_default_order_newest_first_and_both_sort_spellings(sb):
    http = Http(sb)
    default = [e["occurredAt"] for e in _all(http, eventType="e_visited_page")]
    assert default == sorted(default, reverse=True)
    for word, newest_first in (("DESCENDING", True), ("-occurredAt", True), ("ASCENDING", False),
                               ("occurredAt", False)):
        got = [e["occurredAt"] for e in _all(http, eventType="e_visited_page", sort=word)]
        assert got == sorted(default, reverse=newest_first), word


def test_next_link_is_absolute_and_followable(sb):
    http = Http(sb)
    first = http.get("/events/v3/events", {"eventType": "e_visited_page", "limit": 10,
                                           "sort": "ASCENDING"}).json()
    link = first["paging"]["next"]["link"]
    assert link.startswith(sb.url + "/events/v3/events?") and "eventType=e_visited_page" in link
    followed = http.session.get(link, timeout=30).json()
    assert len(followed["results"]) == 10
    assert followed["results"][0]["occurredAt"] > first["results"][-1]["occurredAt"]
