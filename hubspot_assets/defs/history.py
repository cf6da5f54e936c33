"""Job history: the summary document of a finished run, read from Dagster's event log.

The run status sensors in `sensors.py` store it through `JobHistoryResource`.
"""

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg

from hubspot_assets.defs.runs import (
    MODE_TAG,
    PARTITION_TAG,
    SKIPPED_TAG,
    SOURCE_TAG,
    SUMMARY_TAG,
    mode_of,
    trigger_of,
)
from hubspot_assets.hubspot.secrets import scrub
from hubspot_assets.mongo.redaction import redact_uri
from hubspot_assets.stream.naming import stage_name
from hubspot_assets.timestamps import from_epoch_seconds, utcnow

#: Per-stage metadata copied into the history (the rest stays in Dagster).
STAGE_FIELDS = (
    "dagster/partition_row_count", "new", "unchanged", "api_calls", "http_429s", "retries",
    "limiter_wait_seconds_summed_over_workers", "errors", "units", "units_failed", "skipped",
    "units_skipped", "records", "archived_records", "events", "relationships", "schemas",
    "event_types", "types_ready", "units_retried",
    # reference data (docs/coverage.md)
    "owners", "pipelines", "pipeline_stages", "property_definitions", "association_labels",
    "property_histories", "property_history_values",
    # incremental syncs and consolidation
    "mode", "watermark", "modified_records", "objects_new", "objects_changed", "objects_deleted",
    "edges_new", "edges_changed", "edges_removed",
    # consolidation: written in this run vs what the collection holds now
    "objects_written_this_run", "edges_written_this_run", "dagster/row_count",
    "objects_deleted_total", "edges_removed_total",
    # events: the lookback, and reads per object where account-wide reads are refused
    "events_lookback_hours", "events_fallback", "fallback_calls", "fallback_objects",
    # deletes, merges and reconciliation (docs/keeping-current.md)
    "objects_merged", "objects_gone", "objects_revived", "reconciled_types",
    "reconciliation_skipped", "reconciliation_incomplete", "ids_listed", "records_missed_by_search",
)

#: Dagster names a run launched from the asset graph (no job picked) after a hidden job.
HIDDEN_JOB_PREFIX = "__ASSET_JOB"
#: Longest tag value written (a tag is a label, not a report; the rest is in job_history).
TAG_LIMIT = 240


def readable_job_name(job_name: str, asset_names: list[str]) -> str:
    """The run's job, or for a run launched from the asset graph what it materialized."""
    if not job_name.startswith(HIDDEN_JOB_PREFIX):
        return job_name
    if not asset_names:
        return "asset materialization"
    shown = ", ".join(asset_names[:3])
    more = f" and {len(asset_names) - 3} more" if len(asset_names) > 3 else ""
    return f"materialize {shown}{more}"


