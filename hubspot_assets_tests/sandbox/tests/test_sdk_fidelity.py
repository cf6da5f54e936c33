"""Every endpoint's responses deserialize through the official hubspot-api-client
models with client-side validation on (the SDK's API classes call the sandbox)."""

from __future__ import annotations

import pytest

hubspot = pytest.importorskip("hubspot")

import hubspot.events as sdk_events  # noqa: E402
from hubspot.crm import objects as sdk_objects  # noqa: E402
from hubspot.crm import properties as sdk_properties  # noqa: E402
from hubspot.crm import schemas as sdk_schemas  # noqa: E402
from hubspot.crm.associations import v4 as sdk_assoc  # noqa: E402
from hubspot.crm.associations.v4 import schema as sdk_assoc_schema  # noqa: E402

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN  # noqa: E402


def _client(module, url):
    cfg = module.Configuration(host=url)
    cfg.access_token = DEMO_TOKEN
    cfg.client_side_validation = True
    return module.ApiClient(cfg)


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 30, "companies": 4, "deals": 8}, ten_second_limit=1000)


def test_schemas_and_properties(sb):
    schemas = sdk_schemas.CoreApi(_client(sdk_schemas, sb.url)).get_all()
    names = sorted(s.fully_qualified_name for s in schemas.results)
    assert names == [f"p{DEMO_PORTAL_ID}_pets", f"p{DEMO_PORTAL_ID}_vehicles"]
    pets = next(s for s in schemas.results if s.name == "pets")
    assert pets.object_type_id.startswith("2-")
    assert pets.properties and all(p.name for p in pets.properties)
    assert {a.to_object_type_id for a in pets.associations} == {"0-1"}
    one = sdk_schemas.CoreApi(_client(sdk_schemas, sb.url)).get_by_id(object_type=pets.object_type_id)
    assert one.fully_qualified_name == pets.fully_qualified_name

    props = sdk_properties.CoreApi(_client(sdk_properties, sb.url)).get_all(object_type="contacts")
    names = [p.name for p in props.results]
    assert len(names) >= 300 and "email" in names and "hs_object_id" in names
    enum = next(p for p in props.results if p.name == "lifecyclestage")
    assert enum.type == "enumeration" and enum.options


def test_object_list_search_and_batch(sb):
    basic = sdk_objects.BasicApi(_client(sdk_objects, sb.url))
    page = basic.get_page(object_type="contacts", limit=7, properties=["email", "firstname"])
    assert len(page.results) == 7 and page.paging.next.after
    assert set(page.results[0].properties) == {"email", "firstname"}
    page2 = basic.get_page(object_type="0-1", limit=7, after=page.paging.next.after)
    assert page2.results[0].id != page.results[0].id
    archived = basic.get_page(object_type="contacts", archived=True)
    assert archived.results and all(r.archived and r.archived_at for r in archived.results)
    one = basic.get_by_id(object_type="contacts", object_id=page.results[0].id)
    assert one.id == page.results[0].id

    search = sdk_objects.SearchApi(_client(sdk_objects, sb.url)).do_search(
        object_type="contacts",
        public_object_search_request=sdk_objects.PublicObjectSearchRequest(
            filter_groups=[sdk_objects.FilterGroup(filters=[sdk_objects.Filter(
                property_name="hs_object_id", operator="GTE", value="5")])],
            sorts=["hs_object_id"], limit=5, properties=["email"]))
    assert search.total > 5 and [r.id for r in search.results] == sorted(
        (r.id for r in search.results), key=int)
    assert search.paging.next.after == "5"

    batch = sdk_objects.BatchApi(_client(sdk_objects, sb.url))
    ok = batch.read(object_type="contacts", batch_read_input_simple_public_object_id=
                    sdk_objects.BatchReadInputSimplePublicObjectId(
                        inputs=[sdk_objects.SimplePublicObjectId(id="1")], properties=["email"]))
    assert ok.status == "COMPLETE" and ok.results[0].id == "1"
    partial = batch.read(object_type="contacts", batch_read_input_simple_public_object_id=
                         sdk_objects.BatchReadInputSimplePublicObjectId(
                             inputs=[sdk_objects.SimplePublicObjectId(id="1"),
                                     sdk_objects.SimplePublicObjectId(id="99999")],
                             properties=["email"]))
    assert partial.num_errors == 1 and partial.errors[0].context == {"ids": ["99999"]}


def test_events(sb):
    api = sdk_events.EventsApi(_client(sdk_events, sb.url))
    types = api.get_types()
    assert "e_visited_page" in types.event_types
    assert f"pe{DEMO_PORTAL_ID}_custom_event" in types.event_types
    page = api.get_page(event_type="e_visited_page", limit=5)
    assert len(page.results) == 5 and page.paging.next.after
    assert all(e.event_type == "e_visited_page" and e.object_type == "contact" for e in page.results)


def test_associations_and_labels(sb):
    batch = sdk_assoc.BatchApi(_client(sdk_assoc, sb.url))
    company = "100000001"
    resp = batch.get_page(from_object_type="companies", to_object_type="contacts",
                          batch_input_public_fetch_associations_batch_request=
                          sdk_assoc.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
                              sdk_assoc.PublicFetchAssociationsBatchRequest(id=company),
                              sdk_assoc.PublicFetchAssociationsBatchRequest(id="424242")]))
    assert resp.results[0]._from.id == company
    assert resp.results[0].to and all(t.association_types for t in resp.results[0].to)
    assert resp.num_errors == 1
    assert resp.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    labels = sdk_assoc_schema.DefinitionsApi(_client(sdk_assoc_schema, sb.url)).get_all(
        from_object_type="contacts", to_object_type="companies")
    assert {(l.category, l.label) for l in labels.results} >= {
        ("HUBSPOT_DEFINED", None), ("HUBSPOT_DEFINED", "Primary"), ("USER_DEFINED", "Decision maker")}


def test_association_paging_and_labels_newer_path_deserialize(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 60, "companies": 3}, association_page_size=5)
    batch = sdk_assoc.BatchApi(_client(sdk_assoc, sb.url))
    resp = batch.get_page(from_object_type="companies", to_object_type="contacts",
                          batch_input_public_fetch_associations_batch_request=
                          sdk_assoc.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
                              sdk_assoc.PublicFetchAssociationsBatchRequest(id="100000001")]))
    first = resp.results[0]
    assert len(first.to) == 5 and first.paging.next.after
    nxt = batch.get_page(from_object_type="companies", to_object_type="contacts",
                         batch_input_public_fetch_associations_batch_request=
                         sdk_assoc.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
                             sdk_assoc.PublicFetchAssociationsBatchRequest(
                                 id="100000001", after=first.paging.next.after)]))
    assert {t.to_object_id for t in nxt.results[0].to}.isdisjoint(t.to_object_id for t in first.to)
    # The newer labels path answers with the same model.
    client = _client(sdk_assoc_schema, sb.url)
    data, status, _ = client.call_api(
        "/crm/associations/v4/{fromObjectType}/{toObjectType}/labels", "GET",
        path_params={"fromObjectType": "contacts", "toObjectType": "companies"},
        response_types_map={200: "CollectionResponseAssociationSpecWithLabelNoPaging"},
        auth_settings=["oauth2"], _return_http_data_only=False)
    assert status == 200 and data.results


def test_validation_is_really_on():
    """The checks above could fail: a record without `id` is rejected."""
    client = _client(sdk_objects, "http://127.0.0.1:9")

    class Response:
        data = '{"results": [{"properties": {}, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}]}'

    with pytest.raises(ValueError):
        client.deserialize(Response(), "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging")
