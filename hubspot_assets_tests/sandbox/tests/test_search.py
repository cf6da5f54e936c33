"""Search: filters, groups, sorts, limits, the 10,000 cap, archived, equal timestamps."""

from __future__ import annotations

import pytest

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, truth
from hubspot_assets_tests.sandbox.encoding import parse_time

from .helpers import Http


@pytest.fixture(scope="module")
def sb():
    from hubspot_assets_tests.fixtures.sandbox import make_sandbox_config
    from hubspot_assets_tests.sandbox import SandboxServer
    server = SandboxServer(make_sandbox_config(
        sizes={"contacts": 400, "companies": 30}, search_per_second=10_000)).start()
    # Changed and created records must be found through the overlay too.
    server.advance(DEMO_PORTAL_ID, now_ms=1_750_000_000_000)
    yield server
    server.stop()


def _truth(sb, type_="contacts"):
    out = []
    for r in truth.iter_records(sb.account(DEMO_PORTAL_ID), type_):
        out.append((parse_time(r["updatedAt"]), int(r["id"])))
    return out


def _search_all(http, body, type_="contacts"):
    ids, after = [], None
    while True:
        req = dict(body, limit=body.get("limit", 200))
        if after:
            req["after"] = after
        r = http.search(type_, req)
        assert r.status_code == 200, r.text
        page = r.json()
        ids += [int(x["id"]) for x in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            return ids, page["total"]


@pytest.mark.parametrize("op,pick", [
    ("EQ", lambda lm, v: lm == v), ("GT", lambda lm, v: lm > v), ("GTE", lambda lm, v: lm >= v),
    ("LT", lambda lm, v: lm < v), ("LTE", lambda lm, v: lm <= v),
])
def test_lastmodified_operators_match_truth(sb, op, pick):
    records = _truth(sb)
    pivot = sorted(records)[len(records) // 2][0]
    for prop, value in (("hs_lastmodifieddate", str(pivot)), ("lastmodifieddate", str(pivot))):
        ids, total = _search_all(Http(sb), {"filterGroups": [{"filters": [
            {"propertyName": prop, "operator": op, "value": value}]}], "sorts": ["hs_object_id"]})
        expected = sorted(rid for lm, rid in records if pick(lm, pivot))
        assert ids == expected and total == len(expected) and expected


def test_between_iso_values_and_sort_by_lastmodified(sb):
    records = sorted(_truth(sb))
    lo, hi = records[50][0], records[300][0]
    from hubspot_assets_tests.sandbox.encoding import iso_ms
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "BETWEEN",
                                           "value": iso_ms(lo), "highValue": str(hi)}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 37}
    ids, total = _search_all(Http(sb), body)
    expected = [rid for lm, rid in records if lo <= lm <= hi]
    assert ids == expected and total == len(expected)
    body["sorts"] = [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
    desc, _ = _search_all(Http(sb), body)
    assert desc == [rid for lm, rid in sorted(((lm, rid) for lm, rid in records if lo <= lm <= hi),
                                              reverse=True)]
    body["sorts"] = ["-hs_object_id"]
    by_id_desc, _ = _search_all(Http(sb), body)
    assert by_id_desc == sorted(expected, reverse=True)


def test_filter_groups_are_or_of_ands(sb):
    records = _truth(sb)
    lm_mid = sorted(records)[200][0]
    body = {"filterGroups": [
        {"filters": [{"propertyName": "hs_object_id", "operator": "LTE", "value": "20"},
                     {"propertyName": "hs_object_id", "operator": "GT", "value": "10"}]},
        {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(lm_mid)},
                     {"propertyName": "hs_object_id", "operator": "LT", "value": "300"}]},
    ], "sorts": ["hs_object_id"]}
    ids, total = _search_all(Http(sb), body)
    expected = sorted(rid for lm, rid in records if (10 < rid <= 20) or (lm >= lm_mid and rid < 300))
    assert ids == expected and total == len(expected)
    ins = Http(sb).search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "IN", "values": ["1", "2", "4"]}]}]}).json()
    live = {rid for _, rid in records}
    assert [r["id"] for r in ins["results"]] == [str(i) for i in (1, 2, 4) if i in live]


def test_archived_records_never_appear(sb):
    ids, total = _search_all(Http(sb), {})
    archived = {int(r["id"]) for r in truth.iter_records(sb.account(DEMO_PORTAL_ID), "contacts", archived=True)}
    assert archived and archived.isdisjoint(ids)
    assert sorted(ids) == sorted(rid for _, rid in _truth(sb)) and total == len(ids)


def test_limits_properties_and_validation(sb):
    http = Http(sb)
    page = http.search("contacts", {"limit": 200, "properties": ["email", "firstname"]}).json()
    assert len(page["results"]) == 200 and page["paging"]["next"]["after"] == "200"
    assert set(page["results"][0]["properties"]) == {"email", "firstname", "createdate",
                                                     "lastmodifieddate", "hs_object_id"}
    default = http.search("contacts", {}).json()
    assert len(default["results"]) == 10
    assert set(default["results"][0]["properties"]) == {"createdate", "email", "firstname", "hs_object_id",
                                                        "lastmodifieddate", "lastname"}
    assert http.search("contacts", {"limit": 201}).status_code == 400
    bad = http.search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": "yesterday"}]}]})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_search_responses_carry_no_rate_limit_headers(sb):
    r = Http(sb).search("contacts", {})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("x-hubspot-ratelimit")]
    listing = Http(sb).get("/crm/v3/objects/contacts")
    assert "X-HubSpot-RateLimit-Remaining" in listing.headers


def test_ten_thousand_cap_and_bulk_import_cluster(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 21_000}, search_per_second=10_000)
    store = sb.account(DEMO_PORTAL_ID).store("contacts")
    assert store.bulk_len == 10_500
    ms = store.base_lastmod(store.bulk_start)
    http = Http(sb)
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "EQ",
                                           "value": str(ms)}]}],
            "sorts": ["hs_lastmodifieddate"], "limit": 200, "after": "9800"}
    page = http.search("contacts", body).json()
    assert page["total"] > 10_000  # more records on one millisecond than search can page through
    assert len(page["results"]) == 200 and page["paging"]["next"]["after"] == "10000"
    past = http.search("contacts", dict(body, after="10000"))
    assert past.status_code == 400
    err = past.json()
    assert err["status"] == "error" and err["category"] == "VALIDATION_ERROR" and err["correlationId"]
    # Tie-breaking by hs_object_id windows gets past the cluster.
    last_id = int(page["results"][-1]["id"])
    nxt = http.search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(ms)},
        {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)}]}],
        "sorts": ["hs_object_id"], "limit": 10}).json()
    assert nxt["total"] == page["total"] - 10_000 and int(nxt["results"][0]["id"]) > last_id


def test_advance_bulk_import_on_one_millisecond(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 50}, search_per_second=10_000)
    summary = sb.advance(DEMO_PORTAL_ID, now_ms=1_760_000_000_000, bulk_import=10_200)
    ms = summary["bulk_import"]["hs_lastmodifieddate"]
    page = Http(sb).search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(ms)}]}]}).json()
    assert page["total"] == 10_200
