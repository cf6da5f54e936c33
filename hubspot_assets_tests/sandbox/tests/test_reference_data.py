"""Owners and pipelines as HubSpot serves them: shapes (the official client's models,
client-side validation on), paging, archived, scopes, determinism and `advance`."""

from __future__ import annotations

import pytest
import requests

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN
from hubspot_assets_tests.sandbox import reference_data as ref

hubspot = pytest.importorskip("hubspot")

from hubspot.crm import owners as sdk_owners  # noqa: E402
from hubspot.crm import pipelines as sdk_pipelines  # noqa: E402

from .test_sdk_fidelity import _client  # noqa: E402  (validation on)

HEADERS = {"Authorization": f"Bearer {DEMO_TOKEN}"}


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 5, "deals": 3}, ten_second_limit=1000)


def test_owners_deserialize_page_and_split_live_from_archived(sb):
    api = sdk_owners.OwnersApi(_client(sdk_owners, sb.url))
    first = api.get_page(limit=4)
    assert len(first.results) == 4 and first.paging.next.after
    live = list(first.results)
    after = first.paging.next.after
    while after:
        page = api.get_page(limit=4, after=after)
        live += page.results
        after = page.paging.next.after if page.paging else None
    archived = api.get_page(archived=True).results
    assert len(live) == ref.INITIAL_OWNERS - ref.INITIAL_ARCHIVED and len(archived) == 2
    assert not any(o.archived for o in live) and all(o.archived for o in archived)
    assert all(o.user_id is None and o.user_id_including_inactive for o in archived)
    assert len({o.id for o in live + archived}) == ref.INITIAL_OWNERS
    by_email = api.get_page(email=live[0].email).results
    assert [o.id for o in by_email] == [live[0].id]


def test_owners_limit_is_capped_at_500_and_bad_cursors_are_400(sb):
    body = requests.get(f"{sb.url}/crm/v3/owners?limit=5000", headers=HEADERS).json()
    assert "paging" not in body  # 10 live owners: one page, whatever the limit asked
    bad = requests.get(f"{sb.url}/crm/v3/owners/?after=nope", headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"


def test_pipelines_deserialize_with_stages_and_metadata(sb):
    api = sdk_pipelines.PipelinesApi(_client(sdk_pipelines, sb.url))
    deals = api.get_all(object_type="deals").results
    assert [p.id for p in deals] == ["default", "renewals"]
    stages = [s.id for s in deals[0].stages]
    assert stages == ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                      "closedwon", "closedlost"]
    assert all("probability" in s.metadata for s in deals[0].stages)
    tickets = api.get_all(object_type="0-5").results  # objectTypeId works too
    assert [s.metadata["ticketState"] for s in tickets[0].stages][-1] == "CLOSED"
    for name in ref.pipeline_types():
        assert api.get_all(object_type=name).results


def test_pipelines_of_a_type_without_them_are_400_and_without_scope_403(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 5}, denied_types={"tickets", "owners"})
    r = requests.get(f"{sb.url}/crm/v3/pipelines/contacts", headers=HEADERS)
    assert r.status_code == 400
    r = requests.get(f"{sb.url}/crm/v3/pipelines/tickets", headers=HEADERS)
    assert r.status_code == 403 and r.json()["category"] == "MISSING_SCOPES"
    assert "tickets" in r.text
    r = requests.get(f"{sb.url}/crm/v3/owners", headers=HEADERS)
    assert r.status_code == 403 and ref.OWNERS_SCOPE in r.text


def test_advance_changes_owners_and_pipelines_deterministically(sandbox_factory):
    a, b = sandbox_factory(sizes={"contacts": 5}), sandbox_factory(sizes={"contacts": 5})
    before = ref.truth_owners(a.account(DEMO_PORTAL_ID))
    pipes_before = ref.truth_pipelines(a.account(DEMO_PORTAL_ID))
    for server in (a, b):
        for _ in range(4):
            server.advance(DEMO_PORTAL_ID)
    after = ref.truth_owners(a.account(DEMO_PORTAL_ID))
    assert after == ref.truth_owners(b.account(DEMO_PORTAL_ID))  # same seed, same steps
    assert after != before
    assert len(after) == len(before) + 2  # steps 1 and 3 hire
    assert sum(o["archived"] for o in after) == sum(o["archived"] for o in before) + 1
    renewals = ref.truth_pipelines(a.account(DEMO_PORTAL_ID))["deals"][1]
    assert renewals != pipes_before["deals"][1]
    assert len(renewals["stages"]) == len(pipes_before["deals"][1]["stages"]) + 1
    served = requests.get(f"{a.url}/crm/v3/pipelines/deals", headers=HEADERS).json()
    assert served["results"][1] == renewals


def test_batch_read_with_history_reads_back_every_change_newest_first(sb):
    from hubspot.crm import objects as sdk_objects

    from hubspot_assets_tests.sandbox import property_history

    step = sb.advance(DEMO_PORTAL_ID)
    sb.advance(DEMO_PORTAL_ID)
    changed = step["updated"]["contacts"][0]
    store = sb.account(DEMO_PORTAL_ID).stores["contacts"]
    names = ["email", "hs_lead_status", "lifecyclestage", "hs_lastmodifieddate"]
    batch = sdk_objects.BatchApi(_client(sdk_objects, sb.url)).read(
        object_type="contacts", batch_read_input_simple_public_object_id={
            "inputs": [{"id": changed}], "properties": names, "propertiesWithHistory": names})
    (record,) = batch.results
    history = record.properties_with_history
    lastmod = history["hs_lastmodifieddate"]
    assert len(lastmod) >= 2  # the seed state and at least one advance
    stamps = [entry.timestamp for entry in lastmod]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    for name in names:  # the newest entry is the current value
        if record.properties[name] is not None:
            assert history[name][0].value == record.properties[name]
    raw = requests.post(f"{sb.url}/crm/v3/objects/contacts/batch/read", headers=HEADERS, json={
        "inputs": [{"id": changed}], "propertiesWithHistory": names}).json()
    assert raw["results"][0]["propertiesWithHistory"] == property_history.truth_history(
        store, changed, names)


def test_batch_read_with_history_takes_at_most_50_ids(sb):
    body = {"inputs": [{"id": str(i)} for i in range(1, 52)], "propertiesWithHistory": ["email"]}
    r = requests.post(f"{sb.url}/crm/v3/objects/contacts/batch/read", headers=HEADERS, json=body)
    assert r.status_code == 400 and "50" in r.json()["message"]
    body["inputs"] = body["inputs"][:50]
    assert requests.post(f"{sb.url}/crm/v3/objects/contacts/batch/read", headers=HEADERS,
                         json=body).status_code in (200, 207)


def test_advance_grows_one_enumerations_options(sb):
    def lead_status():
        body = requests.get(f"{sb.url}/crm/v3/properties/contacts", headers=HEADERS).json()
        return next(p for p in body["results"] if p["name"] == "hs_lead_status")

    before = lead_status()
    for _ in range(4):
        sb.advance(DEMO_PORTAL_ID)
    after = lead_status()
    assert [o["value"] for o in after["options"]][len(before["options"]):] == ["STEP_2", "STEP_4"]
    assert after["updatedAt"] > before["updatedAt"]
    truth = ref.truth_properties(sb.account(DEMO_PORTAL_ID))["contacts"]
    assert next(p for p in truth if p["name"] == "hs_lead_status") == after
