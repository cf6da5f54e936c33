"""Lists and memberships as HubSpot's lists v3 API serves them: the official client's
models (client-side validation on) and API methods, offset and cursor paging, limits,
scope, determinism and `advance` (members added and removed, filters changed, lists
created and deleted)."""

from __future__ import annotations

import pytest

from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN
from hubspot_assets_tests.sandbox import marketing as mk

from .helpers import Http

hubspot = pytest.importorskip("hubspot")

from hubspot.crm import lists as sdk_lists  # noqa: E402
from hubspot.crm.lists.exceptions import ApiException  # noqa: E402

SIZES = {"contacts": 300, "companies": 40}


def _client(url):
    cfg = sdk_lists.Configuration(host=url)
    cfg.access_token = DEMO_TOKEN
    cfg.client_side_validation = True
    return sdk_lists.ApiClient(cfg)


@pytest.fixture
def sb(sandbox_factory):
    return sandbox_factory(sizes=SIZES, ten_second_limit=1000)


def sdk_search_all(url, count=2):
    api = sdk_lists.ListsApi(_client(url))
    found, offset = [], 0
    while True:
        page = api.do_search(sdk_lists.ListSearchRequest(offset=offset, count=count,
                                                         additional_properties=[]))
        found += page.lists
        if not page.has_more:
            assert page.total == len(found)
            return found
        offset = page.offset


def sdk_members(url, list_id, limit=40):
    api = sdk_lists.MembershipsApi(_client(url))
    out, after = [], None
    while True:
        page = api.get_page(list_id, limit=limit, **({"after": after} if after else {}))
        out += page.results
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            assert page.total == len(out)
            return out


def test_search_fetch_and_memberships_deserialize_through_the_sdk(sb):
    found = sdk_search_all(sb.url)
    assert [x.list_id for x in found] == ["1", "2", "3", "4", "5"]
    assert {x.object_type_id for x in found} == {"0-1", "0-2"}
    sizes = {x.list_id: int(x.additional_properties["hs_list_size"]) for x in found}
    assert all(n > 0 for n in sizes.values())
    manual = sdk_lists.ListsApi(_client(sb.url)).get_all(list_ids=["2", "999"],
                                                         include_filters=True).lists
    assert [d.list_id for d in manual] == ["2"]  # a missing id is left out
    assert manual[0].filter_branch is None and manual[0].size == sizes["2"]  # MANUAL
    plain = sdk_lists.ListsApi(_client(sb.url)).get_all(list_ids=["1"]).lists[0]
    assert plain.filter_branch is None and plain.size == sizes["1"]
    # The SDK flattens the filters' oneOf into one model that requires every
    # alternative's fields, so no real filter passes its client-side validation:
    # the branch is checked against the OpenAPI file's required fields instead.
    branch = Http(sb).get("/crm/v3/lists/", {"listIds": "1", "includeFilters": "true"}
                          ).json()["lists"][0]["filterBranch"]
    assert_branch(branch)
    members = sdk_members(sb.url, "1")
    ids = [int(m.record_id) for m in members]
    assert ids == sorted(ids) and len(ids) == sizes["1"]
    assert all(m.membership_timestamp is not None for m in members)


# lists.json: PublicOrFilterBranch/PublicAndFilterBranch, PublicPropertyFilter and
# PublicEnumerationPropertyOperation, their `required` lists.
BRANCH_REQUIRED = {"filterBranchType", "filterBranches", "filterBranchOperator", "filters"}
FILTER_REQUIRED = {"property", "filterType", "operation"}
OPERATION_REQUIRED = {"includeObjectsWithNoValueSet", "values", "operationType", "operator"}


def assert_branch(branch):
    assert BRANCH_REQUIRED <= set(branch) and branch["filterBranchType"] in ("OR", "AND")
    for f in branch["filters"]:
        assert FILTER_REQUIRED <= set(f) and OPERATION_REQUIRED <= set(f["operation"])
    for inner in branch["filterBranches"]:
        assert_branch(inner)
    return True


