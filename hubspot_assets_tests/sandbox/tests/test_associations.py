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


def test_v4_pages_leave_link_out_instead_of_null(sb):
    r = Http(sb).post("/crm/v4/associations/companies/contacts/batch/read",
                      {"inputs": [{"id": "100000001"}]})
    nxt = r.json()["results"][0]["paging"]["next"]
    assert nxt["after"] and "link" not in nxt


def _v3_all(http, object_type, object_id, to_type, limit=20):
    out, after = [], None
    while True:
        params = {"limit": limit, **({"after": after} if after else {})}
        r = http.get(f"/crm/v3/objects/{object_type}/{object_id}/associations/{to_type}", params)
        assert r.status_code == 200, r.text
        out += r.json()["results"]
        after = r.json().get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


@pytest.mark.parametrize("from_type,to_type", [("companies", "contacts"), ("contact", "company"),
                                               ("deals", "contacts")])
def test_v3_per_object_path_matches_truth(sb, from_type, to_type):
    http = Http(sb)
    account = sb.account(DEMO_PORTAL_ID)
    plural = {"contact": "contacts", "company": "companies"}
    expected = {}
    for f, t in truth.iter_associations(account, plural.get(from_type, from_type),
                                        plural.get(to_type, to_type)):
        expected.setdefault(f, set()).add(str(t["toObjectId"]))
    for from_id in list(expected)[:3]:
        got = _v3_all(http, from_type, from_id, to_type)
        assert {a["id"] for a in got} == expected[from_id]
        assert all(set(a) == {"id", "type"} and a["type"] for a in got)


def test_inline_associations_on_list_and_read(sb):
    http = Http(sb)
    company = "100000001"
    read = http.get(f"/crm/v3/objects/companies/{company}",
                    {"associations": "contacts,deals,no_such_type", "properties": "name"}).json()
    contacts = read["associations"]["contacts"]
    assert len({a["id"] for a in contacts["results"]}) == 50 and contacts["paging"]["next"]["after"]
    link = contacts["paging"]["next"]["link"]
    assert link.startswith(f"{sb.url}/crm/v3/objects/companies/{company}/associations/contacts?")
    # The inline cursor pages on through the v3 per-object path (via its link).
    rest = http.session.get(link, timeout=30).json()["results"]
    everyone = {a["id"] for a in _v3_all(http, "companies", company, "contacts", limit=500)}
    first_ids = {a["id"] for a in contacts["results"]}
    assert first_ids.isdisjoint(a["id"] for a in rest)
    assert first_ids | {a["id"] for a in rest} == everyone
    assert "no_such_type" not in read["associations"]
    types = {a["type"] for a in contacts["results"]}
    assert "company_to_contact_unlabeled" in types and "company_to_contact" in types

    page = http.get("/crm/v3/objects/contacts", [("limit", 30), ("associations", "companies"),
                                                 ("associations", "deal")]).json()
    account = sb.account(DEMO_PORTAL_ID)
    expected = {}
    for f, t in truth.iter_associations(account, "contacts", "companies"):
        expected.setdefault(f, set()).add(str(t["toObjectId"]))
    for record in page["results"]:
        got = {a["id"] for a in record.get("associations", {}).get("companies", {}).get("results", [])}
        assert got == expected.get(record["id"], set())
    assert any("deals" in r.get("associations", {}) for r in page["results"])
    # Without associations= no record carries the key.
    plain = http.get("/crm/v3/objects/contacts", {"limit": 30}).json()["results"]
    assert all("associations" not in r for r in plain)


def test_custom_object_associations_on_the_v3_paths(sb):
    http = Http(sb)
    schema = next(s for s in http.get("/crm/v3/schemas").json()["results"] if s["name"] == "pets")
    pets = http.get(f"/crm/v3/objects/{schema['objectTypeId']}",
                    {"limit": 10, "associations": "contacts"}).json()["results"]
    linked = [p for p in pets if "associations" in p]
    assert linked and all(a["type"] == "pet_to_contact_unlabeled"
                          for p in linked for a in p["associations"]["contacts"]["results"])
    pet = linked[0]
    got = _v3_all(http, schema["fullyQualifiedName"], pet["id"], "contact")
    assert got == pet["associations"]["contacts"]["results"]
