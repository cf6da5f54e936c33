"""Rate limits: rolling window per token, search per second, daily per account, stats."""

from __future__ import annotations

import time

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec

from .helpers import Http

RATE_HEADERS = ("X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining",
                "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Max",
                "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Secondly",
                "X-HubSpot-RateLimit-Secondly-Remaining")


def test_rolling_window_429_then_frees(sandbox_factory):
    # A 2 s window: long enough that a loaded machine still sends 11 requests inside it.
    sb = sandbox_factory(ten_second_limit=8, window_seconds=2.0)
    http = Http(sb)
    first = http.get("/crm/v3/objects/companies")
    assert all(h in first.headers for h in RATE_HEADERS)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "8"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "7"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "2000"
    statuses = [http.get("/crm/v3/objects/companies").status_code for _ in range(9)]
    assert statuses[:7] == [200] * 7 and statuses[7:] == [429, 429]
    limited = http.get("/crm/v3/objects/companies")
    body = limited.json()
    assert limited.status_code == 429
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["status"] == "error" and body["correlationId"] and body["requestId"]
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    time.sleep(2.05)  # the scaled-down window has rolled past every admitted request
    assert http.get("/crm/v3/objects/companies").status_code == 200
    stats = sb.stats()
    assert stats["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 3}
    assert stats["by_endpoint"]["objects.list"] == {"200": 9, "429": 3}
    assert stats["peak_window_requests"][DEMO_TOKEN] >= 11
    assert stats["total"] == 12


def test_window_is_per_token_and_daily_per_account(sandbox_factory):
    sb = sandbox_factory(accounts=[AccountSpec(DEMO_PORTAL_ID, "app-a", extra_tokens=("app-b",),
                                               sizes={"contacts": 10})],
                         ten_second_limit=3, daily_limit=5, window_seconds=30.0)
    a, b = Http(sb, "app-a"), Http(sb, "app-b")
    assert [a.get("/crm/v3/objects/contacts").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [b.get("/crm/v3/objects/contacts").status_code for _ in range(3)] == [200, 200, 429]
    daily = b.get("/crm/v3/objects/contacts")
    assert daily.json()["policyName"] == "DAILY"
    assert daily.json()["message"] == "You have reached your daily limit."
    assert daily.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_search_budget_is_per_second_without_headers(sandbox_factory):
    sb = sandbox_factory(search_per_second=3, window_seconds=5.0)  # search "second" = 0.5 s
    http = Http(sb)
    got = [http.search("contacts", {}) for _ in range(6)]
    codes = [r.status_code for r in got]
    assert 429 in codes and codes[:3] == [200, 200, 200]
    limited = next(r for r in got if r.status_code == 429)
    assert limited.json()["policyName"] == "SECONDLY"
    assert not [h for h in limited.headers if h.lower().startswith("x-hubspot-ratelimit")]
    time.sleep(0.55)
    assert http.search("contacts", {}).status_code == 200
    # Searches do not spend the burst window.
    assert http.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Remaining"] == "189"


def test_settings_change_limits_at_runtime_and_stats_reset(sandbox_factory):
    import requests
    sb = sandbox_factory(ten_second_limit=2, window_seconds=30.0)
    http = Http(sb)
    assert [http.get("/crm/v3/objects/contacts").status_code for _ in range(3)] == [200, 200, 429]
    r = requests.post(sb.url + "/_sandbox/settings", json={"ten_second_limit": 5}, timeout=10)
    assert r.json()["ten_second_limit"] == 5
    assert http.get("/crm/v3/objects/contacts").status_code == 200
    assert requests.post(sb.url + "/_sandbox/settings", json={"bogus": 1}, timeout=10).status_code == 400
    requests.post(sb.url + "/_sandbox/stats/reset", timeout=10)
    assert requests.get(sb.url + "/_sandbox/stats", timeout=10).json()["total"] == 0
    assert http.get("/crm/v3/objects/contacts").headers["X-HubSpot-RateLimit-Remaining"] == "4"
