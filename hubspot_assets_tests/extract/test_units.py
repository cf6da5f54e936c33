"""A stage's units: the error policy (one unit's error is recorded and the others go on;
fatal errors stop the stage; a stage that fetched nothing never looks successful), and
`interleave` (concurrent producers, one bounded stream)."""

import threading
import time

import pytest

from hubspot_assets.extract.records import object_records
from hubspot_assets.extract.relationships import association_pairs, relationship_records
from hubspot_assets.extract.units import StageFailed, StageReport, interleave
from hubspot_assets.hubspot.errors import (
    MissingScope,
    RateLimitExhausted,
    ServerError,
    Unauthorized,
)

ENTRIES = [
    {"objectType": "contacts", "objectTypeId": "0-1", "status": "ready", "properties": ["email"]},
    {"objectType": "companies", "objectTypeId": "0-2", "status": "ready", "properties": ["name"]},
    {"objectType": "deals", "objectTypeId": "0-3", "status": "skipped", "properties": []},
]


class FakeClient:
    """Unit-test double: records per type, or an error to raise for a type."""

    def __init__(self, failing=None, error=None):
        self.failing, self.error, self.calls = failing, error, []

    def iter_objects(self, object_type, properties, archived=False):
        self.calls.append((object_type, archived))
        yield {"id": f"{object_type}-1", "properties": {}, "updatedAt": "2026-01-01T00:00:00Z"}
        if object_type == self.failing and not archived:
            raise self.error


def test_an_error_on_one_type_is_recorded_and_the_others_complete(monkeypatch):
    # One fetch per unit here; re-fetching a failed unit: hubspot_assets_tests/reliability.
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_ATTEMPTS", 1)
    error = ServerError("HubSpot answered 503", status=503, category="SERVICE_UNAVAILABLE",
                        correlation_id="c0ffee-1", endpoint="/crm/v3/objects/companies")
    client = FakeClient(failing="companies", error=error)
    report = StageReport("object_records", "acme")
    records = list(object_records(client, ENTRIES, report, max_workers=3))

    assert sorted((r.object_type, r.hubspot_id) for r in records) == [
        ("companies", "companies-1"), ("companies", "companies-1"),
        ("contacts", "contacts-1"), ("contacts", "contacts-1")]
    assert ("deals", False) not in client.calls
    metadata = report.metadata()
    assert metadata["errors"] == 1 and metadata["units"] == 4 and metadata["units_failed"] == 1
    [detail] = metadata["error_details"]
    assert detail == {"unit": "companies", "type": "ServerError", "message": str(error),
                      "status": 503, "category": "SERVICE_UNAVAILABLE",
                      "correlation_id": "c0ffee-1", "endpoint": "/crm/v3/objects/companies"}


def test_a_403_on_one_unit_is_a_skip_with_the_reason_not_an_error():
    # e.g. a type whose properties are readable but whose listing needs another scope.
    error = MissingScope("The HubSpot private app lacks the scope(s) crm.objects.companies.read",
                         scopes=("crm.objects.companies.read",), status=403,
                         category="MISSING_SCOPES")
    client = FakeClient(failing="companies", error=error)
    report = StageReport("object_records", "acme")
    records = list(object_records(client, ENTRIES, report, max_workers=3))
    assert {r.object_type for r in records} == {"contacts", "companies"}
    metadata = report.metadata()
    assert metadata["errors"] == 0 and metadata["units_failed"] == 0
    assert metadata["skipped"] == 1
    [detail] = metadata["error_details"]
    assert detail["unit"] == "companies" and detail["skipped"] and detail["status"] == 403
    assert "crm.objects.companies.read" in detail["message"]


@pytest.mark.parametrize("error", [
    Unauthorized("token rejected", status=401),
    RateLimitExhausted("daily budget spent", status=429, resets_at="2026-11-29T00:00:00Z"),
])
def test_fatal_errors_stop_the_stage(error):
    client = FakeClient(failing="contacts", error=error)
    with pytest.raises(type(error)):
        list(object_records(client, ENTRIES[:1], StageReport("object_records", "acme"),
                            max_workers=2))


