"""What a data team sees in Dagster, with real parts (sandbox over HTTP, pymongo,
Dagster's executor): progress lines, the check's severities, per-unit and per-type
tables, current totals, run tags and the job-history summary on the run."""

import logging

import dagster as dg
import pytest

from hubspot_assets.defs.checks import CHECK_NAME, stage_check_result
from hubspot_assets.defs.history import readable_job_name, run_summary, summary_tags
from hubspot_assets.defs.resources import HubSpotResource, HubSpotSettings
from hubspot_assets.defs.runs import SKIPPED_TAG, SOURCE_TAG, SUMMARY_TAG, TRIGGER_TAG, trigger_of
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot.errors import ServerError
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.sandbox import DEMO_TOKEN

SIZES = {"contacts": 300, "companies": 20, "deals": 10}


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def scoped_run(pipeline, sandbox_factory, monkeypatch):
    """A sync of a source whose token lacks the deals scope, progress logged on every flush."""
    monkeypatch.setattr("hubspot_assets.extract.progress.INTERVAL", 0.0)  # consolidation
    standard = pipeline.resources

    def resources():
        # HUBSPOT_PROGRESS_SECONDS as the code location reads it, set very short.
        return {**standard(), "hubspot": HubSpotResource(
            sources_file=str(pipeline.sources_file), settings=HubSpotSettings(
                limiter_backend="memory", max_in_flight=6, progress_seconds=1e-6))}

    monkeypatch.setattr(pipeline, "resources", resources)
    monkeypatch.setattr("hubspot_assets.extract.stage_stream.FLUSH_SECONDS", 0.0)
    server = sandbox_factory(sizes=SIZES, denied_types={"deals"}, events_per_type=20)
    pipeline.add_source("scoped", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("scoped")
    assert result.success
    return pipeline, result


def test_a_skipped_type_warns_and_every_stage_carries_its_table(scoped_run):
    pipeline, result = scoped_run
    checks = checks_of(result)
    assert {c.check_name for c in checks.values()} == {CHECK_NAME}
    assert set(checks) == {"custom_object_schemas", "object_download_list", "object_records",
                           "event_types", "events", "relationships", "property_history"}
    listing = checks["object_download_list"]
    assert not listing.passed and listing.severity == dg.AssetCheckSeverity.WARN
    assert "deals" in listing.description and "crm.objects.deals.read" in listing.description
    assert checks["object_records"].passed

    metadata = stage_metadata(result)
    table = metadata["object_records"]["per_unit_counts"]
    rows = {r.data["unit"]: r.data for r in table.records}
    assert rows["contacts"]["status"] == "ok" and "deals" not in rows
    assert rows["contacts"]["records"] + rows["contacts"]["archived"] == 300
    assert rows["contacts"]["archived"] > 0 and rows["contacts"]["seconds"] >= 0
    # Every call of the stage is counted in the row of the unit it was made for.
    # An object type's row: a listing and an archived one, at least (the reference and
    # marketing units beside them, e.g. a type's pipelines, may be one listing).
    object_types = {r.data["object_type"]
                    for r in metadata["consolidated_objects"]["per_type_counts"].records}
    assert object_types and object_types <= set(rows)
    assert all(rows[t]["calls"] >= 2 for t in object_types)
    assert all(row["calls"] >= 1 for row in rows.values())
    assert sum(row["calls"] for row in rows.values()) == metadata["object_records"]["api_calls"]
    assert {c.name for c in table.schema.columns} >= {"records", "archived", "calls", "errors",
                                                        "seconds"}
    listing_rows = {r.data["unit"]: r.data
                    for r in metadata["object_download_list"]["per_unit_counts"].records}
    assert listing_rows["deals"]["status"] == "skipped"
    assert "crm.objects.deals.read" in listing_rows["deals"]["reason"]
    for stage in checks:
        assert "limiter_wait_seconds_summed_over_workers" in metadata[stage]
        assert "limiter_wait_seconds" not in metadata[stage]

    objects = metadata["consolidated_objects"]
    live = pipeline.stream("scoped", "objects").count_documents({"deleted": False})
    assert objects["dagster/row_count"] == live >= 320
    per_type = {r.data["object_type"]: r.data for r in objects["per_type_counts"].records}
    # What the first run fetched per type is what the collection now holds per type.
    assert (per_type["contacts"]["objects"], per_type["contacts"]["deleted"]) == (
        rows["contacts"]["records"], rows["contacts"]["archived"])
    assert per_type["companies"]["total"] == 20
    edges = metadata["consolidated_relationships"]
    assert edges["dagster/row_count"] == pipeline.stream("scoped", "relationships") \
        .count_documents({"removed": False}) > 0
    assert edges["per_pair_counts"].records


def test_progress_and_the_skip_are_in_the_run_log(scoped_run):
    pipeline, result = scoped_run
    messages = [(e.level, e.step_key, e.user_message)
                for e in pipeline.instance.all_logs(result.run_id)]
    progress = [m for _, step, m in messages if step == "object_records"
                and m.startswith("progress object_records contacts: ")]
    assert progress and "records in" in progress[0]
    # A full listing running past the interval learned its total (one search call).
    assert any("total (" in line for line in progress), progress
    assert any(m.startswith("progress consolidated_objects: ") for _, _, m in messages)
    warnings = [m for level, step, m in messages if level == logging.WARNING
                and step == "object_download_list"]
    assert any("deals skipped" in m and "crm.objects.deals.read" in m for m in warnings)


def test_runs_carry_tags_and_keys_stay_on_incremental_runs(scoped_run):
    pipeline, first = scoped_run
    tags = pipeline.instance.get_run_by_id(first.run_id).tags
    assert tags[SOURCE_TAG] == "scoped" and tags[TRIGGER_TAG] == "manual"
    second = pipeline.sync("scoped")
    assert second.success
    first_keys, second_keys = stage_metadata(first), stage_metadata(second)
    assert second_keys["object_records"]["mode"] == "incremental"
    # The same keys on a full and an incremental run (no gaps in the plots).
    for stage, values in first_keys.items():
        assert set(values) - {"watermarks_withdrawn"} <= set(second_keys[stage]), stage
    assert second_keys["object_records"]["records"] == second_keys["object_records"][
        "modified_records"]
    assert second_keys["consolidated_objects"]["dagster/row_count"] == \
        first_keys["consolidated_objects"]["dagster/row_count"]


def test_the_history_summary_names_skipped_units_and_goes_on_the_run(scoped_run):
    pipeline, result = scoped_run
    run = pipeline.instance.get_run_by_id(result.run_id)
    with dg.build_run_status_sensor_context(
            sensor_name="job_history_on_success", dagster_instance=pipeline.instance,
            dagster_run=run, dagster_event=result.get_run_success_event()) as context:
        summary = run_summary(context, "SUCCESS")
    assert summary["trigger"] == "manual" and summary["source_id"] == "scoped"
    [skipped] = summary["skipped"]
    assert skipped["stage"] == "object_download_list" and skipped["unit"] == "deals"
    assert skipped["scopes"] == ["crm.objects.deals.read"]
    tags = summary_tags(summary)
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert tags[SUMMARY_TAG].startswith(f"success: {len(materialized)} asset(s), ")
    assert "1 skipped" in tags[SUMMARY_TAG]
    assert tags[SKIPPED_TAG] == "object_download_list/deals (needs crm.objects.deals.read)"


def test_a_failed_unit_fails_the_check_with_error_severity(monkeypatch):
    monkeypatch.setattr("hubspot_assets.extract.units.UNIT_ATTEMPTS", 1)
    report = StageReport("events", "acme")
    list(report.guarded("e_visited_page", iter([1])))
    report.unit_failed("e_clicked", ServerError("HubSpot answered 503", status=503))
    result = stage_check_result(report.metadata())
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert "e_clicked" in result.description and "503" in result.description
    # A stub (a record stored without its data) is missing data too.
    assert stage_check_result({"records_stubbed": 2}).severity == dg.AssetCheckSeverity.ERROR
    assert stage_check_result({"units": 3, "errors": 1}).passed  # a retry that recovered


def test_runs_are_named_and_triggers_read_from_dagster_tags():
    assert readable_job_name("__ASSET_JOB", ["object_records"]) == "materialize object_records"
    assert readable_job_name("__ASSET_JOB_0", ["a", "b", "c", "d", "e"]) == \
        "materialize a, b, c and 2 more"
    assert readable_job_name("hubspot_sync", ["a"]) == "hubspot_sync"
    assert trigger_of({"dagster/schedule_name": "nightly"}) == "schedule:nightly"
    assert trigger_of({"dagster/backfill": "abc"}) == "backfill"
    assert trigger_of({TRIGGER_TAG: "sensor:first-sync"}) == "sensor:first-sync"
    assert trigger_of({}) == "manual"
