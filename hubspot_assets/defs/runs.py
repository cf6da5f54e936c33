"""Runs of a source: the tags every run carries, what started it, and whether one is under way.

One place for these names: the schedule, the sensors, the assets and the job
history all read and write them.
"""

from collections.abc import Mapping

import dagster as dg

#: Dagster's own tag of a partitioned run: the source id.
PARTITION_TAG = "dagster/partition"
#: Our tags: every run of a source says what started it and how (see :func:`run_tags`).
SOURCE_TAG = "hubspot/source"
MODE_TAG = "hubspot/mode"
TRIGGER_TAG = "hubspot/trigger"
#: The schedule's occurrence a run serves.
DUE_TAG = "hubspot/due"
#: Written onto the run by the history sensor: the summary, readable on the Runs page.
SUMMARY_TAG = "hubspot/summary"
SKIPPED_TAG = "hubspot/skipped"

#: Statuses of a run that has not ended.
UNFINISHED = frozenset({dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                        dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                        dg.DagsterRunStatus.CANCELING})


def run_tags(source_id: str, *, trigger: str, mode: str = "sync") -> dict[str, str]:
    """Tags for a run a sensor or schedule requests (``trigger``: "sensor:first-sync",
    "schedule:<name>", ...; ``mode``: "sync", "full_resync" or "freshness")."""
    return {SOURCE_TAG: source_id, TRIGGER_TAG: trigger, MODE_TAG: mode}


def trigger_of(tags: Mapping[str, str]) -> str:
    """What started a run: our own tag, else what Dagster's tags say, else the UI."""
    if tags.get(TRIGGER_TAG):
        return tags[TRIGGER_TAG]
    for tag, kind in (("dagster/schedule_name", "schedule"), ("dagster/sensor_name", "sensor")):
        if tags.get(tag):
            return f"{kind}:{tags[tag]}"
    if tags.get("dagster/backfill"):
        return "backfill"
    return "manual"


def mode_of(job_name: str) -> str:
    """The mode of a run that carries no mode tag, from its job."""
    return "full_resync" if job_name == "hubspot_full_resync" else "sync"


def run_under_way(instance: dg.DagsterInstance, source_id: str) -> bool:
    """Whether a run of the source (any job) has not ended yet."""
    return bool(instance.get_run_records(
        filters=dg.RunsFilter(tags={PARTITION_TAG: source_id}, statuses=list(UNFINISHED)),
        limit=1))
