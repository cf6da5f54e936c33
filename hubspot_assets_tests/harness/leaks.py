"""Look for secrets (a HubSpot token, a MongoDB password) wherever a run leaves traces.

The places: every event record of the run in Dagster's event log (messages,
error infos with their stack traces and causes, metadata), captured log text,
and every document of the MongoDB database (stream collections, `stream_runs`,
`job_history`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import dagster as dg
from bson import json_util
from dagster._serdes import serialize_value
from pymongo.database import Database


def _hits(secrets: Iterable[str], text: str, where: str) -> list[str]:
    return [f"{where}: contains {secret[:4]}…" for secret in secrets if secret and secret in text]


def find_leaks(secrets: Iterable[str], *, instance: dg.DagsterInstance | None = None,
               run_ids: Iterable[str] = (), database: Database | None = None,
               texts: dict[str, str] | None = None) -> list[str]:
    """Where any of `secrets` appears: ``["event log of run …: contains sand…", ...]``."""
    secrets = [s for s in secrets if s]
    found: list[str] = []
    for run_id in run_ids if instance is not None else ():
        records = instance.all_logs(run_id)
        text = "\n".join(serialize_value(record) for record in records)
        found += _hits(secrets, text, f"event log of run {run_id}")
    if database is not None:
        for name in database.list_collection_names():
            text = json_util.dumps(list(database[name].find()))
            found += _hits(secrets, text, f"MongoDB collection {database.name}.{name}")
    for where, text in (texts or {}).items():
        found += _hits(secrets, text, where)
    return found


class LogCapture(logging.Handler):
    """Every log record of the process, formatted with its traceback, while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self)
        root.setLevel(logging.INFO)  # pymongo logs every command at DEBUG
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._level)
