"""A sync as a deployment runs it: `dagster job execute` of `hubspot_sync` with the code
location's executor (step processes forked from a preloaded server, one shared limiter).

The events stage runs beside object_records; with account-wide event reads refused,
its per-object fallback waits for this run's records and still reads every event.
"""

import json
import subprocess

import dagster as dg
import pymongo

from hubspot_assets_tests.harness.cli_run import cli_environment, dagster_cli, step_timeline
from hubspot_assets_tests.harness.sources_file import LocalSource
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, truth

SOURCE = "steps"


def test_a_sync_runs_its_stages_in_parallel_processes_and_loses_nothing(
        tmp_path, mongo_uri, mongo_database, sandbox_factory):
    spec = AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes={"contacts": 1500, "companies": 150,
                                                          "deals": 150, "tickets": 40},
                       events_per_type=60, events_need_object=True)
    server = sandbox_factory(accounts=[spec], latency_ms=5)
    source = LocalSource(SOURCE, DEMO_TOKEN, base_url=server.url, limits={"window_seconds": 1})
    home, env = cli_environment(tmp_path, source, DEMO_TOKEN, mongo_uri, mongo_database)
    done = subprocess.run(
        [dagster_cli(), "job", "execute", "-m", "hubspot_assets.defs.definitions",
         "-j", "hubspot_sync", "--tags", json.dumps({"dagster/partition": SOURCE})],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        steps = step_timeline(instance, run.run_id)
    # One process per step, none of them the run's own.
    pids = {step["pid"] for step in steps.values()}
    assert len(pids) == len(steps) >= 11
    # Beside the records, not after them.
    assert steps["events"]["start"] < steps["object_records"]["end"]

    stream = pymongo.MongoClient(mongo_uri)[mongo_database][f"source_{SOURCE}_stream"]
    account = server.account(DEMO_PORTAL_ID)
    comparison = compare_stream(stream, account)
    assert comparison.complete, comparison.problems
    # Every event (the comparison holds them), read per object once the records were in.
    assert truth.summary(account, checksums=False, associations=False)["events"]
    assert "waiting for object_records" in done.stdout + done.stderr

