"""The official HubSpot SDK (`hubspot-api-client`) drives every endpoint the
sandbox serves through its own API methods, with client-side validation on:
each response must deserialize into the SDK's models (required fields, types),
and each parameter the sandbox honours is sent the way the SDK sends it.

Where SDK 12 has no method for a served path (`/account-info/v3/details`, the
v3 per-object association read, the newer labels path), the SDK's own
`ApiClient.call_api` sends the request and deserializes into its models.
"""

from __future__ import annotations

import datetime as dt

import pytest

hubspot = pytest.importorskip("hubspot")

import hubspot.events as sdk_events  # noqa: E402
from hubspot import HubSpot  # noqa: E402
from hubspot.crm import objects as sdk_objects  # noqa: E402
from hubspot.crm import properties as sdk_properties  # noqa: E402
from hubspot.crm import schemas as sdk_schemas  # noqa: E402
from hubspot.crm.associations import v4 as sdk_assoc  # noqa: E402
from hubspot.crm.associations.v4 import schema as sdk_assoc_schema  # noqa: E402
from hubspot.crm.objects.exceptions import ApiException  # noqa: E402

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, truth  # noqa: E402

from .helpers import Http  # noqa: E402

COMPANY = "100000001"  # the first company: many contacts (several association pages)


def _client(module, url):
    cfg = module.Configuration(host=url)
    cfg.access_token = DEMO_TOKEN
    cfg.client_side_validation = True
    return module.ApiClient(cfg)


def _sdk(url) -> HubSpot:
    """The SDK's top-level client, as its users build it, pointed at the sandbox."""
    return HubSpot(access_token=DEMO_TOKEN, host=url, client_side_validation=True)


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes={"contacts": 60, "companies": 4, "deals": 8},
                           ten_second_limit=1000, search_per_second=1000,
                           association_page_size=5)


def test_account_info_deserializes(sb):
    client = _client(sdk_objects, sb.url)
    data, status, _ = client.call_api("/account-info/v3/details", "GET", response_types_map={
        200: "object"}, auth_settings=["oauth2"], _return_http_data_only=False)
    assert status == 200 and data["portalId"] == DEMO_PORTAL_ID and data["uiDomain"]


def test_schemas_and_properties(sb):
    core = _sdk(sb.url).crm.schemas.core_api
    schemas = core.get_all(archived=False)
    names = sorted(s.fully_qualified_name for s in schemas.results)
    assert names == [f"p{DEMO_PORTAL_ID}_pets", f"p{DEMO_PORTAL_ID}_vehicles"]
    pets = next(s for s in schemas.results if s.name == "pets")
    assert pets.object_type_id.startswith("2-")
    assert pets.properties and all(p.name for p in pets.properties)
    assert {a.to_object_type_id for a in pets.associations} == {"0-1"}
    for key in (pets.object_type_id, pets.fully_qualified_name):
        assert core.get_by_id(object_type=key).fully_qualified_name == pets.fully_qualified_name
    # The older `/crm/v3/schemas` paths answer with the same models.
    client = _client(sdk_schemas, sb.url)
    older = client.call_api("/crm/v3/schemas", "GET", auth_settings=["oauth2"],
                            response_types_map={200: "CollectionResponseObjectSchemaNoPaging"},
                            _return_http_data_only=True)
    assert [x.object_type_id for x in older.results] == [x.object_type_id for x in schemas.results]
    one = client.call_api("/crm/v3/schemas/{objectType}", "GET", auth_settings=["oauth2"],
                          path_params={"objectType": pets.fully_qualified_name},
                          response_types_map={200: "ObjectSchema"}, _return_http_data_only=True)
    assert one.object_type_id == pets.object_type_id

    props = sdk_properties.CoreApi(_client(sdk_properties, sb.url))
    for name in ("contacts", "contact", "0-1"):
        got = props.get_all(object_type=name, archived=False)
        names = [p.name for p in got.results]
        assert len(names) >= 300 and "email" in names and "hs_object_id" in names
    enum = next(p for p in got.results if p.name == "lifecyclestage")
    assert enum.type == "enumeration" and enum.options


@pytest.mark.parametrize("object_type", ["contacts", "contact", "0-1", "companies", "company",
                                         "deal", "line_item", "ticket"])
