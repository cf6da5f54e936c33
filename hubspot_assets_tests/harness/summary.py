"""A per-stage table of one run, built from Dagster's event log.

Reads what every stage reports in its materialization metadata (the keys in
docs/contracts.md) and the step start/finish times, so it works the same for
an in-process run and for a run the daemon launched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from hubspot_assets.defs.history import failure_details

#: Metadata shown in their own columns (or not at all); other integers go under "counts".
OWN_COLUMNS = {"dagster/partition_row_count", "new", "api_calls", "http_429s", "retries",
               "errors", "units", "units_failed", "mode"}

#: Lineage order; assets not listed here follow, by name.
STAGE_ORDER = ("custom_object_schemas", "object_download_list", "object_records",
               "consolidated_objects", "relationships", "consolidated_relationships",
               "event_types", "events")


@dataclass
class StageRow:
    stage: str
    status: str = "not run"
    mode: str = ""  # "full" or "incremental", where the stage says
    rows: int | None = None
    new: int | None = None
    api_calls: int = 0
    http_429s: int = 0
    retries: int = 0
    errors: int = 0
    seconds: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    error_details: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None


def _value(entry: Any) -> Any:
    return getattr(entry, "value", entry)


def stage_rows(instance: dg.DagsterInstance, run_id: str) -> list[StageRow]:
    """One row per stage of the run, in lineage order."""
    rows: dict[str, StageRow] = {}
    started: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not entry.step_key:
            continue
        row = rows.setdefault(entry.step_key, StageRow(entry.step_key))
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            started.setdefault(entry.step_key, entry.timestamp)
            row.status = "running"
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            row.status = "ok" if kind == dg.DagsterEventType.STEP_SUCCESS else "FAILED"
            if entry.step_key in started:
                row.seconds = entry.timestamp - started[entry.step_key]
            if kind == dg.DagsterEventType.STEP_FAILURE:
                error = event.event_specific_data.error
                row.failure = failure_details(error)["message"]
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            _fill_from_metadata(row, event.event_specific_data.materialization.metadata)
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    # Asset check steps are not stages; `check_results` reports them.
    stages = [r for r in rows.values() if r.stage in order or r.rows is not None]
    return sorted(stages, key=lambda r: (order.get(r.stage, len(order)), r.stage))


def check_results(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, bool]]:
    """(asset/check name, passed) of every asset check the run evaluated."""
    results = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        results.append((name, bool(evaluation.passed)))
    return results


def _fill_from_metadata(row: StageRow, metadata: dict[str, Any]) -> None:
    values = {key: _value(entry) for key, entry in metadata.items()}
    row.rows = values.get("dagster/partition_row_count")
    row.mode = values.get("mode") if isinstance(values.get("mode"), str) else ""
    row.new = values.get("new")
    row.api_calls = int(values.get("api_calls") or 0)
    row.http_429s = int(values.get("http_429s") or 0)
    row.retries = int(values.get("retries") or 0)
    row.errors = int(values.get("errors") or 0)
    row.counts = {k: v for k, v in values.items()
                  if k not in OWN_COLUMNS and isinstance(v, int) and not isinstance(v, bool)}
    details = values.get("error_details")
    row.error_details = details if isinstance(details, list) else []


def format_table(rows: list[StageRow]) -> str:
    """A fixed-width text table with a totals line."""
    header = ("stage", "status", "mode", "rows", "new", "api calls", "429s", "retries", "errors",
              "seconds", "counts")
    lines = [header]
    for r in rows:
        lines.append((
            r.stage, r.status, r.mode, _num(r.rows), _num(r.new), str(r.api_calls),
            str(r.http_429s),
            str(r.retries), str(r.errors), "" if r.seconds is None else f"{r.seconds:.1f}",
            " ".join(f"{k}={v}" for k, v in r.counts.items()),
        ))
    lines.append((
        "total", "", "", _num(sum(r.rows or 0 for r in rows)), _num(sum(r.new or 0 for r in rows)),
        str(sum(r.api_calls for r in rows)), str(sum(r.http_429s for r in rows)),
        str(sum(r.retries for r in rows)), str(sum(r.errors for r in rows)), "", "",
    ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = []
    for n, line in enumerate(lines):
        cells = [c.ljust(w) if i in (0, 1, 2, 10) else c.rjust(w)
                 for i, (c, w) in enumerate(zip(line, widths))]
        text.append("  ".join(cells).rstrip())
        if n == 0 or n == len(lines) - 2:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def _num(value: int | None) -> str:
    return "" if value is None else str(value)


def problems(rows: list[StageRow]) -> list[str]:
    """Failures and per-unit errors, one line each, for printing under the table."""
    lines = []
    for r in rows:
        if r.failure:
            lines.append(f"{r.stage}: FAILED: {r.failure}")
        for detail in r.error_details:
            if not detail.get("skipped"):
                lines.append(f"{r.stage}: error {detail.get('unit', '?')}: "
                             f"{detail.get('message')}")
    return lines


def skipped_units(rows: list[StageRow]) -> list[str]:
    """Each unit a stage skipped (a missing scope, say), with HubSpot's reason."""
    lines = []
    for r in rows:
        for detail in r.error_details:
            if detail.get("skipped"):
                scope = f" (scope to add: {detail['scope']})" if detail.get("scope") else ""
                lines.append(f"{r.stage}: {detail.get('unit', '?')}: "
                             f"{detail.get('message')}{scope}")
    return lines
