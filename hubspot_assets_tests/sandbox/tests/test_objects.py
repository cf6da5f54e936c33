"""Object listing: paging, cursors, properties, archived, 414, type names, auth."""

from __future__ import annotations

import base64

import pytest
import requests

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, truth
from hubspot_assets_tests.sandbox.catalog import DEFAULT_PROPERTIES

from .helpers import Http, all_property_names


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 250, "companies": 10, "pets": 30}, ten_second_limit=10_000)


def test_paging_yields_exactly_the_live_records(sb):
    http = Http(sb)
    records = http.list_all("contacts")
    account = sb.account(DEMO_PORTAL_ID)
    expected = [r["id"] for r in truth.iter_records(account, "contacts")]
    assert [r["id"] for r in records] == expected
    live, archived = account.store("contacts").counts()
    assert len(records) == live and archived > 0 and live + archived == 250
    assert all(r["archived"] is False and "archivedAt" not in r for r in records)


def test_default_limit_max_limit_and_opaque_cursor(sb):
    http = Http(sb)
    body = http.get("/crm/v3/objects/contacts").json()
    assert len(body["results"]) == 10
    after = body["paging"]["next"]["after"]
    assert not after.isdigit()  # opaque, not a plain offset or id
    base64.urlsafe_b64decode(after + "=" * (-len(after) % 4))
    assert body["paging"]["next"]["link"].endswith(after)
    assert len(http.get("/crm/v3/objects/contacts", {"limit": 500}).json()["results"]) == 100
    bad = http.get("/crm/v3/objects/contacts", {"after": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_last_page_has_no_paging(sb):
    http = Http(sb)
    body = http.get("/crm/v3/objects/companies", {"limit": 100}).json()
    assert "paging" not in body and 0 < len(body["results"]) <= 10


def test_default_properties_and_record_shape(sb):
    body = Http(sb).get("/crm/v3/objects/contacts", {"limit": 3}).json()
    rec = body["results"][0]
    assert set(rec) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(rec["properties"]) == set(DEFAULT_PROPERTIES["contacts"])
    assert rec["properties"]["hs_object_id"] == rec["id"]
    assert rec["properties"]["lastmodifieddate"] == rec["updatedAt"]
    assert rec["properties"]["createdate"] == rec["createdAt"]
    companies = Http(sb).get("/crm/v3/objects/companies", {"limit": 1}).json()["results"][0]
    assert "hs_lastmodifieddate" in companies["properties"]


def test_properties_repeated_or_comma_joined_and_nulls(sb):
    http = Http(sb)
    names = [p["name"] for p in http.get("/crm/v3/properties/contacts").json()["results"]][:40]
    repeated = http.get("/crm/v3/objects/contacts", [("limit", 20)] + [("properties", n) for n in names])
    joined = http.get("/crm/v3/objects/contacts", {"limit": 20, "properties": ",".join(names)})
    assert repeated.json()["results"] == joined.json()["results"]
    recs = repeated.json()["results"]
    # HubSpot adds the id and the create/modify dates to whatever is asked for.
    always = {"createdate", "lastmodifieddate", "hs_object_id"}
    assert all(set(r["properties"]) == set(names) | always for r in recs)
    values = [v for r in recs for v in r["properties"].values()]
    assert None in values and any(isinstance(v, str) for v in values)
    assert all(v is None or isinstance(v, str) for v in values)
    # Unknown names are ignored, like HubSpot does.
    odd = http.get("/crm/v3/objects/contacts", {"limit": 1, "properties": "email,no_such_prop"})
    assert set(odd.json()["results"][0]["properties"]) == {"email"} | always


@pytest.mark.parametrize("flag", ["true", "True"])
def test_archived_listing(sb, flag):
    http = Http(sb)
    body = http.get("/crm/v3/objects/contacts", {"archived": flag, "limit": 100}).json()
    account = sb.account(DEMO_PORTAL_ID)
    expected = list(truth.iter_records(account, "contacts", archived=True))
    assert [r["id"] for r in body["results"]] == [r["id"] for r in expected]
    assert all(r["archived"] is True and r["archivedAt"] for r in body["results"])
    live_ids = {r["id"] for r in http.list_all("contacts")}
    assert live_ids.isdisjoint(r["id"] for r in body["results"])
    assert http.get("/crm/v3/objects/contacts", {"archived": "False"}).json()["results"][0]["archived"] is False


def test_property_list_forces_chunking_and_414(sb):
    http = Http(sb)
    names = all_property_names(http, "contacts")
    assert len(names) >= 300
    assert len(",".join(names)) > sb.config.max_url_length  # one URL cannot carry them all
    too_long = http.get("/crm/v3/objects/contacts", {"properties": ",".join(names)})
    assert too_long.status_code == 414
    # Chunked requests merged per id equal the truth with every property.
    merged: dict[str, dict] = {}
    for start in range(0, len(names), 150):
        chunk = names[start:start + 150]
        for rec in http.get("/crm/v3/objects/contacts", {"limit": 5, "properties": ",".join(chunk)}).json()["results"]:
            merged.setdefault(rec["id"], {}).update(rec["properties"])
    expected = {r["id"]: r["properties"] for r in truth.iter_records(sb.account(DEMO_PORTAL_ID), "contacts")}
    assert merged == {k: expected[k] for k in merged}
    sb.update_settings(max_url_length=100_000)
    assert http.get("/crm/v3/objects/contacts", {"limit": 1, "properties": ",".join(names)}).status_code == 200


def test_object_type_by_name_id_and_fully_qualified_name(sb):
    http = Http(sb)
    by_name = http.get("/crm/v3/objects/contacts", {"limit": 5}).json()
    by_id = http.get("/crm/v3/objects/0-1", {"limit": 5}).json()
    by_singular = http.get("/crm/v3/objects/contact", {"limit": 5}).json()
    assert by_name["results"] == by_id["results"] == by_singular["results"]
    schema = http.get("/crm/v3/schemas").json()["results"][0]
    by_fqn = http.get(f"/crm/v3/objects/{schema['fullyQualifiedName']}", {"limit": 5}).json()
    by_type_id = http.get(f"/crm/v3/objects/{schema['objectTypeId']}", {"limit": 5}).json()
    assert by_fqn["results"] == by_type_id["results"] and len(by_fqn["results"]) == 5
    assert http.get("/crm/v3/objects/nonsense").status_code == 400


@pytest.mark.parametrize("singular,plural", [("contact", "contacts"), ("company", "companies"),
                                             ("deal", "deals"), ("ticket", "tickets"),
                                             ("line_item", "line_items"), ("note", "notes")])
def test_singular_names_everywhere(sb, singular, plural):
    http = Http(sb)
    listed = http.get(f"/crm/v3/objects/{singular}", {"limit": 3})
    assert listed.status_code == 200, listed.text
    assert listed.json()["results"] == http.get(f"/crm/v3/objects/{plural}", {"limit": 3}).json()["results"]
    rid = listed.json()["results"][0]["id"]
    assert http.get(f"/crm/v3/objects/{singular}/{rid}").json()["id"] == rid
    assert http.post(f"/crm/v3/objects/{singular}/batch/read", {"inputs": [{"id": rid}]}).json()[
        "results"][0]["id"] == rid
    assert http.search(singular, {"limit": 1}).json()["total"] == http.search(plural, {"limit": 1}).json()["total"]
    assert http.get(f"/crm/v3/properties/{singular}").json() == http.get(f"/crm/v3/properties/{plural}").json()


def test_next_link_is_absolute_and_keeps_the_query(sb):
    """HubSpot's `paging.next.link` is the whole next URL: following it as is
    gives the next page with the same limit and properties."""
    http = Http(sb)
    first = http.get("/crm/v3/objects/contacts", {"limit": 4, "properties": "email,firstname"}).json()
    link = first["paging"]["next"]["link"]
    assert link.startswith(sb.url + "/crm/v3/objects/contacts?")
    followed = http.session.get(link, timeout=30).json()
    second = http.get("/crm/v3/objects/contacts", {"limit": 4, "properties": "email,firstname",
                                                   "after": first["paging"]["next"]["after"]}).json()
    assert followed == second and len(followed["results"]) == 4
    assert {"email", "firstname"} <= set(followed["results"][0]["properties"])
    assert "after=" in link and link.count("after=") == 1
    # The link of the followed page carries the query again, with the new cursor.
    assert followed["paging"]["next"]["link"].count("after=") == 1


def test_default_properties_always_returned(sb):
    http = Http(sb)
    contact = http.get("/crm/v3/objects/contacts", {"limit": 1, "properties": "email"}).json()["results"][0]
    assert set(contact["properties"]) == {"email", "createdate", "lastmodifieddate", "hs_object_id"}
    company = http.get("/crm/v3/objects/companies", {"limit": 1, "properties": "name"}).json()["results"][0]
    assert set(company["properties"]) == {"name", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    schema = http.get("/crm/v3/schemas").json()["results"][0]
    pet = http.get(f"/crm/v3/objects/{schema['objectTypeId']}", {"limit": 1, "properties": "name"}).json()
    assert set(pet["results"][0]["properties"]) == {"name", "hs_createdate", "hs_lastmodifieddate",
                                                     "hs_object_id"}
    read = http.get(f"/crm/v3/objects/contacts/{contact['id']}", {"properties": "email"}).json()
    batch = http.post("/crm/v3/objects/contacts/batch/read",
                      {"inputs": [{"id": contact["id"]}], "properties": ["email"]}).json()["results"][0]
    found = http.search("contacts", {"properties": ["email"], "limit": 1}).json()["results"][0]
    for record in (read, batch, found):
        assert set(record["properties"]) == set(contact["properties"])


def test_batch_read_archived_is_a_query_parameter(sb):
    http = Http(sb)
    gone = http.get("/crm/v3/objects/contacts", {"archived": "true", "limit": 2}).json()["results"]
    ids = [{"id": r["id"]} for r in gone]
    as_query = http.post("/crm/v3/objects/contacts/batch/read?archived=true", {"inputs": ids})
    assert as_query.status_code == 200 and [r["id"] for r in as_query.json()["results"]] == [
        r["id"] for r in gone]
    assert all(r["archived"] for r in as_query.json()["results"])
    # Without it, archived ids are missing (207), as for live ids with archived=true.
    assert http.post("/crm/v3/objects/contacts/batch/read", {"inputs": ids}).status_code == 207


def test_schemas_both_paths(sb):
    http = Http(sb)
    a = http.get("/crm/v3/schemas").json()
    b = http.get("/crm-object-schemas/v3/schemas").json()
    assert a == b and len(a["results"]) == 2
    for schema in a["results"]:
        assert schema["fullyQualifiedName"] == f"p{DEMO_PORTAL_ID}_{schema['name']}"
        assert schema["associations"] and schema["properties"]
        for assoc in schema["associations"]:
            assert assoc["fromObjectTypeId"] == schema["objectTypeId"]


def test_auth_401_and_scope_403(sandbox_factory):
    sb = sandbox_factory(denied_types={"deals", "events"})
    url = sb.url + "/crm/v3/objects/contacts"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.json()["category"] == "INVALID_AUTHENTICATION" and missing.json()["correlationId"]
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["status"] == "error"
    http = Http(sb)
    assert http.get("/crm/v3/objects/contacts").status_code == 200
    for path in ("/crm/v3/objects/deals", "/crm/v3/properties/deals"):
        denied = http.get(path)
        assert denied.status_code == 403
        body = denied.json()
        assert body["category"] == "MISSING_SCOPES"
        assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]
    assert http.search("deals", {}).status_code == 403
    assert http.post("/crm/v4/associations/deals/contacts/batch/read", {"inputs": []}).status_code == 403
    assert http.get("/events/v3/events/event-types").status_code == 403


def test_control_endpoints_need_no_auth(sb):
    assert requests.get(sb.url + "/_sandbox/health", timeout=10).json() == {"ok": True}
    t = requests.get(sb.url + f"/_sandbox/truth/{DEMO_PORTAL_ID}", timeout=30).json()
    assert t["objects"]["contacts"]["live"] + t["objects"]["contacts"]["archived"] == 250
    assert DEMO_TOKEN not in requests.get(sb.url + "/_sandbox/accounts", timeout=10).text


def test_batch_read_input_cap_is_one_hundred(sb):
    http = Http(sb)
    ok = http.post("/crm/v3/objects/contacts/batch/read",
                   {"inputs": [{"id": str(i)} for i in range(1, 101)]})
    assert ok.status_code in (200, 207)
    too_many = http.post("/crm/v3/objects/contacts/batch/read",
                         {"inputs": [{"id": str(i)} for i in range(1, 102)]})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    missing = http.post("/crm/v3/objects/contacts/batch/read", {"properties": ["email"]})
    assert missing.status_code == 400 and "inputs is required" in missing.json()["message"]