def test_list_and_read_every_name(sb, object_type):
    basic = _sdk(sb.url).crm.objects.basic_api
    page = basic.get_page(object_type=object_type, limit=2, archived=False)
    assert page.results and all(r.id == r.properties["hs_object_id"] for r in page.results)
    one = basic.get_by_id(object_type=object_type, object_id=page.results[0].id)
    assert one.id == page.results[0].id and one.properties["hs_object_id"] == one.id


def test_list_paging_properties_and_archived(sb):
    basic = sdk_objects.BasicApi(_client(sdk_objects, sb.url))
    page = basic.get_page(object_type="contact", limit=7, properties=["email", "firstname"])
    assert len(page.results) == 7 and page.paging.next.after
    assert page.paging.next.link.startswith(sb.url) and "limit=7" in page.paging.next.link
    assert set(page.results[0].properties) == {"email", "firstname", "createdate",
                                               "lastmodifieddate", "hs_object_id"}
    page2 = basic.get_page(object_type="0-1", limit=7, after=page.paging.next.after)
    assert {r.id for r in page2.results}.isdisjoint(r.id for r in page.results)
    archived = basic.get_page(object_type="contacts", archived=True)
    assert archived.results and all(r.archived and r.archived_at for r in archived.results)
    gone = archived.results[0].id
    read = basic.get_by_id(object_type="contacts", object_id=gone, archived=True,
                           properties=["email"])
    assert read.archived and read.archived_at
    with pytest.raises(ApiException) as missing:
        basic.get_by_id(object_type="contacts", object_id=gone)
    assert missing.value.status == 404

    # The SDK's own "fetch everything" helper follows paging to the end.
    everyone = _sdk(sb.url).crm.objects.get_all("contact", properties=["email"])
    account = sb.account(DEMO_PORTAL_ID)
    assert [r.id for r in everyone] == [r["id"] for r in truth.iter_records(account, "contacts")]


def test_inline_associations_and_v3_association_path(sb):
    basic = sdk_objects.BasicApi(_client(sdk_objects, sb.url))
    company = basic.get_by_id(object_type="company", object_id=COMPANY,
                              associations=["contacts", "deals", "no_such_type"])
    inline = company.associations["contacts"]
    assert len({a.id for a in inline.results}) == 5 and inline.paging.next.after
    assert all(a.type for a in inline.results)
    listed = basic.get_page(object_type="contacts", limit=20, associations=["company"])
    assert any(r.associations and "companies" in r.associations for r in listed.results)

    # The rest of the company's contacts, from the v3 per-object path, with the
    # inline cursor; then to the end.
    client = _client(sdk_objects, sb.url)
    seen = {a.id for a in inline.results}
    after = inline.paging.next.after
    while after:
        page = client.call_api(
            "/crm/v3/objects/{objectType}/{objectId}/associations/{toObjectType}", "GET",
            path_params={"objectType": "companies", "objectId": COMPANY, "toObjectType": "contact"},
            query_params=[("after", after), ("limit", 5)],
            response_types_map={200: "CollectionResponseAssociatedId"}, auth_settings=["oauth2"],
            _return_http_data_only=True)
        assert page.results and all(a.type for a in page.results)
        assert seen.isdisjoint(a.id for a in page.results)
        seen |= {a.id for a in page.results}
        after = page.paging.next.after if page.paging else None
    account = sb.account(DEMO_PORTAL_ID)
    expected = {str(t["toObjectId"]) for f, t in truth.iter_associations(account, "companies", "contacts")
                if f == COMPANY}
    assert seen == expected


