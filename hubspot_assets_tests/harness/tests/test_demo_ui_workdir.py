"""The demo's UI (`dagster dev`) on a kept working directory, as a user runs it:
the first sync's token comes from DIR/.env alone; a source added to
sources.yaml with its token in .env syncs after a restart; the restart keeps
the run history and the stored data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pymongo
import pytest

from hubspot_assets_tests.harness.graphql import DagsterGraphQL
from hubspot_assets_tests.harness.ports import free_port
from hubspot_assets_tests.mongo_standin.process import StandinProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class _Demo:
    def __init__(self, workdir, port: int):
        env = {k: v for k, v in os.environ.items()
               if k not in ("MONGODB_URI", "HUBSPOT_SOURCES_FILE")
               and not k.startswith("HUBSPOT_TOKEN")}
        self.log = open(workdir.parent / f"demo-{time.monotonic_ns()}.log", "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hubspot_assets_tests.harness.demo", "--workdir",
             str(workdir), "--port", str(port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.graphql = DagsterGraphQL(f"http://127.0.0.1:{port}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while "What to click" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()
            time.sleep(1)

    def wait_runs(self, partition: str, count: int, timeout: float = 300) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            runs = self.graphql.runs(tags={"dagster/partition": partition})
            if len(runs) >= count and all(r["status"] in ("SUCCESS", "FAILURE") for r in runs):
                return runs
            assert time.monotonic() < deadline, f"runs of {partition}: {runs}\n{self.output()}"
            time.sleep(2)

    def wait_history(self, run_id: str, timeout: float = 180) -> None:
        uri = next(line.split()[1] for line in self.output().splitlines()
                   if line.startswith("MongoDB:"))
        deadline = time.monotonic() + timeout
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            while not client.hubspot.job_history.count_documents({"run_id": run_id}):
                assert time.monotonic() < deadline, f"no job_history for {run_id}"
                time.sleep(2)

    def stop(self) -> None:
        # SIGTERM to the demo alone: it stops Dagster and the stand-in (last snapshot) itself.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=120)
        finally:
            self.graphql.close()
            self.log.close()


def test_ui_demo_keeps_state_and_reads_tokens_from_dotenv(tmp_path):
    workdir = tmp_path / "demo"
    port = free_port()
    first = _Demo(workdir, port)
    try:
        first.wait_ready()
        [run] = first.wait_runs("demo", 1)  # started by the sources sensor
        assert run["status"] == "SUCCESS", first.graphql.run_failure_messages(run["runId"])
        first.wait_history(run["runId"])
        sandbox_url = next(line.split()[2] for line in first.output().splitlines()
                           if line.startswith("HubSpot sandbox:"))
    finally:
        first.stop()

    sources = workdir / "sources.yaml"
    sources.write_text(sources.read_text() + (
        "- id: second\n  token_env: HUBSPOT_TOKEN_SECOND\n  tier: professional\n"
        f"  base_url: {sandbox_url}\n"))
    with open(workdir / ".env", "a") as env_file:
        env_file.write("HUBSPOT_TOKEN_SECOND=sandbox-demo-token\n")

    second = _Demo(workdir, port)
    try:
        second.wait_ready()
        assert "resumed" in second.output()
        [second_run] = second.wait_runs("second", 1)  # the sensor's first sync of the new source
        assert second_run["status"] == "SUCCESS", \
            second.graphql.run_failure_messages(second_run["runId"])
        kept = {r["runId"] for r in second.graphql.runs(tags={"dagster/partition": "demo"})}
        assert run["runId"] in kept  # the first session's run history
        second.wait_history(second_run["runId"])  # the run status sensor's next tick
    finally:
        second.stop()
    assert "HUBSPOT_TOKEN_SECOND" in sources.read_text()  # the edit was kept

    with StandinProcess(data_dir=workdir / "mongo") as standin:
        with pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=5000) as client:
            db = client.hubspot
            assert db.source_demo_stream.estimated_document_count() > 300
            assert db.source_second_stream.estimated_document_count() > 300
            # The daemon's run status sensors recorded both sessions' runs.
            assert {run["runId"], second_run["runId"]} <= set(db.job_history.distinct("run_id"))
