"""The README's `dagster.yaml` for several workers: Dagster 1.13 loads it as written,
on PostgreSQL (a throwaway database), with the run queue and pool limits it states."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import dagster as dg
import pytest

from hubspot_assets_tests.harness.instance import PostgresServer

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_dagster_yaml() -> str:
    """The YAML block of the README section "How it scales out"."""
    text = README.read_text()
    section = text[text.index("## How it scales out"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "expected one dagster.yaml in 'How it scales out'"
    lines = blocks[0].splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


@pytest.fixture
def throwaway_postgres():
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    server = PostgresServer.from_url("postgresql://postgres@127.0.0.1:5432")
    name = server.create_database(prefix="readme_yaml")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        server.drop_database(name)


def test_readme_dagster_yaml_loads_on_postgres(tmp_path, monkeypatch, throwaway_postgres):
    (tmp_path / "dagster.yaml").write_text(_readme_dagster_yaml())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_PG_URL", throwaway_postgres)
    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue.max_concurrent_runs == 8
        assert {limit["key"]: limit["limit"] for limit in queue.tag_concurrency_limits} == {
            "dagster/partition": 1, "dagster/backfill": 6}
        assert concurrency.pool_config.default_pool_limit == 4
        assert concurrency.pool_config.pool_granularity.value == "op"
        # The instance works: the pool is claimable in the PostgreSQL storage.
        instance.event_log_storage.set_concurrency_slots("hubspot_api", 4)
        assert instance.event_log_storage.get_concurrency_info("hubspot_api").slot_count == 4
    finally:
        instance.dispose()
