"""The six stages for one source, in process, against the sandbox: exact completeness,
idempotent re-runs, the error policy, and clear failures."""

import json

from hubspot_assets.defs.assets import STAGE_ASSETS
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

STAGES = {asset.key.to_user_string() for asset in STAGE_ASSETS}
SIZES = {"contacts": 2400, "companies": 30, "deals": 40, "tickets": 12}


def assert_stream_matches_truth(collection, account):
    """Every record, archived record, event and association, each version once."""
    comparison = compare_stream(collection, account)
    assert comparison.complete, comparison.problems
    assert comparison.expected > 0


def test_full_sync_matches_the_sandbox_exactly_and_reruns_add_nothing(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, events_per_type=150)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)

    first = pipeline.sync("demo")
    assert first.success
    collection = pipeline.stream("demo")
    account = server.account(DEMO_PORTAL_ID)
    assert_stream_matches_truth(collection, account)

    metadata = stage_metadata(first)
    assert set(metadata) == {"custom_object_schemas", "object_download_list", "object_records",
                             "event_types", "events", "relationships",
                             "consolidated_objects", "consolidated_relationships",
                             "consolidated_reference", "consolidated_marketing",
                             "property_history"}
    metadata = {stage: values for stage, values in metadata.items() if stage in STAGES}
    # A company with 1,200 contacts needs more than one page of associations.
    big = max(sum(1 for _ in account.pairs[("contacts", "companies")].children(p))
              for p in account.stores["companies"].iter_live())
    assert big > 500
    for stage, values in metadata.items():
        assert values["errors"] == 0, (stage, values["error_details"])
        assert values["http_429s"] == 0
        # property_history calls HubSpot only for the types a source opted in (none here)
        assert values["api_calls"] > 0 or stage == "property_history"
        assert values["dagster/partition_row_count"] == values["new"]
    total = collection.count_documents({})

    second = pipeline.sync("demo")
    assert second.success
    assert collection.count_documents({}) == total
    for stage, values in stage_metadata(second).items():
        if stage not in STAGES:
            continue
        assert values["new"] == 0, stage
        assert values["unchanged"] == values["dagster/partition_row_count"]

    # The comparison itself notices a lost record and a duplicated edge.
    collection.delete_one({"kind": "object", "object_type": "deals"})
    edge = collection.find_one({"kind": "relationship"}, {"_id": 0})
    collection.insert_one({**edge, "_id": "duplicate-edge"})
    broken = compare_stream(collection, account)
    assert (broken.missing, broken.duplicates) == (1, 1), broken.problems


def test_a_type_the_token_cannot_read_is_skipped_with_its_reason(pipeline, sandbox_factory):
    server = sandbox_factory(sizes={"contacts": 30, "deals": 10}, denied_types={"deals"})
    pipeline.add_source("scoped", token=DEMO_TOKEN, base_url=server.url)

    result = pipeline.sync("scoped")
    assert result.success
    collection = pipeline.stream("scoped")
    entry = collection.find_one({"kind": "download_list_entry", "object_type": "deals"})["data"]
    assert entry["status"] == "skipped"
    assert entry["httpStatus"] == 403
    assert "crm.objects.deals.read" in entry["reason"]
    assert collection.count_documents({"kind": "object", "object_type": "deals"}) == 0
    assert collection.count_documents({"kind": "object", "object_type": "contacts"}) == 30
    details = stage_metadata(result)["object_download_list"]["error_details"]
    assert [d["unit"] for d in details if d.get("skipped")] == ["deals"]
    assert_stream_matches_truth(collection, server.account(DEMO_PORTAL_ID))


def test_a_bad_token_fails_fast_naming_the_source_and_the_fix(pipeline, sandbox_factory):
    server = sandbox_factory(sizes={"contacts": 5})
    pipeline.add_source("revoked", token="sandbox-wrong-token-123", base_url=server.url)

    result = pipeline.sync("revoked", selection=["custom_object_schemas"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "revoked" in message and "HUBSPOT_TOKEN_REVOKED" in message
    assert "sandbox-wrong-token-123" not in json.dumps(
        [str(e) for e in result.all_events])
    # Not retried: one 401, not one per retry.
    stats = server.stats()
    assert stats["total"] == 1, stats["by_endpoint"]


def test_an_unknown_source_id_is_a_clear_error(pipeline, sandbox_factory):
    server = sandbox_factory(sizes={"contacts": 5})
    pipeline.add_source("known", token=DEMO_TOKEN, base_url=server.url)
    pipeline.instance.add_dynamic_partitions("hubspot_sources", ["ghost"])

    result = pipeline.sync("ghost", selection=["custom_object_schemas"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unknown source id 'ghost'" in failure.event_specific_data.error.message
    assert "known" in failure.event_specific_data.error.message
