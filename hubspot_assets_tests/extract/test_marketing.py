"""Marketing units (unit tests with a fake client): which lists are read again, a failed
membership read stores no sweep and keeps its watermark, submissions stop at the
watermark, email events ask for the run's window, malformed pages are refused."""

import pytest

from hubspot_assets.extract.marketing import (
    email_event_records,
    list_records,
    list_unit,
    membership_records,
    submission_records,
)
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import MalformedResponse
from hubspot_assets.hubspot.marketing import iter_email_events, search_lists
from hubspot_assets.sync.plan import SyncPlan, SyncPolicy

SINCE_MS = 1_700_000_000_000  # the stored watermark
OVERLAP_MS = SyncPolicy().overlap_ms


class FakeClient:
    limits = None

    def __init__(self, answers):
        self.answers = answers  # path -> responses or exceptions, in order
        self.calls = []

    def _answer(self, path, params, check):
        self.calls.append((path, dict(params or {})))
        queue = self.answers[path]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]  # the last one repeats
        if isinstance(answer, Exception):
            raise answer
        if check:
            check(answer)
        return answer

    def _get(self, path, endpoint, params=None, check=None, **_):
        return self._answer(path, params, check)

    def _post(self, path, endpoint, body, params=None, check=None, **_):
        return self._answer(path, body, check)


def listed(list_id, added=None, removed=None, updated="2023-01-01T00:00:00.000Z"):
    extra = {"hs_list_size": "2"}
    if added:
        extra["hs_last_record_added_at"] = str(added)
    if removed:
        extra["hs_last_record_removed_at"] = str(removed)
    return {"listId": list_id, "objectTypeId": "0-1", "updatedAt": updated,
            "filtersUpdatedAt": updated, "additionalProperties": extra}


def search_page(*lists):
    return {"lists": list(lists), "hasMore": False, "offset": len(lists), "total": len(lists)}


def incremental_plan(units):
    return SyncPlan({"units": {u: SINCE_MS for u in units}}, SyncPolicy(),
                    started_ms=SINCE_MS + 3_600_000)


def members(*ids):
    return {"results": [{"recordId": str(i), "membershipTimestamp": "2024-01-01T00:00:00Z"}
                        for i in ids], "total": len(ids)}


def test_only_lists_changed_since_their_watermark_are_read_again():
    client = FakeClient({
        "/crm/v3/lists/search": [search_page(
            listed("1"), listed("2", removed=SINCE_MS + 5), listed("3", added=SINCE_MS - 1))],
        "/crm/v3/lists/2/memberships": [members(7, 9)],
        "/crm/v3/lists/3/memberships": [members(4)]})
    plan = incremental_plan([list_unit("1"), list_unit("2"), list_unit("3")])
    report = StageReport("events", "s")
    records = list(membership_records(client, report, max_workers=2, plan=plan))
    # list 1 unchanged; list 3's last add lies inside the overlap: read again
    assert {p for p, _ in client.calls} == {"/crm/v3/lists/search", "/crm/v3/lists/2/memberships",
                                             "/crm/v3/lists/3/memberships"}
    sweeps = {r.object_type: r.data for r in records if r.kind == "list_membership_sweep"}
    assert {k: v["members"] for k, v in sweeps.items()} == {"2": 2, "3": 1}
    assert report.counts["lists_unchanged"] == 1
    assert plan.completed() == [list_unit("1"), list_unit("2"), list_unit("3")]


