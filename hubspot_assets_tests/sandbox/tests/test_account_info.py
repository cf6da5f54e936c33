"""`GET /account-info/v3/details`: the account the token selects, rate-limited like any call."""

from __future__ import annotations

from hubspot_assets_tests.sandbox import AccountSpec

from .helpers import Http

# Every field HubSpot's spec marks required, with its JSON type.
REQUIRED = {"portalId": int, "accountType": str, "timeZone": str, "companyCurrency": str,
            "additionalCurrencies": list, "utcOffset": str, "utcOffsetMilliseconds": int,
            "uiDomain": str, "dataHostingLocation": str}


def test_details_name_the_account_of_each_token(sandbox_factory):
    sb = sandbox_factory(accounts=[AccountSpec(101, "tok-a", extra_tokens=("tok-a2",)),
                                   AccountSpec(202, "tok-b")])
    portals = {}
    for token in ("tok-a", "tok-a2", "tok-b"):
        reply = Http(sb, token).get("/account-info/v3/details")
        assert reply.status_code == 200
        body = reply.json()
        assert {k: type(body[k]) for k in REQUIRED} == REQUIRED
        portals[token] = body["portalId"]
    assert portals == {"tok-a": 101, "tok-a2": 101, "tok-b": 202}
    assert Http(sb, "nobody").get("/account-info/v3/details").status_code == 401


def test_details_count_against_the_rate_limits(sandbox_factory):
    sb = sandbox_factory(ten_second_limit=3, window_seconds=5.0)
    http = Http(sb)
    statuses = [http.get("/account-info/v3/details").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    stats = sb.stats()
    assert stats["by_endpoint"]["account.details"] == {"200": 3, "429": 1}
    assert max(stats["peak_window_requests"].values()) == 4


def test_details_refused_without_the_scope(sandbox_factory):
    sb = sandbox_factory(denied_types={"account-info"})
    reply = Http(sb).get("/account-info/v3/details")
    assert reply.status_code == 403 and reply.json()["category"] == "MISSING_SCOPES"
