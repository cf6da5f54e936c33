"""The sync schedule: every source kept current on its own cadence from the registry.

One Dagster schedule ticks every minute (cron's finest step, so every source
cron is honoured to the minute), reads the registry, and requests one
`hubspot_sync` run per due source partition: incremental, or in full (run config
`full_refresh: true` on the incremental assets) when the full re-sync cadence
is due. What is due is decided in plain Python (`hubspot_assets.cadence.due_run`)
from the source's latest runs in the Dagster instance, so:

- a missed tick (daemon down) costs one catch-up run, not one per occurrence;
- a run started by hand or by the registry sensor serves the occurrences before it;
- a source with a sync queued or in progress gets no second one;
- run keys (`{mode}:{source}:{occurrence}`) make a re-evaluated tick launch nothing twice.
"""

import os
from datetime import datetime, timedelta

import dagster as dg

from hubspot_assets.cadence import MODE_FULL, DueRun, due_run
from hubspot_assets.defs.assets import consolidated_objects
from hubspot_assets.defs.freshness import hubspot_freshness
from hubspot_assets.defs.jobs import FULL_REFRESH_CONFIG, hubspot_full_resync, hubspot_sync
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.defs.runs import (
    DUE_TAG,
    MODE_TAG,
    PARTITION_TAG,
    SOURCE_TAG,
    TRIGGER_TAG,
    UNFINISHED,
)
from hubspot_assets.registry import RegistryError, Source
from hubspot_assets.timestamps import aware, utcnow

#: The schedule's own cron: every minute. Per-source cadences live in the registry.
TICK_CRON = "* * * * *"
TICK = timedelta(minutes=1)
#: Running unless the deployment says otherwise (the UI toggle then overrides either).
DEFAULT_STATUS_ENV = "HUBSPOT_SCHEDULE_DEFAULT_STATUS"
SYNC_JOBS = frozenset({hubspot_sync.name, hubspot_full_resync.name})
# Enough recent runs of one partition to find its latest sync among check or
# single-asset runs; a full run is looked up by its tag on its own.
_RECENT_RUNS = 25


def default_status(environ: dict[str, str] | None = None) -> dg.DefaultScheduleStatus:
    """The schedule's status before anyone toggles it: `HUBSPOT_SCHEDULE_DEFAULT_STATUS`."""
    value = (os.environ if environ is None else environ).get(DEFAULT_STATUS_ENV, "running")
    value = value.strip().lower() or "running"
    if value not in ("running", "stopped"):
        raise ValueError(f"{DEFAULT_STATUS_ENV}={value!r}: use running or stopped "
                         f"(or unset it for running).")
    return dg.DefaultScheduleStatus(value.upper())


def _is_sync(record: dg.RunRecord) -> bool:
    """A run that rebuilt the source's consolidated state (not a check or one stage alone)."""
    run = record.dagster_run
    if run.job_name in SYNC_JOBS:
        return True
    if run.job_name == hubspot_freshness.name:
        return False
    if run.asset_selection is None:  # a whole job, unless it only executes checks
        return run.asset_check_selection is None
    return consolidated_objects.key in run.asset_selection


def _latest_runs(instance: dg.DagsterInstance, source_id: str
                 ) -> tuple[dg.RunRecord | None, datetime | None]:
    """The source's latest sync run, and when its latest full re-sync was created."""
    recent = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: source_id}), limit=_RECENT_RUNS)
    last_sync = next((r for r in recent if _is_sync(r)), None)
    full = instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: source_id, MODE_TAG: MODE_FULL}), limit=1)
    return last_sync, aware(full[0].create_timestamp) if full else None


def run_request(source: Source, due: DueRun) -> dg.RunRequest:
    """The run a due source gets: its partition, mode, trigger and occurrence as tags."""
    return dg.RunRequest(
        run_key=due.run_key(source.id),
        partition_key=source.id,
        run_config=FULL_REFRESH_CONFIG if due.mode == MODE_FULL else {},
        tags={SOURCE_TAG: source.id, MODE_TAG: due.mode, TRIGGER_TAG: "schedule",
              DUE_TAG: due.occurrence.isoformat()},
    )


def due_requests(instance: dg.DagsterInstance, sources: list[Source], now: datetime,
                 log) -> list[dg.RunRequest]:
    """One request per source partition that is due at `now` and has no sync under way."""
    partitions = set(instance.get_dynamic_partitions(source_partitions.name))
    requests = []
    for source in sources:
        if source.id not in partitions:
            log.info(f"source {source.id}: no partition yet (the registry sensor adds it)")
            continue
        last_sync, last_full_at = _latest_runs(instance, source.id)
        if last_sync is not None and last_sync.dagster_run.status in UNFINISHED:
            log.info(f"source {source.id}: run {last_sync.dagster_run.run_id} is "
                     f"{last_sync.dagster_run.status.value.lower()}; not starting another")
            continue
        due = due_run(source.schedule, now=now, window=TICK, last_full_at=last_full_at,
                      last_sync_at=aware(last_sync.create_timestamp) if last_sync else None)
        if due is not None:
            requests.append(run_request(source, due))
    return requests


@dg.schedule(
    name="hubspot_sync_schedule",
    cron_schedule=TICK_CRON,
    job=hubspot_sync,
    execution_timezone="UTC",
    default_status=default_status(),
    description="Every minute, requests a hubspot_sync run for each source whose registry "
    "cadence (schedule.sync, schedule.full_resync) is due: incremental, or in full "
    "(full_refresh) when the full re-sync is due. Nothing for a source whose sync is queued "
    "or running; a missed tick costs one catch-up run. See docs/keeping-current.md.",
)
def hubspot_sync_schedule(context: dg.ScheduleEvaluationContext, hubspot: HubSpotResource):
    """Request the runs of the sources due at this tick."""
    try:
        registry = hubspot.registry()
    except RegistryError as exc:
        return dg.SkipReason(str(exc))
    for source_id, problem in sorted(registry.problems.items()):
        context.log.warning(f"source {source_id} is not scheduled: {problem}")
    now = context.scheduled_execution_time or utcnow()
    requests = due_requests(context.instance, sorted(registry.sources.values(),
                                                     key=lambda s: s.id), now, context.log)
    if not requests:
        return dg.SkipReason(f"no source due at {now.isoformat()} "
                             f"({len(registry.sources)} source(s))")
    return requests
