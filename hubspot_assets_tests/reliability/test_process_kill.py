"""A run SIGKILLed in the middle of a stage, then run again: complete, no duplicates.

The run is Dagster's own CLI (`dagster asset materialize`) in its own process
group, so the kill takes the whole run, as an OOM kill or a lost node would.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pymongo

from hubspot_assets.defs.assets import ALL_ASSETS
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

SOURCE = "killed"


def materialize_command() -> list[str]:
    dagster = Path(sys.executable).with_name("dagster")
    selection = ",".join(a.key.to_user_string() for a in ALL_ASSETS)
    # The code location's own executor; its steps share the run's process group.
    return [str(dagster), "asset", "materialize", "-m", "hubspot_assets.defs.definitions",
            "--select", selection, "--partition", SOURCE]


def test_a_run_killed_mid_stage_then_rerun_is_complete(tmp_path, mongo_uri, mongo_database,
                                                       sandbox_factory):
    # Latency makes the records stage last seconds, so the kill lands inside it.
    server = sandbox_factory(sizes={"contacts": 3000, "companies": 20}, latency_ms=10)
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

    stream = pymongo.MongoClient(mongo_uri)[mongo_database][f"source_{SOURCE}_stream"]
    log = tmp_path / "killed_run.log"
    with log.open("w") as output:
        run = subprocess.Popen(materialize_command(), env=env, start_new_session=True,
                               stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while stream.count_documents({"kind": "object"}) < 1000:
            assert run.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the records stage never started"
            time.sleep(0.2)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    account = server.account(DEMO_PORTAL_ID)
    killed = compare_stream(stream, account)
    assert killed.missing > 0 and (killed.duplicates, killed.unexpected) == (0, 0)

    rerun = subprocess.run(materialize_command(), env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    comparison = compare_stream(stream, account)
    assert comparison.complete, comparison.problems