def run_summary(context: dg.RunStatusSensorContext, status: str) -> dict[str, Any]:
    """The history document of the run that triggered ``context``."""
    run = context.dagster_run
    instance = context.instance
    record = instance.get_run_record_by_id(run.run_id)
    stages: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, Any]] = []
    wanted = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run.run_id, of_type=wanted):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            stage = stage_name(materialization.asset_key.path)
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            stages[stage] = {k.replace("dagster/", ""): metadata[k] for k in STAGE_FIELDS
                             if k in metadata}
            errors.extend({"stage": stage, **d} for d in metadata.get("error_details") or [])
        else:
            errors.append({"stage": event.step_key, "fatal": True,
                           **failure_details(event.event_specific_data.error)})
    started = record.start_time if record else None
    ended = record.end_time if record else None
    assets = sorted(stage_name(key.path) for key in run.asset_selection or ())
    skipped = [{"stage": e["stage"], **{k: e[k] for k in ("unit", "message", "scopes") if k in e}}
               for e in errors if e.get("skipped")]
    return {
        "_id": run.run_id,
        "run_id": run.run_id,
        "job": readable_job_name(run.job_name, assets or sorted(stages)),
        "dagster_job": run.job_name,
        "source_id": run.tags.get(PARTITION_TAG) or run.tags.get(SOURCE_TAG),
        "backfill_id": run.tags.get("dagster/backfill"),
        "trigger": trigger_of(run.tags),
        "mode": run.tags.get(MODE_TAG) or mode_of(run.job_name),
        "status": status,
        "started_at": from_epoch_seconds(started),
        "ended_at": from_epoch_seconds(ended),
        "duration_seconds": round(ended - started, 3) if started and ended else None,
        "stages": stages,
        "api_calls": sum(s.get("api_calls", 0) for s in stages.values()),
        "http_429s": sum(s.get("http_429s", 0) for s in stages.values()),
        "limiter_wait_seconds_summed_over_workers": round(
            sum(s.get("limiter_wait_seconds_summed_over_workers", 0.0) for s in stages.values()),
            3),
        "error_count": sum(s.get("errors", 0) for s in stages.values())
        + sum(1 for e in errors if e.get("fatal")),
        "errors": errors,
        "skipped": skipped,
        "recorded_at": utcnow(),
    }


def summary_tags(summary: Mapping[str, Any]) -> dict[str, str]:
    """The history document in two short run tags (shown on Dagster's Runs page)."""
    stages = summary.get("stages") or {}
    fetched = sum(int(s.get(k) or 0) for s in stages.values()
                  for k in ("records", "archived_records", "events", "relationships"))
    fatal = [e for e in summary.get("errors") or [] if e.get("fatal")]
    line = (f"{summary.get('status', '?').lower()}: {len(stages)} asset(s), {fetched:,} "
            f"fetched, {summary.get('api_calls', 0):,} API calls, "
            f"{summary.get('error_count', 0)} error(s), "
            f"{len(summary.get('skipped') or [])} skipped")
    if fatal:
        line += f"; {fatal[0].get('stage')}: {fatal[0].get('message')}"
    tags = {SUMMARY_TAG: _short(line)}
    skipped = summary.get("skipped") or []
    if skipped:
        tags[SKIPPED_TAG] = _short("; ".join(
            f"{s.get('stage')}/{s.get('unit')}"
            + (f" (needs {', '.join(s['scopes'])})" if s.get("scopes") else "")
            for s in skipped))
    return tags


def _short(text: str) -> str:
    return text if len(text) <= TAG_LIMIT else text[:TAG_LIMIT - 1] + "…"


# Dagster's own wrappers around the asset's exception: they say where it was
# raised ("Error occurred while handling output ...", "Exceeded max_retries of
# 2"), never why; the why is in their cause chain.
_WRAPPERS = re.compile(r"^(Dagster\w*Error|RetryRequestedFromPolicy|RetryRequested)$")
# "dagster._core.definitions.events.Failure: ..." -> "Failure: ..."
_QUALIFIED = re.compile(r"^(?:[A-Za-z_]\w*\.)+(?=\w+: )")


def failure_details(error: Any) -> dict[str, Any]:
    """What a step failure's error says, for the history: the innermost meaningful
    message (exception type and text), every cause outermost first, and whether
    Dagster's retries were used up; scrubbed of URIs' credentials and known tokens."""
    if error is None:
        return {"message": "step failed", "causes": []}
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    causes = [_clean(e.message) for e in chain if not _WRAPPERS.match(e.cls_name or "")]
    top = _clean(chain[0].message)
    details: dict[str, Any] = {"message": causes[-1] if causes else top, "causes": causes}
    if chain[0].cls_name == "RetryRequestedFromPolicy":
        details["retries_exhausted"] = top  # e.g. "Exceeded max_retries of 2"
    return details


def _clean(message: str | None) -> str:
    text = _QUALIFIED.sub("", (message or "").strip())
    return scrub(redact_uri(text)) or "step failed"
