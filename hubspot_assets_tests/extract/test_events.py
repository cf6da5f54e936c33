"""The events stage: incremental reads start the source's lookback before each
watermark; an account that refuses account-wide reads is read per stored object, the
fallback's cost recorded; a failed object read leaves its event types un-advanced."""

from hubspot_assets.extract.events import StoredObjects, asks_for_object, event_records
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import BadRequest, ServerError
from hubspot_assets.hubspot.stats import ClientStats
from hubspot_assets.sync.plan import SyncPlan, SyncPolicy
from hubspot_assets.timestamps import HOUR_MS, MINUTE_MS, iso

WATERMARK = 1_780_000_000_000
REFUSAL = BadRequest("HubSpot rejected the request: Events are returned for one CRM record at "
                     "a time: include objectType and objectId", status=400,
                     category="VALIDATION_ERROR")
EVENTS = {  # (objectType, objectId) -> events
    ("contact", "1"): [{"id": "a", "eventType": "e_visited_page", "objectType": "contact",
                        "objectId": "1", "occurredAt": "2026-05-28T00:00:00Z"},
                       {"id": "b", "eventType": "e_other", "objectType": "contact",
                        "objectId": "1", "occurredAt": "2026-05-28T00:00:00Z"}],
    ("contact", "2"): [{"id": "c", "eventType": "e_visited_page", "objectType": "contact",
                        "objectId": "2", "occurredAt": "2026-05-28T00:00:01Z"}],
    ("deal", "9"): [{"id": "d", "eventType": "pe1_deal_milestone", "objectType": "deal",
                     "objectId": "9", "occurredAt": "2026-05-28T00:00:02Z"}],
}


class FakeClient:
    """Answers account-wide reads (or refuses them) and per-object reads from EVENTS."""

    def __init__(self, refuse=(), failing_object=None):
        self.refuse, self.failing_object = set(refuse), failing_object
        self.calls, self.stats = [], ClientStats()

    def iter_events(self, event_type, occurred_after=None, object_type=None, object_id=None):
        self.calls.append((event_type, occurred_after, object_type, object_id))
        self.stats.record_call("/events/v3/events", 200, 0, 0)
        if object_id is None:
            if event_type in self.refuse:
                raise REFUSAL
            yield from (e for events in EVENTS.values() for e in events
                        if e["eventType"] == event_type)
            return
        if object_id == self.failing_object:
            raise ServerError("HubSpot answered 503", status=503)
        yield from EVENTS.get((object_type, object_id), [])


def incremental_plan(event_types):
    previous = {"units": {t: WATERMARK for t in event_types}}
    return SyncPlan(previous, SyncPolicy(), started_ms=WATERMARK + HOUR_MS)


def stored(known=None):
    ids = {"contacts": ["1", "2"], "deals": ["9"], "companies": [], "tickets": []}
    return StoredObjects(ids=lambda t: iter(ids[t]),
                         object_type_of=lambda e: (known or {}).get(e))


def test_incremental_reads_start_the_lookback_before_the_watermark():
    client, report = FakeClient(), StageReport("events", "acme")
    plan = incremental_plan(["e_visited_page"])
    records = list(event_records(client, ["e_visited_page"], report, max_workers=2, plan=plan,
                                 lookback_hours=24))
    assert [c[1] for c in client.calls] == [WATERMARK - 24 * HOUR_MS]
    assert {r.hubspot_id for r in records} == {"a", "c"}
    # A lookback shorter than the overlap keeps the overlap (10 minutes).
    client = FakeClient()
    list(event_records(client, ["e_visited_page"], report, max_workers=2,
                       plan=incremental_plan(["e_visited_page"]), lookback_hours=0.05))
    assert [c[1] for c in client.calls] == [WATERMARK - 10 * MINUTE_MS]
    assert report.metadata()["events_lookback_hours"] == 0.05


