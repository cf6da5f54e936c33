"""The schedule keeps sources current on its own: the real `dagster-daemon` launches the runs.

A local stack of its own (webserver + daemon, SQLite instance storage, the
MongoDB stand-in, a sandbox process) whose registry says: sync every minute.
Nobody launches a run; the test only watches. Two sources with working tokens
get scheduled runs that succeed and pass their freshness checks; a source whose
token HubSpot refuses gets scheduled runs that fail, and its `fresh` checks fail.
"""

import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from hubspot_assets_tests.fixtures.services import E2E_LIMITS
from hubspot_assets_tests.harness.graphql import RUN_FINISHED
from hubspot_assets_tests.harness.services import SandboxService
from hubspot_assets_tests.harness.sources_file import LocalSource
from hubspot_assets_tests.harness.stack import LocalStack, StackSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SCHEDULE = "hubspot_sync_schedule"
_TINY = {"contacts": 12, "companies": 4, "deals": 4, "tickets": 2, "line_items": 2}
ACCOUNTS = {
    "alpha": {"portal_id": 7_200_001, "token": "sched-alpha-token", "seed": 21, "sizes": _TINY,
              "events_per_type": 3},
    "beta": {"portal_id": 7_200_002, "token": "sched-beta-token", "seed": 22, "sizes": _TINY,
             "events_per_type": 3},
}
BROKEN = "broken"  # its token names no sandbox account: every sync fails with 401
# Two minute boundaries (the scheduler ticks on them) plus the runs themselves.
RUNS_TIMEOUT = 300.0
CHECK_TIMEOUT = 120.0
CHECKED_ASSETS = ("consolidated_objects", "consolidated_relationships")

_SCHEDULE_STATE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { name cronSchedule scheduleState { status } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture(scope="module")
def stack():
    workdir = Path(tempfile.mkdtemp(prefix="hubspot-schedule-"))
    sandbox = SandboxService({"accounts": list(ACCOUNTS.values()), "settings": {
        "ten_second_limit": 1000, "daily_limit": 1_000_000, "search_per_second": 50}},
        workdir=workdir).start()
    sources = [LocalSource(source_id, account["token"], base_url=sandbox.url, limits=E2E_LIMITS)
               for source_id, account in ACCOUNTS.items()]
    # A short allowed lag of its own: the registry's per-source override.
    sources.append(LocalSource(BROKEN, "sched-unknown-token", base_url=sandbox.url,
                               limits=E2E_LIMITS, extra={"schedule": {"max_lag": "2m"}}))
    stack = LocalStack(StackSettings(
        workdir=workdir, sources=sources, mode="split",
        register_partitions=True, run_new_sources=False,  # no first syncs: only the schedule
        schedule={"sync": "* * * * *", "full_resync": False, "max_lag": "30m"},
        extra_env={"HUBSPOT_FRESHNESS_INTERVAL_SECONDS": "5"},
        max_concurrent_runs=3,
    ))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def scheduled_runs(stack, source_id):
    return stack.graphql.runs({"dagster/partition": source_id, "hubspot/trigger": "schedule"})


def wait_for(what, probe, timeout, stack):
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} after {timeout:.0f}s\n{stack.diagnostics(lines=30)}")
        time.sleep(3)


def finished_run(stack, source_id):
    """The first scheduled run of a source, once it has finished."""
    def probe():
        runs = [r for r in scheduled_runs(stack, source_id) if r["status"] in RUN_FINISHED]
        return runs[-1] if runs else None
    return wait_for(f"finished scheduled run of {source_id}", probe, RUNS_TIMEOUT, stack)


def latest_check(stack, asset, source_id, record=False):
    """The latest `fresh` evaluation of one source's partition (or its execution record),
    read from the instance."""
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        records = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(asset), "fresh"), limit=50)
    for entry in records:  # newest first; runs that are planned or skipped have no verdict
        if entry.partition == source_id and entry.status.value in ("SUCCEEDED", "FAILED"):
            return entry if record else entry.evaluation
    return None


def test_the_schedule_is_running_by_default_under_automation(stack):
    selector = {**stack.graphql.repository_selector, "scheduleName": SCHEDULE}
    result = stack.graphql.query(_SCHEDULE_STATE, {"selector": selector})["scheduleOrError"]
    assert result["__typename"] == "Schedule", result
    assert result["cronSchedule"] == "* * * * *"
    assert result["scheduleState"]["status"] == "RUNNING"


def test_the_daemon_launches_scheduled_runs_for_two_sources_on_its_own(stack):
    for source_id in ACCOUNTS:
        run = finished_run(stack, source_id)
        assert run["status"] == "SUCCESS", stack.graphql.run_failure_messages(run["runId"])
        assert run["jobName"] == "hubspot_sync"
        assert run["tags"]["hubspot/mode"] == "incremental"
        assert run["tags"]["dagster/schedule_name"] == SCHEDULE
        assert run["tags"]["dagster/run_key"].startswith(f"incremental:{source_id}:")
    # One run per source and occurrence: no run key was launched twice; and nothing but
    # the schedule launched a sync of these sources (the freshness sensor's check runs,
    # "no successful sync yet" before the first one, are not syncs).
    for source_id in ACCOUNTS:
        syncs = [r for r in stack.graphql.runs({"dagster/partition": source_id})
                 if r["jobName"] != "hubspot_freshness"]
        assert {r["tags"].get("hubspot/trigger") for r in syncs} == {"schedule"}
        keys = [r["tags"]["dagster/run_key"] for r in scheduled_runs(stack, source_id)]
        assert len(keys) == len(set(keys)), keys


def test_synced_sources_are_fresh(stack):
    # The sensor may have recorded "no sync yet" before the run; the run's own
    # evaluation of the check comes after it.
    for source_id in ACCOUNTS:
        finished_run(stack, source_id)
        for asset in CHECKED_ASSETS:
            def passed(asset=asset, source_id=source_id):
                evaluation = latest_check(stack, asset, source_id)
                return evaluation if evaluation is not None and evaluation.passed else None
            evaluation = wait_for(f"passing fresh evaluation of {source_id}/{asset}", passed,
                                  CHECK_TIMEOUT, stack)
            assert "last_good_sync" in evaluation.metadata, evaluation.metadata


def test_a_source_whose_syncs_fail_shows_a_failing_freshness_check(stack):
    run = finished_run(stack, BROKEN)
    assert run["status"] == "FAILURE"
    for asset in CHECKED_ASSETS:
        evaluation = wait_for(f"fresh evaluation of {BROKEN}/{asset}",
                              lambda: latest_check(stack, asset, BROKEN), CHECK_TIMEOUT, stack)
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert "no successful sync yet" in evaluation.description
    # Recorded by a check run the freshness sensor launched (the failed syncs never
    # evaluate their checks): not a runless evaluation.
    entry = latest_check(stack, CHECKED_ASSETS[0], BROKEN, record=True)
    [run] = [r for r in stack.graphql.runs({"dagster/partition": BROKEN})
             if r["runId"] == entry.run_id]
    assert run["jobName"] == "hubspot_freshness", run
    assert run["tags"]["hubspot/trigger"] == "sensor:freshness"
    assert run["status"] == "SUCCESS"
