"""Incremental syncs on the sandbox: after a full sync and a step of changes (updates,
creations, archives, association changes that touch no object, new events, a bulk
import of >10,000 contacts on one millisecond), an incremental run leaves the
consolidated collections equal to the ground truth, for far fewer API calls; a run
that fails midway advances no watermark and loses nothing."""

import pymongo

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.hubspot.errors import RateLimitExhausted, ServerError
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets_tests.consolidate.expected import compare_consolidated
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

SIZES = {"contacts": 1000, "companies": 100, "deals": 100, "tickets": 30}
BULK_IMPORT = 10_500


def assert_current_state_matches_truth(pipeline, server, source_id="demo"):
    """Objects and edges equal the truth; the stream holds every event exactly once."""
    account = server.account(DEMO_PORTAL_ID)
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    comparison = compare_consolidated(db, source_id, account)
    assert comparison.complete, comparison.problems
    assert comparison.expected > 0
    for name, stream in account.events.items():
        ids = pipeline.stream(source_id).distinct("hubspot_id", {"kind": "event",
                                                                 "object_type": name})
        assert len(ids) == stream.total, name


REFERENCE_ENDPOINTS = ("owners.list", "pipelines.list", "properties.list",
                       "associations.labels")


def reference_calls(stats: dict) -> int:
    """Calls of the reference listings that every run makes in full."""
    return sum(sum(stats["by_endpoint"].get(name, {}).values()) for name in REFERENCE_ENDPOINTS)


def synced(pipeline, server, **kwargs):
    """One successful run and the number of HubSpot requests it made."""
    server.reset_stats()
    result = pipeline.sync("demo", **kwargs)
    assert result.success
    return result, server.stats()["total"]


def test_incremental_sync_equals_the_truth_for_far_fewer_calls(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, events_per_type=100)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    first, full_calls = synced(pipeline, server)
    assert stage_metadata(first)["object_records"]["mode"] == "full"
    assert_current_state_matches_truth(pipeline, server)

    step = server.advance(DEMO_PORTAL_ID, bulk_import=BULK_IMPORT)
    assert sum(step["associations_removed"].values()) > 0
    second, bulk_calls = synced(pipeline, server)
    metadata = stage_metadata(second)
    assert metadata["object_records"]["mode"] == metadata["events"]["mode"] == "incremental"
    assert_current_state_matches_truth(pipeline, server)
    objects = metadata["consolidated_objects"]
    assert objects["objects_new"] == BULK_IMPORT + sum(map(len, step["created"].values()))
    assert objects["objects_changed"] == sum(map(len, step["updated"].values()))
    assert objects["objects_deleted"] == sum(map(len, step["archived"].values()))
    assert metadata["consolidated_relationships"]["edges_removed"] > 0

    # Runs minutes apart: without an overlap, the next run does not re-read the bulk
    # import (in production, hours apart, the default overlap costs next to nothing).
    server.advance(DEMO_PORTAL_ID)
    _, incremental_calls = synced(pipeline, server, overlap_minutes=0)
    fixed = reference_calls(server.stats())
    assert_current_state_matches_truth(pipeline, server)

    # The full re-sync finds nothing the incremental runs had missed.
    resync, resync_calls = synced(pipeline, server, full_refresh=True)
    metadata = stage_metadata(resync)
    assert metadata["object_records"]["mode"] == "full"
    assert [metadata["consolidated_objects"][f"objects_{k}"] for k in
            ("new", "changed", "deleted")] == [0, 0, 0]
    assert [metadata["consolidated_relationships"][f"edges_{k}"] for k in
            ("new", "changed", "removed")] == [0, 0, 0]
    print(f"\nHubSpot API calls: full sync {full_calls}; incremental with a bulk import of "
          f"{BULK_IMPORT:,} contacts {bulk_calls}; incremental {incremental_calls}; full "
          f"re-sync {resync_calls} ({resync_calls / incremental_calls:.1f}x the incremental)")
    # At 1,000 contacts most of an incremental run is a fixed cost (one search and
    # one archived listing per type, the association sweep); what scales with the
    # data is what it saves. The full re-sync reads its contacts from both ends.
    # Reference data (owners, pipelines, property and label definitions) is read in full
    # every run, HubSpot having no "modified since" for it: a fixed cost of both runs.
    assert (incremental_calls - fixed) * 2 < resync_calls - fixed


def test_a_run_that_fails_midway_advances_no_watermark_and_loses_nothing(
        pipeline, sandbox_factory, monkeypatch):
    server = sandbox_factory(sizes={"contacts": 800, "companies": 80, "deals": 60},
                             events_per_type=40)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    synced(pipeline, server)
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    watermarks = WatermarkStore(db)

    def units():
        return {stage: watermarks.load("demo", stage)["units"]
                for stage in ("object_records", "events")}

    before = units()
    server.advance(DEMO_PORTAL_ID)

    # Deals' search fails after one record (a unit error: the stage goes on), and
    # the events stream dies midway: the daily budget runs out (the step fails, no retry).
    search, events = HubSpotClient.search_modified, HubSpotClient.iter_events

    def failing_search(self, object_type, *args, **kwargs):
        for n, record in enumerate(search(self, object_type, *args, **kwargs)):
            if object_type == "deals" and n == 1:
                raise ServerError("injected: search failed", status=500)
            yield record

    def dying_events(self, *args, **kwargs):
        for n, event in enumerate(events(self, *args, **kwargs)):
            if n == 2:
                raise RateLimitExhausted("injected: daily budget spent", status=429)
            yield event

    monkeypatch.setattr(HubSpotClient, "search_modified", failing_search)
    monkeypatch.setattr(HubSpotClient, "iter_events", dying_events)
    failed = pipeline.sync("demo")
    assert not failed.success
    after = units()
    assert after["events"] == before["events"]
    assert after["object_records"]["deals"] == before["object_records"]["deals"]
    assert after["object_records"]["contacts"] > before["object_records"]["contacts"]

    monkeypatch.setattr(HubSpotClient, "search_modified", search)
    monkeypatch.setattr(HubSpotClient, "iter_events", events)
    synced(pipeline, server)
    assert_current_state_matches_truth(pipeline, server)