def test_a_stage_that_fetched_nothing_because_of_errors_fails():
    report = StageReport("events", "acme")
    report.unit_started()
    report.unit_failed("e_visited_page", ServerError("boom", status=500))
    with pytest.raises(StageFailed, match="fetched nothing; all 1 unit"):
        report.check_not_empty(0)
    report.check_not_empty(1)  # something was fetched: partial success is reported, not failed


def test_association_pairs_cover_standard_and_custom_types_once():
    entries = [
        {"objectType": "contacts", "objectTypeId": "0-1", "status": "ready"},
        {"objectType": "companies", "objectTypeId": "0-2", "status": "ready"},
        {"objectType": "deals", "objectTypeId": "0-3", "status": "skipped"},
        {"objectType": "p1_pets", "objectTypeId": "2-10", "status": "ready",
         "associatedTypeIds": ["0-1", "0-3"]},
    ]
    pairs = association_pairs(entries)
    assert ("contacts", "companies") in pairs
    assert ("p1_pets", "contacts") in pairs
    assert not any("deals" in pair for pair in pairs)
    assert len({frozenset(p) for p in pairs}) == len(pairs)


def test_relationship_ids_go_in_batches_of_at_most_1000():
    seen = []

    class Client:
        def association_labels(self, from_type, to_type):
            return [{"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]

        def iter_associations(self, from_type, to_type, ids):
            seen.append(len(ids))
            for i in ids:
                yield i, {"toObjectId": 7, "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]}

    records = list(relationship_records(
        Client(), [("contacts", "companies")], lambda t: (str(i) for i in range(2500)),
        StageReport("relationships", "acme"), max_workers=2))
    assert sorted(seen) == [500, 1000, 1000]
    labels = [r for r in records if r.kind == "association_label"]
    records = [r for r in records if r.kind == "relationship"]
    assert [r.object_type for r in labels] == ["contacts->companies", "companies->contacts"]
    assert len(records) == 2500
    assert records[0].data["toObjectId"] == "7"
    assert records[0].data["reverseAssociationTypes"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}]


def test_association_batches_in_flight_are_capped_whatever_the_client_allows():
    import threading
    import time

    from hubspot_assets.extract.relationships import ASSOCIATION_WORKERS

    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    class Client:
        def association_labels(self, from_type, to_type):
            return []

        def iter_associations(self, from_type, to_type, ids):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.02)  # each batch's answer is held while it is consumed
            yield ids[0], {"toObjectId": 7, "associationTypes": []}
            with lock:
                state["now"] -= 1

    records = list(relationship_records(
        Client(), [("contacts", "companies")], lambda t: (str(i) for i in range(40_000)),
        StageReport("relationships", "acme"), max_workers=48))
    assert len(records) == 40
    assert 1 < state["peak"] <= ASSOCIATION_WORKERS


# -- interleave --------------------------------------------------------------

def test_every_item_of_every_unit_arrives_once():
    out = list(interleave(range(50), lambda u: [(u, i) for i in range(7)], max_workers=4))
    assert sorted(out) == [(u, i) for u in range(50) for i in range(7)]


def test_units_run_concurrently_up_to_the_bound():
    running, peak, lock = 0, 0, threading.Lock()

    def produce(unit):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        yield unit

    assert sorted(interleave(range(12), produce, max_workers=3)) == list(range(12))
    assert peak == 3


def test_units_are_read_lazily():
    pulled = []

    def units():
        for u in range(1000):
            pulled.append(u)
            yield u

    stream = interleave(units(), lambda u: [u], max_workers=2, queue_size=4)
    next(stream)
    time.sleep(0.1)
    # Only a bounded number of units were taken from the source before the consumer asked.
    assert len(pulled) < 20
    stream.close()


def test_a_failing_unit_stops_the_stream_and_reaches_the_consumer():
    def produce(unit):
        yield unit
        if unit == 3:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        list(interleave(range(10), produce, max_workers=2))


def test_closing_early_stops_the_producers():
    before = threading.active_count()
    stream = interleave(range(100), lambda u: iter(range(10**6)), max_workers=4, queue_size=8)
    next(stream)
    stream.close()
    time.sleep(0.3)
    assert threading.active_count() <= before
