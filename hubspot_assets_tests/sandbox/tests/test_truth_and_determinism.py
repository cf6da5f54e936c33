"""Ground truth equals what the API serves; data is a pure function of the seed."""

from __future__ import annotations

import hashlib
import json

import requests

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, truth
from hubspot_assets_tests.sandbox.catalog import STANDARD_OBJECT_TYPES

from .helpers import Http, all_property_names


def _digest(items):
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    return h.hexdigest()


def test_truth_endpoint_matches_a_full_sync_through_the_api(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 120, "companies": 25}, ten_second_limit=10_000)
    http = Http(sb)
    t = requests.get(f"{sb.url}/_sandbox/truth/{DEMO_PORTAL_ID}", timeout=60).json()
    names = all_property_names(http, "companies")
    merged: dict[str, dict] = {}
    for archived in (False, True):
        for start in range(0, len(names), 100):
            for rec in http.list_all("companies", names[start:start + 100], archived=archived):
                merged.setdefault(rec["id"], {**rec, "properties": {}})["properties"].update(rec["properties"])
    live = [r for r in merged.values() if not r["archived"]]
    gone = [r for r in merged.values() if r["archived"]]
    assert len(live) == t["objects"]["companies"]["live"] and len(gone) == t["objects"]["companies"]["archived"]
    assert _digest(live) == t["checksums"]["objects"]["companies"]
    assert _digest(gone) == t["checksums"]["archived"]["companies"]
    events = []
    after = None
    while True:
        params = {"eventType": "e_form_submission_v2", "sort": "ASCENDING", "limit": 100}
        if after:
            params["after"] = after
        body = http.get("/events/v3/events", params).json()
        events += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert _digest(events) == t["checksums"]["events"]["e_form_submission_v2"]
    assert t["associations"]["contacts->companies"] == t["associations"]["companies->contacts"] > 0
    assert set(STANDARD_OBJECT_TYPES) <= set(t["objects"])


def test_same_seed_same_data_other_seed_other_data(sandbox_factory):
    spec = dict(sizes={"contacts": 80})
    a, b, c = sandbox_factory(**spec), sandbox_factory(**spec), sandbox_factory(seed=9, **spec)
    page = {"limit": 50, "properties": "email,firstname,hs_analytics_first_touch_converting_campaign"}
    ra, rb, rc = (Http(s).get("/crm/v3/objects/contacts", page).json()["results"] for s in (a, b, c))
    assert ra == rb and ra != rc  # (paging links name each server's own port)
    assert a.truth(DEMO_PORTAL_ID) == b.truth(DEMO_PORTAL_ID)
    spec_obj = AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes={"contacts": 80})
    offline = truth.summary(truth.account_from_spec(spec_obj))
    assert offline == a.truth(DEMO_PORTAL_ID)


def test_large_sizes_start_fast_and_page_anywhere(sandbox_factory):
    import time
    t0 = time.perf_counter()
    sb = sandbox_factory(sizes={"contacts": 5_000_000, "companies": 200_000})
    assert time.perf_counter() - t0 < 1.0
    t = sb.truth(DEMO_PORTAL_ID, checksums=False, associations=False)
    assert t["objects"]["contacts"]["live"] + t["objects"]["contacts"]["archived"] == 5_000_000
    http = Http(sb)
    body = http.search("contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "GT", "value": "4999990"}]}]}).json()
    assert body["total"] == 10 - sum(1 for i in range(4_999_990, 5_000_000)
                                     if sb.account(DEMO_PORTAL_ID).store("contacts").base_archived(i))
    big = http.post("/crm/v4/associations/companies/contacts/batch/read", {"inputs": [{"id": "100000001"}]}).json()
    assert len(big["results"][0]["to"]) == 500 and "paging" in big["results"][0]


def test_unknown_type_names_in_a_spec_are_rejected():
    import pytest
    with pytest.raises(ValueError, match="contact"):
        truth.account_from_spec(AccountSpec(1, "t", sizes={"contact": 5}))
    with pytest.raises(ValueError, match="deal"):
        truth.account_from_spec(AccountSpec(1, "t", denied_types={"deal"}))
    ok = truth.account_from_spec(AccountSpec(1, "t", sizes={"pets": 3, "p1_vehicles": 4, "0-3": 5}))
    assert [ok.store(t).n for t in ("p1_pets", "2-1000011", "deals")] == [3, 4, 5]
