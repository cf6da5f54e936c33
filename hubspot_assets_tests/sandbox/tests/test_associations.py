"""v4 associations: batch read, per-input paging, 207 errors, the 1,000-input cap, labels."""

from __future__ import annotations

import pytest

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, truth

from .helpers import Http


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 300, "companies": 20, "deals": 40, "pets": 25},
                           big_company_contacts=130, association_page_size=50,
                           ten_second_limit=10_000)


def _read_all(http, from_type, to_type, ids):
    """Every association of ids, following per-input paging; also returns raw pages."""
    got: dict[str, list] = {}
    pending = [{"id": i} for i in ids]
    bodies = []
    while pending:
        r = http.post(f"/crm/v4/associations/{from_type}/{to_type}/batch/read", {"inputs": pending})
        assert r.status_code in (200, 207), r.text
        body = r.json()
        bodies.append((r.status_code, body))
        pending = []
        for res in body["results"]:
            got.setdefault(res["from"]["id"], []).extend(res["to"])
            if "paging" in res:
                pending.append({"id": res["from"]["id"], "after": res["paging"]["next"]["after"]})
    return got, bodies


def _expected(account, from_type, to_type):
    out: dict[str, list] = {}
    for from_id, to in truth.iter_associations(account, from_type, to_type):
        out.setdefault(from_id, []).append(to)
    return out


@pytest.mark.parametrize("from_type,to_type", [
    ("companies", "contacts"), ("contacts", "companies"), ("deals", "contacts"),
    ("contacts", "deals"), (f"p{DEMO_PORTAL_ID}_pets", "contacts"), ("contacts", "0-2"),
])
def test_batch_read_matches_truth_with_paging(sb, from_type, to_type):
    http = Http(sb)
    account = sb.account(DEMO_PORTAL_ID)
    from_ids = [r["id"] for r in truth.iter_records(account, from_type)]
    got, _ = _read_all(http, from_type, to_type, from_ids)
    assert got == _expected(account, from_type, to_type)
    assert got  # every direction has associations


def test_big_company_pages_and_shapes(sb):
    http = Http(sb)
    company = "100000001"  # the first company holds the big block of contacts
    r = http.post("/crm/v4/associations/companies/contacts/batch/read", {"inputs": [{"id": company}]})
    assert r.status_code == 200
    res = r.json()["results"][0]
    assert len(res["to"]) == 50 and res["paging"]["next"]["after"]
    assert all(isinstance(t["toObjectId"], int) for t in res["to"])
    got, bodies = _read_all(http, "companies", "contacts", [company])
    assert len(bodies) >= 3 and len(got[company]) > 100
    assert len({t["toObjectId"] for t in got[company]}) == len(got[company])
    kinds = {(a["category"], a["label"]) for t in got[company] for a in t["associationTypes"]}
    assert ("HUBSPOT_DEFINED", None) in kinds and ("HUBSPOT_DEFINED", "Primary") in kinds
    assert any(cat == "USER_DEFINED" and label for cat, label in kinds)
    body = r.json()
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]


def test_no_associations_found_is_a_207(sb):
    http = Http(sb)
    account = sb.account(DEMO_PORTAL_ID)
    lonely = next(r["id"] for r in truth.iter_records(account, "contacts")
                  if not account.pair("contacts", "companies")[0].parents(int(r["id"]) - 1))
    r = http.post("/crm/v4/associations/contacts/companies/batch/read",
                  {"inputs": [{"id": "1"}, {"id": lonely}]})
    assert r.status_code == 207
    body = r.json()
    assert body["numErrors"] == 1 and [x["from"]["id"] for x in body["results"]] == ["1"]
    err = body["errors"][0]
    assert err["status"] == "error" and err["category"] == "OBJECT_NOT_FOUND"
    assert err["subCategory"] == "crm.associations.NO_ASSOCIATIONS_FOUND"
    assert err["context"] == {"fromObjectId": [lonely]}


def test_input_cap_is_one_thousand(sb):
    http = Http(sb)
    ok = http.post("/crm/v4/associations/contacts/companies/batch/read",
                   {"inputs": [{"id": str(i)} for i in range(1, 1001)]})
    assert ok.status_code == 207  # ids beyond the account answer NO_ASSOCIATIONS_FOUND
    too_many = http.post("/crm/v4/associations/contacts/companies/batch/read",
                         {"inputs": [{"id": str(i)} for i in range(1, 1002)]})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"


def test_both_directions_agree(sb):
    account = sb.account(DEMO_PORTAL_ID)
    forward = {(f, t["toObjectId"]) for f, t in truth.iter_associations(account, "contacts", "companies")}
    reverse = {(str(t["toObjectId"]), int(f)) for f, t in truth.iter_associations(account, "companies", "contacts")}
    assert forward == reverse and forward


def test_labels_both_paths(sb):
    http = Http(sb)
    a = http.get("/crm/v4/associations/contacts/companies/labels").json()
    b = http.get("/crm/associations/v4/contacts/companies/labels").json()
    assert a == b
    assert {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None} in a["results"]
    assert {"category": "USER_DEFINED", "typeId": 34, "label": "Decision maker"} in a["results"]
    reverse = http.get("/crm/v4/associations/companies/contacts/labels").json()
    assert {"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None} in reverse["results"]
    assert http.get("/crm/v4/associations/products/goal_targets/labels").json() == {"results": []}


def test_per_object_associations_endpoint(sb):
    http = Http(sb)
    first = http.get("/crm/v4/objects/companies/100000001/associations/contacts", {"limit": 100}).json()
    assert len(first["results"]) == 100 and first["paging"]["next"]["after"]