def test_limits_scope_and_unknown_list(sb, sandbox_factory):
    http = Http(sb)
    over = http.post("/crm/v3/lists/search", {"offset": 0, "count": mk.SEARCH_COUNT_MAX + 1})
    assert over.status_code == 400
    page = http.get("/crm/v3/lists/1/memberships", {"limit": 1000}).json()
    assert len(page["results"]) == min(mk.MEMBERSHIPS_LIMIT_MAX, page["total"])
    assert http.get("/crm/v3/lists/999/memberships").status_code == 404
    denied = sandbox_factory(sizes=SIZES, denied_types={"lists"})
    with pytest.raises(ApiException) as raised:
        sdk_lists.ListsApi(_client(denied.url)).do_search(
            sdk_lists.ListSearchRequest(offset=0, additional_properties=[]))
    assert raised.value.status == 403 and mk.LISTS_SCOPE in raised.value.body


def test_same_seed_same_lists_and_members(sandbox_factory):
    a, b = sandbox_factory(sizes=SIZES), sandbox_factory(sizes=SIZES)
    ta, tb = a.account(DEMO_PORTAL_ID), b.account(DEMO_PORTAL_ID)
    assert mk.truth_lists(ta) == mk.truth_lists(tb)
    assert mk.truth_memberships(ta) == mk.truth_memberships(tb)


def test_advance_adds_and_removes_members_and_changes_lists(sb):
    account = sb.account(DEMO_PORTAL_ID)
    before_lists, before = mk.truth_lists(account), mk.truth_memberships(account)
    for _ in range(4):
        sb.advance(DEMO_PORTAL_ID)
    after_lists, after = mk.truth_lists(account), mk.truth_memberships(account)
    added, removed = set(after) - set(before), set(before) - set(after)
    assert added and removed
    # the deleted list's members are gone with it, a created list brings its own
    assert mk.DELETED_LIST not in after_lists and "103" in after_lists
    assert any(k.startswith("103|") for k in added)
    changed = [i for i in ("1", "4", "5") if after_lists[i]["filterBranch"]
               != before_lists[i]["filterBranch"]]
    assert changed
    # a list whose members changed says when, later than any base time
    step_end = account.step_times[-1]
    for list_id in {k.split("|")[0] for k in added | removed} & set(after_lists):
        extra = after_lists[list_id]["additionalProperties"]
        marks = [int(extra.get(f, 0)) for f in ("hs_last_record_added_at",
                                                 "hs_last_record_removed_at")]
        assert max(marks) > mk.BASE_MS and max(marks) <= step_end
    # the snapshot list never gains members after it was made
    assert not any(k.startswith("3|") for k in added)
    # what the API serves equals the truth
    http = Http(sb)
    served = {f"{lid}|{m['recordId']}": m for lid in after_lists for m in _pages(http, lid)}
    assert served == after


def _pages(http, list_id):
    out, after = [], None
    while True:
        body = http.get(f"/crm/v3/lists/{list_id}/memberships",
                        {"limit": 250, **({"after": after} if after else {})}).json()
        out += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return out


# -- forms and submissions ------------------------------------------------------------------
from hubspot.marketing import forms as sdk_forms  # noqa: E402


def _forms_client(url):
    cfg = sdk_forms.Configuration(host=url)
    cfg.access_token = DEMO_TOKEN
    cfg.client_side_validation = True
    return sdk_forms.ApiClient(cfg)


def test_forms_deserialize_page_and_split_live_from_archived(sb):
    client = _forms_client(sb.url)
    api = sdk_forms.FormsApi(client)
    # FormDefinitionBase's legalConsentOptions and fields are oneOf types the SDK
    # flattens into models requiring every alternative's fields; those parts go
    # through their own SDK models instead, the rest through the page's own.
    raw = Http(sb).get("/marketing/v3/forms", {"limit": 2}).json()
    deserialize = client._ApiClient__deserialize
    for form in raw["results"]:
        deserialize(form["configuration"], "HubSpotFormConfiguration")
        deserialize(form["displayOptions"], "FormDisplayOptions")
        deserialize(form["legalConsentOptions"], "LegalConsentOptionsNone")
        email, first = form["fieldGroups"][0]["fields"]
        deserialize(email, "EmailField")
        deserialize(first, "SingleLineTextField")
    page = api.get_page(limit=2, _preload_content=False)
    assert page.status == 200
    assert raw["paging"]["next"]["after"]
    live = Http(sb).get("/marketing/v3/forms", {"limit": 100}).json()["results"]
    assert [f["name"] for f in live] == list(mk.BASE_FORMS)
    assert Http(sb).get("/marketing/v3/forms", {"archived": "true"}).json()["results"] == []


