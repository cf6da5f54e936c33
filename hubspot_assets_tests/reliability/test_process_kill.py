"""A run SIGKILLed in the middle of a stage, then run again: complete, no duplicates.

The run is Dagster's own CLI (`dagster asset materialize`) in its own process
group, so the kill takes the whole run, as an OOM kill or a lost node would.
"""

import os
import signal
import subprocess
import time

import pymongo

from hubspot_assets.defs.assets import ALL_ASSETS
from hubspot_assets_tests.harness.cli_run import cli_environment, dagster_cli
from hubspot_assets_tests.harness.sources_file import LocalSource
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

SOURCE = "killed"


def materialize_command() -> list[str]:
    selection = ",".join(a.key.to_user_string() for a in ALL_ASSETS)
    # The code location's own executor; its steps share the run's process group.
    return [dagster_cli(), "asset", "materialize", "-m", "hubspot_assets.defs.definitions",
            "--select", selection, "--partition", SOURCE]


def test_a_run_killed_mid_stage_then_rerun_is_complete(tmp_path, mongo_uri, mongo_database,
                                                       sandbox_factory):
    # Latency makes the records stage last seconds, so the kill lands inside it.
    server = sandbox_factory(sizes={"contacts": 3000, "companies": 20}, latency_ms=10)
    source = LocalSource(SOURCE, DEMO_TOKEN, base_url=server.url, limits={"window_seconds": 1})
    _, env = cli_environment(tmp_path, source, DEMO_TOKEN, mongo_uri, mongo_database)

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