def test_search_every_operator_sort_and_paging(sb):
    search = _sdk(sb.url).crm.objects.search_api

    def run(filters, sorts=("hs_object_id",), after=None, limit=5, object_type="contact"):
        return search.do_search(object_type=object_type, public_object_search_request=
                                sdk_objects.PublicObjectSearchRequest(
                                    filter_groups=[sdk_objects.FilterGroup(filters=filters)]
                                    if filters else [],
                                    sorts=list(sorts), limit=limit, after=after,
                                    properties=["email"]))

    f = sdk_objects.Filter
    first = run([f(property_name="hs_object_id", operator="GTE", value="5")])
    assert first.total > 5 and first.paging.next.after == "5"
    assert [int(r.id) for r in first.results] == sorted(int(r.id) for r in first.results)
    second = run([f(property_name="hs_object_id", operator="GTE", value="5")],
                 after=first.paging.next.after)
    assert int(second.results[0].id) > int(first.results[-1].id)
    ids = [r.id for r in run([], limit=10).results]
    assert [r.id for r in run([f(property_name="hs_object_id", operator="IN", values=ids[:3])]).results] == ids[:3]
    assert run([f(property_name="hs_object_id", operator="EQ", value=ids[4])]).results[0].id == ids[4]
    between = run([f(property_name="hs_object_id", operator="BETWEEN", value=ids[1],
                     high_value=ids[3])])
    assert [r.id for r in between.results] == ids[1:4]
    assert run([f(property_name="hs_object_id", operator="LT", value=ids[2])]).total == 2
    assert run([f(property_name="hs_object_id", operator="LTE", value=ids[2])]).total == 3
    assert run([f(property_name="hs_object_id", operator="GT", value=ids[2])]).results[0].id == ids[3]
    newest = run([f(property_name="lastmodifieddate", operator="HAS_PROPERTY")],
                 sorts=["-lastmodifieddate"], limit=3)
    stamps = [r.properties["lastmodifieddate"] for r in newest.results]
    assert stamps == sorted(stamps, reverse=True)
    companies = run([f(property_name="hs_lastmodifieddate", operator="GTE", value="0")],
                    object_type="company", sorts=["hs_lastmodifieddate"])
    assert companies.total == 4 and set(companies.results[0].properties) >= {"hs_object_id"}


def test_batch_read_archived_query_and_partial(sb):
    batch = sdk_objects.BatchApi(_client(sdk_objects, sb.url))

    def body(*ids):
        return sdk_objects.BatchReadInputSimplePublicObjectId(
            inputs=[sdk_objects.SimplePublicObjectId(id=i) for i in ids], properties=["email"])

    ok = batch.read(object_type="contact", batch_read_input_simple_public_object_id=body("1"))
    assert ok.status == "COMPLETE" and ok.results[0].id == "1"
    partial = batch.read(object_type="contacts", batch_read_input_simple_public_object_id=
                         body("1", "99999"))
    assert partial.num_errors == 1 and partial.errors[0].context == {"ids": ["99999"]}
    gone = Http(sb).get("/crm/v3/objects/contacts", {"archived": "true", "limit": 2}).json()["results"]
    archived = batch.read(object_type="contacts", archived=True,
                          batch_read_input_simple_public_object_id=body(*[g["id"] for g in gone]))
    assert [r.id for r in archived.results] == [g["id"] for g in gone]
    assert all(r.archived for r in archived.results)