def test_refused_types_are_read_per_stored_object_and_the_cost_recorded():
    types = ["e_visited_page", "pe1_deal_milestone", "e_other"]
    client = FakeClient(refuse={"e_visited_page", "pe1_deal_milestone"})
    report, plan = StageReport("events", "acme"), incremental_plan(types)
    records = list(event_records(client, types, report, max_workers=3, plan=plan,
                                 lookback_hours=24, stored=stored({"e_visited_page": "contact"})))
    # e_other is read account-wide; its event on contact 1 is not stored twice.
    assert sorted((r.object_type, r.hubspot_id) for r in records) == [
        ("e_other", "b"), ("e_visited_page", "a"), ("e_visited_page", "c"),
        ("pe1_deal_milestone", "d")]
    per_object = [c for c in client.calls if c[3] is not None]
    # e_visited_page is known to be on contacts; the deal event type has none stored
    # yet, so every object type an event can be on is read (none holds companies/tickets).
    assert sorted((c[2], c[3]) for c in per_object) == [("contact", "1"), ("contact", "2"),
                                                        ("deal", "9")]
    assert all(c[0] is None and c[1] == WATERMARK - 24 * HOUR_MS for c in per_object)
    metadata = report.metadata()
    fallback = metadata["events_fallback"]
    assert fallback["event_types"] == ["e_visited_page", "pe1_deal_milestone"]
    assert "objectId" in fallback["reason"] and fallback["status"] == 400
    assert fallback["object_types"]["contacts"]["event_types"] == ["e_visited_page",
                                                                   "pe1_deal_milestone"]
    assert fallback["object_types"]["deals"] == {
        "event_types": ["pe1_deal_milestone"], "objects": 1, "events": 1, "failed": 0,
        "calls": 1, "occurred_after": iso(WATERMARK - 24 * HOUR_MS)}
    assert (fallback["calls"], fallback["objects_read"], fallback["events"]) == (3, 3, 3)
    assert (metadata["fallback_calls"], metadata["fallback_objects"]) == (3, 3)
    assert metadata["units_failed"] == 0 and metadata["errors"] == 0
    assert plan.completed() == sorted(types) and plan.incomplete() == []


def test_a_failed_object_read_leaves_its_event_types_unadvanced():
    types = ["e_visited_page", "pe1_deal_milestone"]
    client = FakeClient(refuse=set(types), failing_object="2")
    report, plan = StageReport("events", "acme"), incremental_plan(types)
    records = list(event_records(client, types, report, max_workers=2, plan=plan,
                                 stored=stored({"e_visited_page": "contact",
                                                "pe1_deal_milestone": "deal"})))
    assert {r.hubspot_id for r in records} == {"a", "d"}
    assert plan.incomplete() == ["e_visited_page"] and plan.completed() == ["pe1_deal_milestone"]
    metadata = report.metadata()
    assert metadata["errors"] == 1 and metadata["parts_failed"] == 1
    assert metadata["events_fallback"]["object_types"]["contacts"]["failed"] == 1
    [detail] = metadata["error_details"]
    assert detail["unit"] == "events of contact 2" and detail["status"] == 503


def test_without_stored_objects_or_for_other_400s_a_refusal_is_an_error():
    other = BadRequest("HubSpot rejected the request: limit must be at most 1000", status=400)
    assert asks_for_object(REFUSAL) and not asks_for_object(other)
    assert not asks_for_object(ServerError("objectId 503", status=503))
    client, report = FakeClient(refuse={"e_visited_page"}), StageReport("events", "acme")
    plan = incremental_plan(["e_visited_page"])
    assert list(event_records(client, ["e_visited_page"], report, max_workers=1,
                              plan=plan)) == []
    assert report.metadata()["units_failed"] == 1 and plan.incomplete() == ["e_visited_page"]


def test_a_type_on_an_object_the_fallback_cannot_name_is_noted_and_not_advanced():
    types = ["e_visited_page", "pe1_pet_fed"]
    client = FakeClient(refuse=set(types))
    report, plan = StageReport("events", "acme"), incremental_plan(types)
    list(event_records(client, types, report, max_workers=2, plan=plan,
                       stored=stored({"e_visited_page": "contact", "pe1_pet_fed": "2-4711"})))
    assert plan.incomplete() == ["pe1_pet_fed"] and plan.completed() == ["e_visited_page"]
    [note] = [e for e in report.metadata()["error_details"] if e.get("skipped")]
    assert note["unit"] == "pe1_pet_fed" and "'2-4711'" in note["message"]


def test_no_stored_objects_of_the_type_an_event_type_is_on_is_noted():
    client, report = FakeClient(refuse={"e_visited_page"}), StageReport("events", "acme")
    none = StoredObjects(ids=lambda t: iter(()), object_type_of=lambda e: "contact")
    plan = incremental_plan(["e_visited_page"])
    assert list(event_records(client, ["e_visited_page"], report, max_workers=1,
                              plan=plan, stored=none)) == []
    [note] = report.metadata()["error_details"]
    assert note["skipped"] and "no object of contacts is stored" in note["message"]
    assert report.metadata()["events_fallback"]["objects_read"] == 0
    # Not advanced: once objects are stored, a later run reads the type's whole history.
    assert plan.incomplete() == ["e_visited_page"]
