"""The sync schedule's run requests and the freshness sensor's verdicts, on a real instance.

Dagster's own machinery (an ephemeral instance, `build_schedule_context`,
`build_sensor_context`); the run history the schedule reads is real runs added
to that instance.
"""

import uuid
from datetime import timedelta

import dagster as dg
import pytest

from hubspot_assets.defs.assets import CONSOLIDATION_ASSETS, consolidated_objects
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


def check_run(instance, hubspot, request):
    """Carry out a freshness sensor's run request as the daemon would: a run of its job."""
    job = REPOSITORY.get_job(request.job_name or "hubspot_freshness")
    result = job.execute_in_process(instance=instance, resources={"hubspot": hubspot},
                                    tags=request.tags)
    assert result.success
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def requests_of(instance, hubspot):
    result = judge(instance, hubspot)
    return [] if isinstance(result, dg.SkipReason) else result.run_requests


def test_freshness_sensor_launches_a_check_run_where_the_verdict_shown_is_not_current(
        instance, hubspot, monkeypatch):
    for asset in CONSOLIDATION_ASSETS:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset.key, partition="alpha"))
    checks = {dg.AssetCheckKey(a.key, CHECK_NAME) for a in CONSOLIDATION_ASSETS}
    requests = {r.tags["dagster/partition"]: r for r in requests_of(instance, hubspot)}
    # quiet has no cadence and no max_lag: nothing to judge.
    assert set(requests) == {"alpha", "beta"}
    for source_id, request in requests.items():
        assert set(request.asset_check_keys) == checks
        assert request.tags["hubspot/trigger"] == "sensor:freshness"
        assert request.tags["hubspot/source"] == source_id
    verdicts = {source_id: check_run(instance, hubspot, r) for source_id, r in requests.items()}
    for asset in (a.key.to_user_string() for a in CONSOLIDATION_ASSETS):
        assert verdicts["alpha"][asset].passed
        stale = verdicts["beta"][asset]
        assert not stale.passed and stale.check_name == CHECK_NAME
        assert stale.severity == dg.AssetCheckSeverity.ERROR
        assert "no successful sync yet" in stale.description
    # Shown now: the next evaluation has nothing to launch.
    assert requests_of(instance, hubspot) == []

    # Ten minutes on, alpha's last good sync is older than its allowed 2 minutes (twice
    # the every-minute gap): a check run for alpha; beta's verdict stays failed, shown.
    def at(minutes):
        monkeypatch.setattr("hubspot_assets.defs.freshness.utcnow",
                            lambda: utcnow() + timedelta(minutes=minutes))
    at(10)
    [aged] = requests_of(instance, hubspot)
    assert aged.tags["dagster/partition"] == "alpha"
    failed = check_run(instance, hubspot, aged)["consolidated_objects"]
    assert not failed.passed and "older than the allowed 2m" in failed.description
    assert failed.metadata["allowed_lag_minutes"].value == 2.0
    # Back to fresh (here: the clock; in life, a sync) and stale a second time: each
    # turn is recorded, where a second runless evaluation of one partition is refused.
    for minutes, passed in ((0, True), (10, False)):
        at(minutes)
        [turn] = requests_of(instance, hubspot)
        assert {e.passed for e in check_run(instance, hubspot, turn).values()} == {passed}
    assert requests_of(instance, hubspot) == []


def test_no_check_run_while_a_run_of_the_source_is_under_way(instance, hubspot):
    # beta has never synced (its verdict: failed, not yet shown), but its first sync is
    # under way: that run evaluates the checks itself.
    add_run(instance, "beta", status=dg.DagsterRunStatus.STARTED)
    assert {r.tags["dagster/partition"] for r in requests_of(instance, hubspot)} == {"alpha"}