def test_events_every_parameter(sb):
    api = sdk_events.EventsApi(_client(sdk_events, sb.url))
    types = api.get_types()
    assert "e_visited_page" in types.event_types
    assert f"pe{DEMO_PORTAL_ID}_custom_event" in types.event_types
    page = api.get_page(event_type="e_visited_page", limit=5)
    assert len(page.results) == 5 and page.paging.next.after and page.paging.next.link
    assert all(e.event_type == "e_visited_page" and e.object_type == "contact" for e in page.results)
    assert all(isinstance(v, str) for e in page.results for v in e.properties.values())
    newest_first = [e.occurred_at for e in page.results]
    assert newest_first == sorted(newest_first, reverse=True)
    assert [e.occurred_at for e in api.get_page(event_type="e_visited_page", limit=5,
                                                sort=["DESCENDING"]).results] == newest_first
    up = api.get_page(event_type="e_visited_page", limit=5, sort=["ASCENDING"])
    assert [e.occurred_at for e in up.results] == sorted(e.occurred_at for e in up.results)
    up2 = api.get_page(event_type="e_visited_page", limit=5, sort=["ASCENDING"], after=up.paging.next.after)
    assert up2.results[0].occurred_at > up.results[-1].occurred_at
    lo, hi = up.results[0].occurred_at, up.results[4].occurred_at
    window = api.get_page(event_type="e_visited_page", occurred_after=lo, occurred_before=hi,
                          sort=["ASCENDING"])
    assert [e.id for e in window.results] == [e.id for e in up.results[1:4]]
    target = up.results[0].object_id
    mine = api.get_page(event_type="e_visited_page", object_type="contact", object_id=int(target))
    assert mine.results and all(e.object_id == target for e in mine.results)
    since = api.get_page(occurred_after=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
    assert since.results == []
    # The path without the trailing slash answers with the same model.
    client = _client(sdk_events, sb.url)
    bare = client.call_api("/events/v3/events", "GET", auth_settings=["oauth2"],
                           query_params=[("eventType", "e_visited_page"), ("limit", 5)],
                           response_types_map={200: "CollectionResponseExternalUnifiedEvent"},
                           _return_http_data_only=True)
    assert [e.id for e in bare.results] == [e.id for e in page.results]


def test_v4_associations_batch_object_and_labels(sb):
    v4 = _sdk(sb.url).crm.associations.v4
    resp = v4.batch_api.get_page(from_object_type="company", to_object_type="contacts",
                                 batch_input_public_fetch_associations_batch_request=
                                 sdk_assoc.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
                                     sdk_assoc.PublicFetchAssociationsBatchRequest(id=COMPANY),
                                     sdk_assoc.PublicFetchAssociationsBatchRequest(id="424242")]))
    first = resp.results[0]
    assert first._from.id == COMPANY and len(first.to) == 5 and first.paging.next.after
    assert first.paging.next.link is None  # left out, not null: the SDK reads absent as None
    assert all(t.association_types for t in first.to)
    assert resp.num_errors == 1
    assert resp.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"
    nxt = v4.batch_api.get_page(from_object_type="companies", to_object_type="contacts",
                                batch_input_public_fetch_associations_batch_request=
                                sdk_assoc.BatchInputPublicFetchAssociationsBatchRequest(inputs=[
                                    sdk_assoc.PublicFetchAssociationsBatchRequest(
                                        id=COMPANY, after=first.paging.next.after)]))
    assert {t.to_object_id for t in nxt.results[0].to}.isdisjoint(t.to_object_id for t in first.to)

    per_object = v4.basic_api.get_page(object_type="company", object_id=COMPANY,
                                       to_object_type="contact", limit=5)
    assert [t.to_object_id for t in per_object.results] == [t.to_object_id for t in first.to]
    assert per_object.paging.next.link.startswith(sb.url)
    rest = v4.basic_api.get_page(object_type="companies", object_id=COMPANY, to_object_type="0-1",
                                 limit=5, after=per_object.paging.next.after)
    assert [t.to_object_id for t in rest.results] == [t.to_object_id for t in nxt.results[0].to]

    labels = sdk_assoc_schema.DefinitionsApi(_client(sdk_assoc_schema, sb.url)).get_all(
        from_object_type="contact", to_object_type="companies")
    assert {(lb.category, lb.label) for lb in labels.results} >= {
        ("HUBSPOT_DEFINED", None), ("HUBSPOT_DEFINED", "Primary"), ("USER_DEFINED", "Decision maker")}
    # The newer labels path answers with the same model.
    client = _client(sdk_assoc_schema, sb.url)
    data, status, _ = client.call_api(
        "/crm/associations/v4/{fromObjectType}/{toObjectType}/labels", "GET",
        path_params={"fromObjectType": "contacts", "toObjectType": "companies"},
        response_types_map={200: "CollectionResponseAssociationSpecWithLabelNoPaging"},
        auth_settings=["oauth2"], _return_http_data_only=False)
    assert status == 200 and [lb.type_id for lb in data.results] == [lb.type_id for lb in labels.results]


def test_errors_reach_the_sdk_as_hubspot_errors(sandbox_factory):
    sb = sandbox_factory(sizes={"contacts": 5}, denied_types={"deals"})
    basic = sdk_objects.BasicApi(_client(sdk_objects, sb.url))
    with pytest.raises(ApiException) as denied:
        basic.get_page(object_type="deal")
    assert denied.value.status == 403 and "MISSING_SCOPES" in denied.value.body
    with pytest.raises(ApiException) as unknown:
        basic.get_page(object_type="nonsense")
    assert unknown.value.status == 400 and "Unable to infer object type" in unknown.value.body


def test_validation_is_really_on():
    """The checks above could fail: a record without `id` is rejected."""
    client = _client(sdk_objects, "http://127.0.0.1:9")

    class Response:
        data = '{"results": [{"properties": {}, "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-01T00:00:00Z"}]}'

    with pytest.raises(ValueError):
        client.deserialize(Response(), "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging")
