"""The sync schedule's run requests and the freshness sensor's verdicts, on a real instance.

Dagster's own machinery (an ephemeral instance, `build_schedule_context`,
`build_sensor_context`); the run history the schedule reads is real runs added
to that instance.
"""

import uuid
from datetime import timedelta

import dagster as dg
import pytest

from hubspot_assets.defs.assets import consolidated_objects, consolidated_relationships
from hubspot_assets.defs.definitions import defs
from hubspot_assets.defs.freshness import CHECK_NAME, hubspot_freshness_sensor
from hubspot_assets.defs.jobs import FULL_REFRESH_CONFIG
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.defs.schedules import default_status, hubspot_sync_schedule
from hubspot_assets.timestamps import utcnow

REPOSITORY = defs.get_repository_def()

REGISTRY = """
schedule: {sync: "* * * * *", full_resync: false}
sources:
  - {id: alpha, token_env: TOKEN_ALPHA}
  - {id: beta, token_env: TOKEN_BETA}
  - {id: quiet, token_env: TOKEN_QUIET, schedule: {sync: false}}
  - {id: weekly, token_env: TOKEN_WEEKLY, schedule: {sync: false, full_resync: "* * * * *"}}
  - {id: unlisted, token_env: TOKEN_UNLISTED}
  - {id: broken, token_env: TOKEN_BROKEN, schedule: {sync: "0 24 * * *"}}
"""


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(source_partitions.name,
                                        ["alpha", "beta", "quiet", "weekly", "broken"])
        yield instance


@pytest.fixture
def hubspot(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(REGISTRY)
    return HubSpotResource(sources_file=str(path))


def tick(instance, hubspot, when):
    # The code location's own repository: partition keys are resolved as the daemon does.
    # Entered and left: the context's resources must not outlive the evaluation.
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                   resources={"hubspot": hubspot},
                                   repository_def=REPOSITORY) as context:
        return hubspot_sync_schedule.evaluate_tick(context)


def judge(instance, hubspot):
    with dg.build_sensor_context(instance=instance, resources={"hubspot": hubspot}) as context:
        return hubspot_freshness_sensor(context)


def add_run(instance, source_id, status=dg.DagsterRunStatus.SUCCESS, tags=None):
    run = dg.DagsterRun(job_name="hubspot_sync", run_id=str(uuid.uuid4()), status=status,
                        tags={"dagster/partition": source_id, **(tags or {})})
    instance.add_run(run)
    return run


def minute(offset=0):
    return utcnow().replace(second=0, microsecond=0) + timedelta(minutes=offset)


def test_one_request_per_due_source_partition_with_mode_and_trigger(instance, hubspot):
    now = minute()
    result = tick(instance, hubspot, now)
    requests = {r.partition_key: r for r in result.run_requests}
    # quiet is off, unlisted has no partition yet, broken is invalid.
    assert sorted(requests) == ["alpha", "beta", "weekly"]
    alpha = requests["alpha"]
    assert alpha.run_key == f"incremental:alpha:{now.isoformat()}"
    assert alpha.tags["hubspot/mode"] == "incremental"
    assert alpha.tags["hubspot/trigger"] == "schedule"
    assert alpha.tags["hubspot/source"] == "alpha"
    assert alpha.tags["hubspot/due"] == now.isoformat()
    assert alpha.run_config == {}
    weekly = requests["weekly"]
    assert weekly.tags["hubspot/mode"] == "full" and weekly.run_config == FULL_REFRESH_CONFIG
    # The same tick evaluated again (a daemon retry) asks for the same run keys.
    again = tick(instance, hubspot, now)
    assert sorted(r.run_key for r in again.run_requests) == sorted(
        r.run_key for r in result.run_requests)


def test_a_run_after_the_occurrence_serves_it_and_a_run_under_way_blocks(instance, hubspot):
    add_run(instance, "alpha")  # created after this minute began: it serves this occurrence
    add_run(instance, "beta", status=dg.DagsterRunStatus.STARTED)
    add_run(instance, "weekly", tags={"hubspot/mode": "full"})
    assert {r.partition_key for r in tick(instance, hubspot, minute()).run_requests} == set()
    # A minute later alpha's occurrence is after its run; beta's run still holds it.
    later = tick(instance, hubspot, minute(1))
    assert sorted(r.partition_key for r in later.run_requests) == ["alpha", "weekly"]


def test_a_single_stage_or_check_run_does_not_count_as_a_sync(instance, hubspot):
    run = dg.DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()),
                        status=dg.DagsterRunStatus.SUCCESS,
                        asset_selection=frozenset({dg.AssetKey("event_types")}),
                        tags={"dagster/partition": "alpha"})
    instance.add_run(run)
    checks_only = dg.DagsterRun(
        job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS,
        asset_check_selection=frozenset({dg.AssetCheckKey(consolidated_objects.key, CHECK_NAME)}),
        tags={"dagster/partition": "alpha"})
    instance.add_run(checks_only)
    # alpha has no sync run: due only when an occurrence falls in this tick's window.
    assert "alpha" in {r.partition_key for r in tick(instance, hubspot, minute()).run_requests}


def test_nothing_due_is_a_skip_with_a_reason(instance, tmp_path):
    path = tmp_path / "off.yaml"
    path.write_text('schedule: {sync: false, full_resync: false}\n'
                    'sources: [{id: alpha, token_env: TOKEN_ALPHA}]\n')
    result = tick(instance, HubSpotResource(sources_file=str(path)), minute())
    assert not result.run_requests and "no source due" in result.skip_message


def test_the_default_status_is_running_and_settable():
    assert default_status({}) == dg.DefaultScheduleStatus.RUNNING
    assert default_status({"HUBSPOT_SCHEDULE_DEFAULT_STATUS": "stopped"}) == \
        dg.DefaultScheduleStatus.STOPPED
    with pytest.raises(ValueError, match="HUBSPOT_SCHEDULE_DEFAULT_STATUS='paused'"):
        default_status({"HUBSPOT_SCHEDULE_DEFAULT_STATUS": "paused"})


def test_freshness_sensor_judges_each_source_and_records_changes_only(instance, hubspot,
                                                                     monkeypatch):
    for asset in (consolidated_objects, consolidated_relationships):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset.key, partition="alpha"))
    result = judge(instance, hubspot)
    verdicts = {(e.partition, e.asset_key.to_user_string()): e for e in result.asset_events}
    # quiet has no cadence and no max_lag: nothing to judge.
    assert {p for p, _ in verdicts} == {"alpha", "beta"}
    for asset in ("consolidated_objects", "consolidated_relationships"):
        assert verdicts[("alpha", asset)].passed
        stale = verdicts[("beta", asset)]
        assert not stale.passed and stale.check_name == CHECK_NAME
        assert stale.severity == dg.AssetCheckSeverity.ERROR
        assert "no successful sync yet" in stale.description
    # Stored as the daemon stores them: the next evaluation has nothing new to record.
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    assert judge(instance, hubspot).asset_events == []
    # Ten minutes on, alpha's last good sync is older than its allowed 2 minutes (twice
    # the every-minute gap): its verdicts turn to failed; beta's stay failed, unrecorded.
    later = utcnow() + timedelta(minutes=10)
    monkeypatch.setattr("hubspot_assets.defs.freshness.utcnow", lambda: later)
    aged = judge(instance, hubspot).asset_events
    assert {(e.partition, e.passed) for e in aged} == {("alpha", False)} and len(aged) == 2
    assert "older than the allowed 2m" in aged[0].description
    assert aged[0].metadata["allowed_lag_minutes"].value == 2.0
