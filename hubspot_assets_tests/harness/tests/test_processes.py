"""The process harness itself, quickly: stopping, failure reports, generated config."""

from __future__ import annotations

import socket
import sys
import textwrap
import uuid
from pathlib import Path

import dagster as dg
import pytest

from hubspot_assets.registry import load_registry
from hubspot_assets_tests.harness.instance import (
    PostgresServer,
    instance_config,
    write_dagster_home,
)
from hubspot_assets_tests.harness.processes import (
    MARKER_ENV,
    ManagedProcess,
    ProcessFailed,
    end_marked_processes,
    marked_processes,
)
from hubspot_assets_tests.harness.sources_file import (
    SCHEDULE_OFF,
    LocalSource,
    write_sources_file,
)

# A child that ignores SIGTERM and starts a grandchild in a session of its own.
STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); "
                  "time.sleep(120)")
    subprocess.Popen([sys.executable, "-c", grandchild], start_new_session=True)
    print("ready", flush=True)
    time.sleep(120)
""")

# A child that leaves an orphan behind (its parent exits): only the marker finds it.
ORPHANING = textwrap.dedent("""
    import subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                     start_new_session=True)
""")


def _marked_env() -> tuple[str, dict[str, str]]:
    stack_id = uuid.uuid4().hex
    return stack_id, {MARKER_ENV: stack_id, "PATH": "/usr/bin:/bin"}


def test_stop_ends_a_stubborn_child_and_its_escaped_grandchild(tmp_path):
    stack_id, env = _marked_env()
    child = ManagedProcess("stubborn", [sys.executable, "-c", STUBBORN], env=env,
                           log_dir=tmp_path).start()
    child.wait_until(lambda: "ready" in child.log_text(), timeout=30, what="ready")
    assert len(marked_processes(stack_id)) == 2

    child.stop(timeout=2)
    assert not child.alive()
    assert marked_processes(stack_id) == []


def test_marker_sweep_ends_orphans(tmp_path):
    stack_id, env = _marked_env()
    child = ManagedProcess("orphaning", [sys.executable, "-c", ORPHANING], env=env,
                           log_dir=tmp_path).start()
    child.popen.wait(timeout=30)
    child.stop()
    assert len(end_marked_processes(stack_id)) == 1
    assert marked_processes(stack_id) == []


def test_a_child_that_dies_early_is_reported_with_its_log(tmp_path):
    child = ManagedProcess("crash", [sys.executable, "-c", "print('no config here'); exit(3)"],
                           env={}, log_dir=tmp_path).start()
    with pytest.raises(ProcessFailed, match="(?s)exited with 3.*no config here"):
        child.wait_until(lambda: False, timeout=30, what="readiness")
    child.stop()


def test_sources_file_is_what_the_registry_reads(tmp_path, monkeypatch):
    limits = {"ten_second": 50, "daily": 1000, "search_per_second": 2}
    path = write_sources_file(tmp_path / "sources.yaml", [
        LocalSource("alpha-1", "secret-a", base_url="http://127.0.0.1:9", limits=limits),
        LocalSource("beta", "secret-b", tier="starter"),
    ])
    assert "secret" not in path.read_text()
    registry = load_registry(path)
    assert sorted(registry.sources) == ["alpha-1", "beta"] and not registry.problems
    assert registry.run_new_sources is False
    alpha = registry.get("alpha-1")
    assert alpha.base_url == "http://127.0.0.1:9"
    monkeypatch.setenv(alpha.token_env, "secret-a")
    assert alpha.token() == "secret-a"
    off = load_registry(write_sources_file(tmp_path / "off.yaml", [
        LocalSource("alpha-1", "secret-a", extra={"schedule": {"sync": "*/5 * * * *"}}),
        LocalSource("beta", "secret-b")], schedule=SCHEDULE_OFF))
    assert off.get("beta").schedule.sync is None and off.get("beta").schedule.full_resync is None
    assert off.get("alpha-1").schedule.sync.cron == "*/5 * * * *"


def _postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("storage", ["sqlite", "postgres"])
def test_generated_dagster_yaml_loads(tmp_path, storage):
    postgres = db_name = None
    if storage == "postgres":
        if not _postgres_reachable():
            pytest.skip("no PostgreSQL on 127.0.0.1:5432")
        postgres = PostgresServer.from_url("postgresql://postgres@127.0.0.1:5432")
        db_name = postgres.create_database(prefix="harness_test")
    try:
        home = write_dagster_home(tmp_path, instance_config(
            tmp_path, postgres=postgres, db_name=db_name, max_concurrent_runs=3, pool_limit=2))
        instance = dg.DagsterInstance.from_config(str(home))
        try:
            concurrency = instance.get_concurrency_config()
            assert concurrency.pool_config.default_pool_limit == 2
            assert concurrency.run_queue_config.max_concurrent_runs == 3
            expected = "PostgresRunStorage" if postgres else "SqliteRunStorage"
            assert type(instance.run_storage).__name__ == expected
        finally:
            instance.dispose()
    finally:
        if postgres:
            postgres.drop_database(db_name)


def test_the_local_stack_loads_the_code_location_as_workspace_yaml_does():
    import yaml

    from hubspot_assets_tests.harness.stack import CodeLocation

    root = Path(__file__).resolve().parents[3]
    assert CodeLocation().workspace() == yaml.safe_load((root / "workspace.yaml").read_text())
