"""The code location run as a deployment runs it: the `dagster` CLI in a process of its
own, with a DAGSTER_HOME and the environment a deployment sets; and what the event log
says of each step of a run."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file


def dagster_cli() -> str:
    """The `dagster` executable of this virtualenv."""
    return str(Path(sys.executable).with_name("dagster"))


def cli_environment(workdir: Path, source: LocalSource, token: str, mongo_uri: str,
                    mongo_database: str, limiter_backend: str = "sqlite"
                    ) -> tuple[Path, dict[str, str]]:
    """A DAGSTER_HOME under ``workdir`` with ``source``'s partition, and the environment
    of a CLI run of the code location against it."""
    home = workdir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MONGODB_URI": mongo_uri,
           "MONGODB_DATABASE": mongo_database, source.token_env: token,
           "HUBSPOT_SOURCES_FILE": str(write_sources_file(workdir / "s.yaml", [source])),
           "HUBSPOT_LIMITER_DIR": str(workdir / "limits"),
           "HUBSPOT_LIMITER_BACKEND": limiter_backend}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(source_partitions.name, [source.id])
    return home, env


def step_timeline(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """Per step of a run: start and end (epoch seconds), its process id, how it ended,
    and the HubSpot calls its materialization reported."""
    steps: dict[str, dict[str, Any]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        step = steps.setdefault(event.step_key, {})
        kind = event.event_type_value
        if kind == "STEP_START":
            step["start"], step["pid"] = entry.timestamp, event.pid
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            step["end"], step["status"] = entry.timestamp, kind
            if kind == "STEP_FAILURE":
                error, messages = event.event_specific_data.error, []
                while error is not None:  # Dagster's wrapper first, the asset's own after
                    messages.append(error.message.strip())
                    error = error.cause
                step["error"] = " <- ".join(messages)[:3000]
        elif kind == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            step["api_calls"] = getattr(metadata.get("api_calls"), "value", None)
    return steps