def test_submissions_newest_first_paged_and_limited(sb):
    form = Http(sb).get("/marketing/v3/forms").json()["results"][1]
    http = Http(sb)
    page = http.get(f"/form-integrations/v1/submissions/forms/{form['id']}",
                    {"limit": 500}).json()
    assert len(page["results"]) == mk.SUBMISSIONS_LIMIT_MAX
    out, after = [], None
    while True:
        body = http.get(f"/form-integrations/v1/submissions/forms/{form['id']}",
                        {"limit": 50, **({"after": after} if after else {})}).json()
        out += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert len(out) == mk.BASE_SUBMISSIONS[1]
    times = [s["submittedAt"] for s in out]
    assert times == sorted(times, reverse=True) and all(isinstance(t, int) for t in times)
    assert {v["name"] for v in out[0]["values"]} == {"email", "firstname"}
    assert http.get("/form-integrations/v1/submissions/forms/nope").status_code == 404


def test_forms_advance_and_scope(sb, sandbox_factory):
    account = sb.account(DEMO_PORTAL_ID)
    before = mk.truth_submissions(account)
    for _ in range(4):
        sb.advance(DEMO_PORTAL_ID)
    forms = mk.truth_forms(account)
    assert len(forms) == len(mk.BASE_FORMS) + 2  # steps 1 and 3 made one each
    archived = [f for f in forms.values() if f["archived"]]
    assert [f["name"] for f in archived] == [mk.BASE_FORMS[mk.ARCHIVED_FORM]]
    served = Http(sb).get("/marketing/v3/forms", {"archived": "true"}).json()["results"]
    assert served == archived and "archivedAt" in served[0]
    after = mk.truth_submissions(account)
    archived_id = next(k for k, f in forms.items() if f["archived"])
    # an archived form takes no new submissions; a live one a few a step
    assert len(after[archived_id]) == len(before[archived_id]) + mk.ARCHIVE_STEP * mk.SUBMISSIONS_PER_STEP
    live_base = next(k for k in before if k != archived_id)
    assert len(after[live_base]) == len(before[live_base]) + 4 * mk.SUBMISSIONS_PER_STEP
    denied = sandbox_factory(sizes=SIZES, denied_types={"forms"})
    r = Http(denied).get("/marketing/v3/forms")
    assert r.status_code == 403 and mk.FORMS_SCOPE in r.text


# -- marketing emails -----------------------------------------------------------------------
from hubspot.marketing import emails as sdk_emails  # noqa: E402


def test_emails_deserialize_filter_by_update_and_archive(sb):
    cfg = sdk_emails.Configuration(host=sb.url)
    cfg.access_token = DEMO_TOKEN
    cfg.client_side_validation = True
    api = sdk_emails.MarketingEmailsApi(sdk_emails.ApiClient(cfg))
    first = api.get_page(limit=3)
    assert len(first.results) == 3 and first.total == len(mk.BASE_EMAILS)
    rest = api.get_page(limit=3, after=first.paging.next.after)
    assert [e.name for e in first.results + rest.results] == list(mk.BASE_EMAILS)
    account = sb.account(DEMO_PORTAL_ID)
    for _ in range(4):
        sb.advance(DEMO_PORTAL_ID)
    since = account.step_times[1]  # after step 2 ended: only steps 3 and 4's changes
    changed = api.get_page(updated_after=mk.iso_ms(since)).results
    expected = {k for k, e in mk.truth_emails(account).items()
                if not e["archived"] and mk.parse_time(e["updatedAt"]) > since}
    assert {e.id for e in changed} == expected and expected
    archived = api.get_page(archived=True).results
    assert [e.name for e in archived] == [mk.BASE_EMAILS[mk.ARCHIVED_EMAIL]]
    assert archived[0].archived is True
    denied = Http(sb).get("/marketing/v3/emails", {"updatedAfter": "yesterday"})
    assert denied.status_code == 400