def test_a_failed_membership_read_stores_no_sweep_and_keeps_its_watermark(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0)
    monkeypatch.setattr("hubspot_assets.hubspot.paging.CURSOR_RESUME_PAUSE", 0)
    broken = {"results": [{"membershipTimestamp": "2024-01-01T00:00:00Z"}]}  # no recordId
    client = FakeClient({
        "/crm/v3/lists/search": [search_page(listed("5"), listed("6"))],
        "/crm/v3/lists/5/memberships": [
            {"results": [{"recordId": "1", "membershipTimestamp": "x"}],
             "paging": {"next": {"after": "p2"}}}, broken],
        "/crm/v3/lists/6/memberships": [members(3)]})
    plan = SyncPlan.full()
    report = StageReport("events", "s")
    records = list(membership_records(client, report, max_workers=1, plan=plan))
    assert [r.object_type for r in records if r.kind == "list_membership_sweep"] == ["6"]
    assert plan.incomplete() == [list_unit("5")]
    document = plan.watermark_document("run")
    assert list_unit("5") not in document["units"] and list_unit("6") in document["units"]
    assert report.units_failed == 1 and "recordId" in report.errors[-1]["message"]
    # the list was fetched again from its start (the unit's own retries), never half-stored
    assert report.counts["list_memberships"] == 1  # list 6's only member


def test_filter_definitions_only_for_lists_changed_since_the_watermark():
    changed = listed("8", updated="2099-01-01T00:00:00.000Z")
    client = FakeClient({
        "/crm/v3/lists/search": [search_page(listed("1"), changed)],
        "/crm/v3/lists/": [{"lists": [{**changed, "filterBranch": {"filterBranchType": "OR"}}]}]})
    plan = incremental_plan(["lists"])
    records = list(list_records(client, StageReport("object_records", "s"), plan=plan))
    assert [(r.kind, r.hubspot_id) for r in records] == [
        ("list", "1"), ("list", "8"), ("list_definition", "8")]
    assert client.calls[-1][1]["listIds"] == ["8"]


def test_submissions_stop_at_the_first_one_older_than_the_watermark():
    since = SINCE_MS - OVERLAP_MS
    form_page = {"results": [{"id": "f1"}]}
    client = FakeClient({
        "/marketing/v3/forms": [form_page, {"results": []}],
        "/form-integrations/v1/submissions/forms/f1": [
            {"results": [{"submittedAt": since + 2, "conversionId": "a"},
                         {"submittedAt": since + 1, "conversionId": "b"},
                         {"submittedAt": since - 1, "conversionId": "c"}],
             "paging": {"next": {"after": "more"}}}]})  # the next page is never asked for
    plan = incremental_plan(["form:f1"])
    records = list(submission_records(client, StageReport("events", "s"), max_workers=1,
                                      plan=plan))
    assert [r.hubspot_id for r in records] == ["a", "b"]
    assert plan.completed() == ["form:f1"]


def test_email_events_ask_for_the_window_from_the_watermark_to_the_run_start():
    client = FakeClient({"/email/public/v1/events": [
        {"events": [{"id": "e1", "created": SINCE_MS, "type": "OPEN"}], "hasMore": True,
         "offset": "o1"},
        {"events": [{"id": "e2", "created": SINCE_MS - 5, "type": "SENT"}], "hasMore": False,
         "offset": ""}]})
    plan = incremental_plan(["email_events"])
    records = list(email_event_records(client, StageReport("events", "s"), plan=plan))
    assert [(r.hubspot_id, r.object_type) for r in records] == [("e1", "OPEN"), ("e2", "SENT")]
    first, second = (params for _, params in client.calls)
    assert first["startTimestamp"] == SINCE_MS - OVERLAP_MS
    assert first["endTimestamp"] == plan.started_ms
    assert second["offset"] == "o1"


@pytest.mark.parametrize("page", [
    {"lists": [{"name": "no id"}], "hasMore": False, "offset": 0},
    {"lists": [], "offset": 0},
    {"results": []},
])
def test_a_malformed_list_search_page_is_refused(page):
    with pytest.raises(MalformedResponse):
        search_lists(FakeClient({"/crm/v3/lists/search": [page]}))


def test_an_email_events_page_promising_more_without_an_offset_is_refused():
    client = FakeClient({"/email/public/v1/events": [{"events": [], "hasMore": True}]})
    with pytest.raises(MalformedResponse):
        list(iter_email_events(client))
