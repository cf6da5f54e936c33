"""Job history: one MongoDB document per finished run, written by run status sensors."""


import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field

from hubspot_assets.mongo.connection import get_database

#: Per-stage metadata copied into the history (the rest stays in Dagster).
STAGE_FIELDS = (
    "dagster/partition_row_count", "new", "unchanged", "api_calls", "http_429s", "retries",
    "limiter_wait_seconds", "errors", "units", "units_failed", "skipped",
    "records", "archived_records", "events", "relationships", "schemas", "event_types",
    "types_ready", "units_retried",
    # incremental syncs and consolidation
    "mode", "watermark", "modified_records", "objects_new", "objects_changed", "objects_deleted",
    "edges_new", "edges_changed", "edges_removed",
)


class JobHistoryResource(dg.ConfigurableResource):
    """Where run summaries go: the ``job_history`` collection of the stream database."""

    uri: str = Field(description="MongoDB URI (MONGODB_URI).")
    database: str = Field(default="hubspot", description="Database of the stream collections.")
    collection: str = Field(default="job_history", description="Collection of run summaries.")

    def record(self, document: dict[str, Any]) -> None:
        """Store one run's summary; re-recording the same run replaces it."""
        get_database(self.uri, self.database)[self.collection].replace_one(
            {"_id": document["_id"]}, document, upsert=True
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
            stage = materialization.asset_key.to_user_string()
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            stages[stage] = {k.replace("dagster/", ""): metadata[k] for k in STAGE_FIELDS
                             if k in metadata}
            errors.extend({"stage": stage, **d} for d in metadata.get("error_details") or [])
        else:
            error = event.event_specific_data.error
            errors.append({
                "stage": event.step_key,
                "fatal": True,
                "message": error.message.strip() if error else "step failed",
            })
    started = record.start_time if record else None
    ended = record.end_time if record else None
    return {
        "_id": run.run_id,
        "run_id": run.run_id,
        "job": run.job_name,
        "source_id": run.tags.get("dagster/partition"),
        "backfill_id": run.tags.get("dagster/backfill"),
        "status": status,
        "started_at": _timestamp(started),
        "ended_at": _timestamp(ended),
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
        "recorded_at": dt.datetime.now(dt.timezone.utc),
    }


def _timestamp(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.timezone.utc) if value else None


def _history_sensor(status: dg.DagsterRunStatus, name: str):
    @dg.run_status_sensor(
        run_status=status,
        name=name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Writes a job_history document for every {status.value.lower()} run.",
    )
    def _sensor(context: dg.RunStatusSensorContext, job_history: JobHistoryResource):
        job_history.record(run_summary(context, status.value))

    return _sensor


job_history_on_success = _history_sensor(dg.DagsterRunStatus.SUCCESS, "job_history_on_success")
job_history_on_failure = _history_sensor(dg.DagsterRunStatus.FAILURE, "job_history_on_failure")
job_history_on_canceled = _history_sensor(dg.DagsterRunStatus.CANCELED, "job_history_on_canceled")
HISTORY_SENSORS = [job_history_on_success, job_history_on_failure, job_history_on_canceled]
