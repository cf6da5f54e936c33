"""MongoDB loses data between two runs: the database is dropped (a failover to an empty
node), or the stream and objects are lost while the watermarks survive (a partial
restore), or the database is lost while a stage runs. The next run notices, syncs in
full and restores a complete stream and consolidated state, compared with the
sandbox's ground truth."""

import pymongo

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.pipeline.test_incremental import assert_current_state_matches_truth
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

SIZES = {"contacts": 600, "companies": 60, "deals": 40}


def assert_complete(pipeline, server):
    comparison = compare_stream(pipeline.stream("demo"), server.account(DEMO_PORTAL_ID))
    assert comparison.complete, comparison.problems
    assert_current_state_matches_truth(pipeline, server)


def first_sync(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, events_per_type=40)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    assert pipeline.sync("demo").success
    server.advance(DEMO_PORTAL_ID)
    return server, pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]


def test_a_failover_to_an_empty_node_is_followed_by_a_complete_full_sync(
        pipeline, sandbox_factory):
    server, db = first_sync(pipeline, sandbox_factory)
    db.client.drop_database(db.name)
    again = pipeline.sync("demo")
    assert again.success
    metadata = stage_metadata(again)
    assert metadata["object_records"]["mode"] == metadata["events"]["mode"] == "full"
    assert metadata["consolidated_objects"]["mode"] == "full"
    assert_complete(pipeline, server)


def test_watermarks_that_outlived_their_data_are_ignored_and_the_data_restored(
        pipeline, sandbox_factory):
    server, db = first_sync(pipeline, sandbox_factory)
    assert pipeline.sync("demo").success  # an incremental run: its watermarks vouch for it
    server.advance(DEMO_PORTAL_ID)
    for suffix in ("stream", "objects"):  # the data restored from an older, empty backup
        db.drop_collection(f"source_demo_{suffix}")
    again = pipeline.sync("demo")
    assert again.success
    metadata = stage_metadata(again)
    for stage in ("object_records", "events"):
        assert metadata[stage]["mode"] == "full", metadata[stage]["mode_reason"]
        assert "data was lost" in metadata[stage]["mode_reason"]
    objects = metadata["consolidated_objects"]
    assert objects["mode"] == "full" and "data was lost" in objects["mode_reason"]
    assert_complete(pipeline, server)
    # Trusted again: the next run is incremental.
    assert stage_metadata(pipeline.sync("demo"))["object_records"]["mode"] == "incremental"


def test_a_database_lost_while_a_stage_runs_withdraws_its_watermarks(
        pipeline, sandbox_factory, monkeypatch):
    server, db = first_sync(pipeline, sandbox_factory)
    iter_events = HubSpotClient.iter_events
    dropped = []

    def failing_over(self, *args, **kwargs):
        for n, event in enumerate(iter_events(self, *args, **kwargs)):
            if not dropped:  # MongoDB fails over to an empty node mid-stage
                dropped.append(True)
                db.client.drop_database(db.name)
            yield event

    monkeypatch.setattr(HubSpotClient, "iter_events", failing_over)
    during = pipeline.sync("demo")
    assert dropped
    # Stages that read an upstream stage's stream after the drop fail loudly (it is
    # gone); the stage under way finishes, but vouches for nothing it cannot see.
    failed = {e.step_key for e in during.all_events if e.event_type_value == "STEP_FAILURE"}
    print("failed after the drop:", sorted(failed))
    events = stage_metadata(during)["events"]
    assert "data was lost" in events["watermarks_withdrawn"], events
    assert db["watermarks"].find_one({"stage": "events"}) is None
    monkeypatch.setattr(HubSpotClient, "iter_events", iter_events)
    after = pipeline.sync("demo")
    assert after.success
    assert stage_metadata(after)["events"]["mode"] == "full"
    assert_complete(pipeline, server)
