"""Reference units (unit tests with a fake client): owners and pipelines all-or-nothing,
skips with HubSpot's reason, and how label definitions pair the two directions."""

from hubspot_assets.extract.reference import owner_records, pipeline_records, pipeline_types
from hubspot_assets.extract.relationships import reverse_types
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import Forbidden, ServerError


class FakeClient:
    limits = None

    def __init__(self, pages):
        self.pages = pages  # path -> list of responses (dict) or exceptions, in order
        self.calls = []

    def _get(self, path, endpoint, params=None, check=None, **_):
        self.calls.append((path, dict(params or {})))
        answer = self.pages[(path, (params or {}).get("archived"))].pop(0)
        if isinstance(answer, Exception):
            raise answer
        if check:
            check(answer)
        return answer


def owner(i, archived=False):
    return {"id": str(i), "archived": archived, "updatedAt": "2024-01-01T00:00:00Z"}


def test_owners_live_and_archived_all_pages():
    client = FakeClient({
        ("/crm/v3/owners/", "false"): [
            {"results": [owner(1)], "paging": {"next": {"after": "x"}}}, {"results": [owner(2)]}],
        ("/crm/v3/owners/", "true"): [{"results": [owner(3, True)]}]})
    report = StageReport("object_records", "s")
    records = list(owner_records(client, report))
    assert [r.hubspot_id for r in records] == ["1", "2", "3"]
    assert {r.kind for r in records} == {"owner"}
    assert report.counts["owners"] == 3


def test_owners_failing_on_a_later_page_yield_nothing_then_refetch(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_RETRY_DELAY", 0)
    monkeypatch.setattr("hubspot_assets.hubspot.paging.CURSOR_RESUME_ROUNDS", 0)
    failure = ServerError("boom", status=503)
    client = FakeClient({
        ("/crm/v3/owners/", "false"): [
            {"results": [owner(1)], "paging": {"next": {"after": "x"}}}, failure,
            {"results": [owner(1)]}],
        ("/crm/v3/owners/", "true"): [{"results": []}]})
    report = StageReport("object_records", "s")
    assert [r.hubspot_id for r in owner_records(client, report)] == ["1"]  # once, not twice
    assert report.counts["units_retried"] == 1


def test_a_missing_scope_is_a_skip_with_the_reason():
    denied = Forbidden("missing scope crm.objects.owners.read", status=403,
                       category="MISSING_SCOPES")
    client = FakeClient({("/crm/v3/owners/", "false"): [denied]})
    report = StageReport("object_records", "s")
    assert list(owner_records(client, report)) == []
    (detail,) = report.errors
    assert detail["skipped"] and "crm.objects.owners.read" in detail["message"]
    assert report.error_count == 0


def test_pipelines_only_for_ready_types_that_have_them():
    entries = [{"objectType": "deals", "status": "ready"},
               {"objectType": "tickets", "status": "skipped"},
               {"objectType": "contacts", "status": "ready"},
               {"objectType": "p1_pets", "status": "ready", "custom": True}]
    assert pipeline_types(entries) == ["deals"]
    client = FakeClient({("/crm/v3/pipelines/deals", None): [
        {"results": [{"id": "default", "stages": [{"id": "a"}, {"id": "b"}]}]}]})
    report = StageReport("object_records", "s")
    (record,) = pipeline_records(client, entries, report)
    assert (record.kind, record.object_type, record.hubspot_id) == ("pipeline", "deals",
                                                                    "default")
    assert report.counts["pipeline_stages"] == 2


def test_reverse_types_pair_by_category_and_label_when_unique():
    forward = [{"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None},
               {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
               {"category": "USER_DEFINED", "typeId": 34, "label": "Manager"},
               {"category": "USER_DEFINED", "typeId": 40, "label": "Twin"},
               {"category": "USER_DEFINED", "typeId": 41, "label": "Twin"}]
    backward = [{"category": "HUBSPOT_DEFINED", "typeId": 280, "label": None},
                {"category": "HUBSPOT_DEFINED", "typeId": 2, "label": "Primary"},
                {"category": "USER_DEFINED", "typeId": 35, "label": "Employee"},
                {"category": "USER_DEFINED", "typeId": 42, "label": "Twin"}]
    reverse = reverse_types(forward, backward)
    assert reverse == {("HUBSPOT_DEFINED", 279): {"category": "HUBSPOT_DEFINED", "typeId": 280,
                                                  "label": None},
                       ("HUBSPOT_DEFINED", 1): {"category": "HUBSPOT_DEFINED", "typeId": 2,
                                                "label": "Primary"}}
    # a paired label (Manager / Employee) and an ambiguous one (Twin) stay unmatched
