"""A sync as a deployment runs it: `dagster job execute` of `hubspot_sync` with the code
location's executor (step processes forked from a preloaded server, one shared limiter).

The events stage runs beside object_records; with account-wide event reads refused,
its per-object fallback waits for this run's records and still reads every event.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pymongo

from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, truth

SOURCE = "steps"


def steps_of(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    """Per step: its process id, start and end (from the run's event log)."""
    steps: dict[str, dict] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        step = steps.setdefault(event.step_key, {})
        if event.event_type_value == "STEP_START":
            step.update(start=entry.timestamp, pid=event.pid)
        elif event.event_type_value == "STEP_SUCCESS":
            step["end"] = entry.timestamp
    return steps


def test_a_sync_runs_its_stages_in_parallel_processes_and_loses_nothing(
        tmp_path, mongo_uri, mongo_database, sandbox_factory):
    spec = AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes={"contacts": 1500, "companies": 150,
                                                          "deals": 150, "tickets": 40},
                       events_per_type=60, events_need_object=True)
    server = sandbox_factory(accounts=[spec], latency_ms=5)
    source = LocalSource(SOURCE, DEMO_TOKEN, base_url=server.url, limits={"window_seconds": 1})
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MONGODB_URI": mongo_uri,
           "MONGODB_DATABASE": mongo_database, source.token_env: DEMO_TOKEN,
           "HUBSPOT_SOURCES_FILE": str(write_sources_file(tmp_path / "s.yaml", [source])),
           "HUBSPOT_LIMITER_DIR": str(tmp_path / "limits"), "HUBSPOT_LIMITER_BACKEND": "sqlite"}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(source_partitions.name, [SOURCE])
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "job", "execute", "-m", "hubspot_assets.defs.definitions",
         "-j", "hubspot_sync", "--tags", json.dumps({"dagster/partition": SOURCE})],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        steps = steps_of(instance, run.run_id)
    # One process per step, none of them the run's own.
    pids = {step["pid"] for step in steps.values()}
    assert len(pids) == len(steps) >= 11
    # Beside the records, not after them; the freshness checks are not steps of a sync.
    assert steps["events"]["start"] < steps["object_records"]["end"]
    assert not any(key.endswith("_fresh") for key in steps)

    stream = pymongo.MongoClient(mongo_uri)[mongo_database][f"source_{SOURCE}_stream"]
    account = server.account(DEMO_PORTAL_ID)
    comparison = compare_stream(stream, account)
    assert comparison.complete, comparison.problems
    # Every event (the comparison holds them), read per object once the records were in.
    assert truth.summary(account, checksums=False, associations=False)["events"]
    assert "waiting for object_records" in done.stdout + done.stderr

