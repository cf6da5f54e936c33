"""`scripts/demo --headless --workdir D` twice in a row: the second run is
incremental, and the data, run history and sources file of the first are kept.

Runs the demo as a user does (a subprocess, stdout a pipe: the plain-lines
progress), then reads what it left with the stand-in started on D's data and
Dagster's instance in D.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import dagster as dg
import pymongo
import pytest

from hubspot_assets_tests.mongo_standin.process import StandinProcess

pytestmark = pytest.mark.timeout(600)


def _demo(workdir, *extra: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGODB_URI", "HUBSPOT_SOURCES_FILE")
           and not k.startswith("HUBSPOT_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "hubspot_assets_tests.harness.demo", "--headless",
         "--workdir", str(workdir), *extra],
        env=env, capture_output=True, text=True, timeout=480, cwd=workdir.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _row(output: str, stage: str) -> list[str]:
    line = next(line for line in output.splitlines() if re.match(rf"{stage}\s+ok\b", line))
    return line.split()


def _stored(workdir) -> dict[str, set]:
    with StandinProcess(data_dir=workdir / "mongo") as standin:
        with pymongo.MongoClient(standin.uri, serverSelectionTimeoutMS=5000) as client:
            db = client.hubspot
            return {name: {d["_id"] for d in db[name].find({}, {"_id": 1})}
                    for name in ("source_demo_stream", "source_demo_objects", "watermarks",
                                 "job_history")}


def test_headless_workdir_twice_is_incremental_and_keeps_the_data(tmp_path):
    workdir = tmp_path / "demo"
    first = _demo(workdir)
    assert "new: kept after the demo stops" in first
    assert _row(first, "object_records")[2] == "full"
    assert "object_records: ok after" in first  # plain progress lines, no terminal codes
    assert "\x1b[" not in first
    assert f"--data-dir {workdir / 'mongo'}" in first  # says how to look at the data
    after_first = _stored(workdir)
    assert len(after_first["source_demo_stream"]) > 300
    assert len(after_first["watermarks"]) >= 3  # object_records, events, relationships

    # A user's edit of the sources file survives; the token comes from .env alone
    # (the demo's environment above holds no HUBSPOT_TOKEN_*).
    sources = workdir / "sources.yaml"
    sources.write_text(sources.read_text() + "# edited by hand\n")
    assert "HUBSPOT_TOKEN_DEMO=" in (workdir / ".env").read_text()

    second = _demo(workdir)
    assert "resumed" in second and "changed since the last session" in second
    assert sources.read_text().endswith("# edited by hand\n")
    records = _row(second, "object_records")
    assert records[2] == "incremental"
    assert _row(second, "events")[2] == "incremental"
    assert int(records[3]) < len(after_first["source_demo_objects"])  # only what changed

    after_second = _stored(workdir)
    for name in ("source_demo_stream", "source_demo_objects", "watermarks"):
        assert after_first[name] <= after_second[name], f"{name} lost documents"
    assert len(after_second["source_demo_stream"]) > len(after_first["source_demo_stream"])

    instance = dg.DagsterInstance.from_config(str(workdir / "dagster_home"))
    try:
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "demo"}))
        assert len(runs) == 2 and all(r.is_success for r in runs)
    finally:
        instance.dispose()
    # Each headless run wrote its job history, as the daemon's sensors would.
    assert after_second["job_history"] == {r.run_id for r in runs}


def test_a_workdir_keeps_its_account_size(tmp_path):
    workdir = tmp_path / "demo"
    workdir.mkdir()
    (workdir / "demo-state.json").write_text('{"contacts": 60, "sandbox_port": 1}')
    done = subprocess.run(
        [sys.executable, "-m", "hubspot_assets_tests.harness.demo", "--headless",
         "--workdir", str(workdir), "--contacts", "500"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "holds an account of 60 contacts" in done.stderr
    assert "needs a new --workdir" in done.stderr
