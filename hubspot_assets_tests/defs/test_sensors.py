"""The registry sensor keeps partitions in step; the history sensors write one document per run."""

import dagster as dg
import pymongo

from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource, JobHistoryResource
from hubspot_assets.defs.sensors import (
    hubspot_sources_sensor,
    job_history_on_failure,
    job_history_on_success,
)
from hubspot_assets_tests.sandbox import DEMO_TOKEN


def evaluate(instance, sources_file):
    context = dg.build_sensor_context(
        instance=instance, resources={"hubspot": HubSpotResource(sources_file=str(sources_file))})
    return hubspot_sources_sensor(context)


def apply(instance, result):
    for request in result.dynamic_partitions_requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)


def test_registry_sensor_adds_requests_and_removes(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {id: a, token_env: TA}\n  - {id: b, token_env: TB}\n"
                       "  - {id: 'bad id', token_env: TC}\n")
    result = evaluate(instance, sources)
    assert isinstance(result, dg.SensorResult)
    assert sorted(r.partition_key for r in result.run_requests) == ["a", "b"]
    apply(instance, result)
    assert set(instance.get_dynamic_partitions(source_partitions.name)) == {"a", "b"}

    assert isinstance(evaluate(instance, sources), dg.SkipReason)  # nothing changed

    # b removed; a becomes invalid: its partition (and history) stays.
    sources.write_text("run_new_sources: false\nsources:\n  - {id: a, token_env: 'not a var'}\n"
                       "  - {id: c, token_env: TC}\n")
    result = evaluate(instance, sources)
    assert result.run_requests == []
    apply(instance, result)
    assert set(instance.get_dynamic_partitions(source_partitions.name)) == {"a", "c"}


def test_registry_sensor_skips_with_the_reason_when_the_file_is_broken(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources: [\n")
    result = evaluate(dg.DagsterInstance.ephemeral(), sources)
    assert isinstance(result, dg.SkipReason)
    assert "not valid YAML" in result.skip_message


def run_and_record(pipeline, sensor, source_id):
    result = pipeline.sync(source_id)
    run = pipeline.instance.get_run_by_id(result.run_id)
    ended = {dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE}
    event = pipeline.instance.all_logs(result.run_id, of_type=ended)[-1].dagster_event
    history = JobHistoryResource(uri=pipeline.mongo_uri, database=pipeline.database)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=pipeline.instance,
        dagster_run=run, resources={"job_history": history})
    sensor(context)
    collection = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]["job_history"]
    return result, collection.find_one({"_id": result.run_id}), collection


def test_history_records_a_successful_run_with_stage_counts(pipeline, sandbox_factory):
    server = sandbox_factory(sizes={"contacts": 25, "deals": 5}, denied_types={"deals"})
    pipeline.add_source("hist", token=DEMO_TOKEN, base_url=server.url)
    result, document, collection = run_and_record(pipeline, job_history_on_success, "hist")
    assert result.success
    assert document["status"] == "SUCCESS" and document["source_id"] == "hist"
    assert set(document["stages"]) == {"custom_object_schemas", "object_download_list",
                                       "object_records", "event_types", "events", "relationships",
                                       "consolidated_objects", "consolidated_relationships",
                                       "property_history", "consolidated_reference",
                                       "consolidated_marketing"}
    assert document["stages"]["object_records"]["records"] > 25
    assert document["stages"]["object_records"]["mode"] == "full"
    assert document["stages"]["consolidated_objects"]["objects_new"] > 25
    assert document["api_calls"] == sum(s.get("api_calls", 0) for s in document["stages"].values())
    assert document["api_calls"] == server.stats()["total"]
    skipped = [e for e in document["errors"] if e.get("skipped")]
    assert [(e["stage"], e["unit"]) for e in skipped] == [("object_download_list", "deals")]
    assert document["started_at"] <= document["ended_at"]
    assert collection.count_documents({}) == 1


def test_history_records_a_failed_run_with_its_error_and_no_token(pipeline, sandbox_factory):
    server = sandbox_factory(sizes={"contacts": 5})
    pipeline.add_source("broken", token="sandbox-bad-token-777", base_url=server.url)
    result, document, _ = run_and_record(pipeline, job_history_on_failure, "broken")
    assert not result.success
    assert document["status"] == "FAILURE"
    fatal = [e for e in document["errors"] if e.get("fatal")]
    assert fatal and any("HUBSPOT_TOKEN_BROKEN" in e["message"] for e in fatal)
    assert "sandbox-bad-token-777" not in repr(document)
