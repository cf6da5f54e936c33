"""Events over time on the sandbox: a first sync, then steps of changes that send events
late (3 hours: inside the default lookback of a day; 30 hours: outside it) on contacts,
companies and deals, each followed by an incremental run. After every run the stream
holds every event the truth lists within the lookback, each exactly once (re-reading a
day of events costs calls, no documents); the 30-hour-late ones are the documented limit,
fetched by the next full re-sync. The same with account-wide event reads refused: the
stage reads per consolidated object, and says so (and what it cost) in the metadata and
the job history."""

import pytest

from hubspot_assets.registry import DEFAULT_EVENTS_LOOKBACK_HOURS
from hubspot_assets.stream.records import EMAIL_EVENT, FORM_SUBMISSION, LIST_MEMBERSHIP, LIST_SWEEP
from hubspot_assets.timestamps import HOUR_MS
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.pipeline.expected_events import check_events, event_ids
from hubspot_assets_tests.harness.run_history import record_job_history
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, truth

SIZES = {"contacts": 60, "companies": 12, "deals": 20, "tickets": 6}
LAGS_MS = (3 * HOUR_MS, 30 * HOUR_MS)
STEPS = 3


def marketing_documents(pipeline) -> int:
    """The stream's documents of the events stage's other kinds."""
    return pipeline.stream("demo").count_documents({"kind": {"$in": [
        LIST_MEMBERSHIP, LIST_SWEEP, FORM_SUBMISSION, EMAIL_EVENT]}})


def run(pipeline, **config):
    result = pipeline.sync("demo", **config)
    assert result.success
    return result, stage_metadata(result)["events"]


@pytest.mark.parametrize("refused", [False, True], ids=["account-wide", "refused"])
def test_late_events_within_the_lookback_are_stored_once(pipeline, sandbox_factory, refused):
    spec = AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes=SIZES, events_per_type=30,
                       late_event_lags_ms=LAGS_MS, events_need_object=refused)
    server = sandbox_factory(accounts=[spec])
    account = server.account(DEMO_PORTAL_ID)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    on = {e["objectType"] for e in truth.iter_events(account)}
    assert on == {"contact", "company", "deal"}

    first, metadata = run(pipeline)
    assert metadata["mode"] == "full"
    check_events(pipeline, account, full=True)
    assert ("events_fallback" in metadata) is refused
    if refused:  # nothing stored yet: every object type an event can be on is read
        assert set(metadata["events_fallback"]["object_types"]) == {
            "contacts", "companies", "deals", "tickets"}
        assert set(metadata["events_fallback"]["basis"].values()) == {"no event stored yet"}
    costs = [("first sync", metadata["api_calls"], metadata.get("fallback_calls", 0))]

    for step in range(STEPS):
        before = set(event_ids(pipeline))
        marketing_before = marketing_documents(pipeline)
        changes = server.advance(DEMO_PORTAL_ID)
        assert all(len(ids) == len(LAGS_MS) for ids in changes["events_late"].values())
        result, metadata = run(pipeline)
        assert metadata["mode"] == "incremental"
        after = check_events(pipeline, account, full=False)
        # Only the new events are new documents: everything re-read through the
        # lookback (a day: all events sent on time since the first sync) is matched.
        # (The stage also writes memberships, submissions and email events: theirs apart.)
        new_events = metadata["new"] - (marketing_documents(pipeline) - marketing_before)
        assert new_events == len(after - before)
        assert metadata["events"] > new_events if step else True
        assert metadata["unchanged"] == metadata["dagster/partition_row_count"] - metadata["new"]
        assert metadata["events_lookback_hours"] == DEFAULT_EVENTS_LOOKBACK_HOURS
        if refused:
            fallback = metadata["events_fallback"]
            assert fallback["event_types"] == sorted(account.events)
            # Once events are stored, each type is read only over the type it is on.
            assert set(fallback["object_types"]) == {"contacts", "companies", "deals"}
            assert fallback["objects_read"] == sum(
                len(list(truth.iter_records(account, t))) +
                len(list(truth.iter_records(account, t, archived=True)))
                for t in ("contacts", "companies", "deals"))
            assert metadata["fallback_calls"] == fallback["calls"] >= fallback["objects_read"]
            history = record_job_history(pipeline.instance, result.run_id, pipeline.mongo_uri,
                                         pipeline.database)
            events = history["stages"]["events"]
            assert events["events_fallback"]["calls"] == fallback["calls"]
            assert events["fallback_objects"] == fallback["objects_read"]
        else:
            assert "events_fallback" not in metadata
        costs.append((f"step {step + 1}", metadata["api_calls"], metadata.get("fallback_calls", 0)))

    # The documented limit: events sent more than the lookback late wait for a full re-sync.
    _, metadata = run(pipeline, full_refresh=True)
    assert metadata["mode"] == "full"
    check_events(pipeline, account, full=True)
    costs.append(("full re-sync", metadata["api_calls"], metadata.get("fallback_calls", 0)))
    print(f"\nevents stage calls ({'refused: per object' if refused else 'account-wide'}, "
          f"{len(account.events)} event types): " + "; ".join(
              f"{what} {calls} ({per_object} per object)" for what, calls, per_object in costs))