def test_emails_scope(sandbox_factory):
    denied = sandbox_factory(sizes=SIZES, denied_types={"marketing_emails"})
    r = Http(denied).get("/marketing/v3/emails")
    assert r.status_code == 403 and mk.EMAILS_SCOPE in r.text


# -- campaigns ------------------------------------------------------------------------------
# The official client (12.x) has no campaigns module: the shape is checked against
# campaignsPublicApi.json's required fields (PublicCampaign, PublicBusinessUnit, the
# collection with total) instead.
CAMPAIGN_REQUIRED = {"businessUnits", "createdAt", "id", "properties", "updatedAt"}


def test_campaigns_shape_properties_paging_and_advance(sb, sandbox_factory):
    http = Http(sb)
    bare = http.get("/marketing/v3/campaigns/").json()
    assert {"results", "total"} <= set(bare) and bare["total"] == len(mk.BASE_CAMPAIGNS)
    for campaign in bare["results"]:
        assert CAMPAIGN_REQUIRED <= set(campaign) and campaign["properties"] == {}
        assert all(isinstance(u["id"], int) for u in campaign["businessUnits"])
    page = http.get("/marketing/v3/campaigns/", {"limit": 2, "properties": ["hs_name",
                                                                            "hs_nope"]}).json()
    assert [c["properties"] for c in page["results"]] == [{"hs_name": n}
                                                          for n in mk.BASE_CAMPAIGNS[:2]]
    rest = http.get("/marketing/v3/campaigns/", {"after": page["paging"]["next"]["after"]})
    assert len(rest.json()["results"]) == 1
    account = sb.account(DEMO_PORTAL_ID)
    before = mk.truth_campaigns(account, ["hs_name"])
    for _ in range(3):
        sb.advance(DEMO_PORTAL_ID)
    after = mk.truth_campaigns(account, ["hs_name"])
    assert len(set(before) - set(after)) == 1 and len(set(after) - set(before)) == 1
    first = next(iter(before))
    assert after[first]["properties"]["hs_name"] != before[first]["properties"]["hs_name"]
    assert after[first]["updatedAt"] > before[first]["updatedAt"]
    denied = sandbox_factory(sizes=SIZES, denied_types={"campaigns"})
    r = Http(denied).get("/marketing/v3/campaigns/")
    assert r.status_code == 403 and mk.CAMPAIGNS_SCOPE in r.text


# -- marketing email events (legacy v1: no official-client model, no OpenAPI file) -----------
def test_email_events_window_paging_order_and_advance(sb, sandbox_factory):
    http = Http(sb)
    every, offset = [], None
    while True:
        body = http.get("/email/public/v1/events",
                        {"limit": 37, **({"offset": offset} if offset else {})}).json()
        assert {"events", "hasMore", "offset"} <= set(body)
        every += body["events"]
        if not body["hasMore"]:
            break
        offset = body["offset"]
    account = sb.account(DEMO_PORTAL_ID)
    assert {e["id"]: e for e in every} == mk.truth_email_events(account)
    created = [e["created"] for e in every]
    assert created == sorted(created, reverse=True)
    assert {e["type"] for e in every} == {"SENT", "DELIVERED", "BOUNCE", "OPEN", "CLICK"}
    big = http.get("/email/public/v1/events", {"limit": 5000}).json()
    assert len(big["events"]) == min(mk.EMAIL_EVENTS_LIMIT_MAX, len(every))
    before = set(mk.truth_email_events(account))
    sb.advance(DEMO_PORTAL_ID)
    since = account.step_times[-1] - 1_000
    window = http.get("/email/public/v1/events", {"startTimestamp": since,
                                                  "limit": 1000}).json()["events"]
    new = set(mk.truth_email_events(account)) - before
    assert {e["id"] for e in window} == new and len(new) == len(mk.BASE_EMAILS) * 4
    assert http.get("/email/public/v1/events", {"eventType": "CLICK", "startTimestamp": since}
                    ).json()["events"][0]["type"] == "CLICK"
    denied = sandbox_factory(sizes=SIZES, denied_types={"email_events"})
    r = Http(denied).get("/email/public/v1/events")
    assert r.status_code == 403 and mk.EMAILS_SCOPE in r.text
