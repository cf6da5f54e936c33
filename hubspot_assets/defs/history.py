"""Job history: the summary document of a finished run, read from Dagster's event log.

The run status sensors in `sensors.py` store it through `JobHistoryResource`.
"""

import re
from typing import Any

import dagster as dg

from hubspot_assets.hubspot.secrets import scrub
from hubspot_assets.mongo.redaction import redact_uri
from hubspot_assets.stream.naming import stage_name
from hubspot_assets.timestamps import from_epoch_seconds, utcnow

#: Per-stage metadata copied into the history (the rest stays in Dagster).
STAGE_FIELDS = (
    "dagster/partition_row_count", "new", "unchanged", "api_calls", "http_429s", "retries",
    "limiter_wait_seconds", "errors", "units", "units_failed", "skipped",
    "records", "archived_records", "events", "relationships", "schemas", "event_types",
    "types_ready", "units_retried",
    # reference data (docs/coverage.md)
    "owners", "pipelines", "pipeline_stages", "property_definitions", "association_labels",
    "property_histories", "property_history_values",
    # incremental syncs and consolidation
    "mode", "watermark", "modified_records", "objects_new", "objects_changed", "objects_deleted",
    "edges_new", "edges_changed", "edges_removed",
    # events: the lookback, and reads per object where account-wide reads are refused
    "events_lookback_hours", "events_fallback", "fallback_calls", "fallback_objects",
)


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
    return {
        "_id": run.run_id,
        "run_id": run.run_id,
        "job": run.job_name,
        "source_id": run.tags.get("dagster/partition"),
        "backfill_id": run.tags.get("dagster/backfill"),
        "status": status,
        "started_at": from_epoch_seconds(started),
        "ended_at": from_epoch_seconds(ended),
        "duration_seconds": round(ended - started, 3) if started and ended else None,
        "stages": stages,
        "api_calls": sum(s.get("api_calls", 0) for s in stages.values()),
        "http_429s": sum(s.get("http_429s", 0) for s in stages.values()),
        "limiter_wait_seconds": round(
            sum(s.get("limiter_wait_seconds", 0.0) for s in stages.values()), 3
        ),
        "error_count": sum(s.get("errors", 0) for s in stages.values())
        + sum(1 for e in errors if e.get("fatal")),
        "errors": errors,
        "recorded_at": utcnow(),
    }


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
