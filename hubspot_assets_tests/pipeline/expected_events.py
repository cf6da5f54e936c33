"""What the stream must hold of the sandbox's events after a run (the scenario tests)."""

from hubspot_assets.registry import DEFAULT_EVENTS_LOOKBACK_HOURS
from hubspot_assets.timestamps import HOUR_MS
from hubspot_assets_tests.sandbox import truth

LOOKBACK_MS = int(DEFAULT_EVENTS_LOOKBACK_HOURS * HOUR_MS)


def event_ids(pipeline, source_id="demo"):
    """(event type, id) of every event document, with repeats."""
    return [(d["object_type"], d["hubspot_id"]) for d in pipeline.stream(source_id).find(
        {"kind": "event"}, {"object_type": 1, "hubspot_id": 1})]


def check_events(pipeline, account, *, full: bool):
    """Every event the truth lists within the lookback is stored, each once; after an
    incremental run none sent later than the lookback is (what a full re-sync is for)."""
    stored = event_ids(pipeline)
    assert len(stored) == len(set(stored)), "an event is stored twice"
    expected = {(e["eventType"], e["id"]) for e in truth.iter_events(
        account, late_by_at_most=None if full else LOOKBACK_MS)}
    assert expected - set(stored) == set()
    too_late = {(e["eventType"], e["id"]) for e, lag in truth.iter_late_events(account)
                if lag > LOOKBACK_MS}
    assert (too_late <= set(stored)) if full else not (too_late & set(stored))
    return set(stored)
