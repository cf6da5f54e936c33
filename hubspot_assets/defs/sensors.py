"""Sensors: the source partitions kept in step with the registry, and the job history."""

import dagster as dg

from hubspot_assets.defs.history import run_summary, summary_tags
from hubspot_assets.defs.jobs import hubspot_sync
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource, JobHistoryResource
from hubspot_assets.defs.runs import run_tags
from hubspot_assets.registry import RegistryError


@dg.sensor(
    job=hubspot_sync,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Adds a partition for every source in the registry file (and requests its "
    "first sync when the file says run_new_sources: true); removes partitions of sources "
    "taken out of the file. Invalid entries are logged and leave their partition alone.",
)
def hubspot_sources_sensor(context: dg.SensorEvaluationContext, hubspot: HubSpotResource):
    """Sync the dynamic partitions with the source registry."""
    try:
        registry = hubspot.registry()
    except RegistryError as exc:
        return dg.SkipReason(str(exc))
    for source_id, problem in sorted(registry.problems.items()):
        context.log.warning(f"source {source_id}: {problem}")
    existing = set(context.instance.get_dynamic_partitions(source_partitions.name))
    declared = set(registry.sources)
    added = sorted(declared - existing)
    # An entry that is merely invalid keeps its partition (and its history).
    removed = sorted(existing - declared - set(registry.problems))
    requests = []
    if added:
        requests.append(source_partitions.build_add_request(added))
    if removed:
        requests.append(source_partitions.build_delete_request(removed))
    if not requests:
        return dg.SkipReason(f"{len(declared)} source(s), partitions already in step")
    runs = [
        dg.RunRequest(partition_key=source_id, run_key=f"first-sync:{source_id}",
                      tags=run_tags(source_id, trigger="sensor:first-sync"))
        for source_id in added
        if registry.run_new_sources
    ]
    context.log.info(f"sources added: {added or 'none'}; removed: {removed or 'none'}")
    return dg.SensorResult(dynamic_partitions_requests=requests, run_requests=runs)


def _history_sensor(status: dg.DagsterRunStatus, name: str):
    @dg.run_status_sensor(
        run_status=status,
        name=name,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Writes a job_history document for every {status.value.lower()} run.",
    )
    def _sensor(context: dg.RunStatusSensorContext, job_history: JobHistoryResource):
        summary = run_summary(context, status.value)
        job_history.record(summary)
        # The summary where a user looks, without opening MongoDB: the run's tags
        # (the Runs page lists them; the run page shows them at the top).
        context.instance.add_run_tags(context.dagster_run.run_id, summary_tags(summary))

    return _sensor


job_history_on_success = _history_sensor(dg.DagsterRunStatus.SUCCESS, "job_history_on_success")
job_history_on_failure = _history_sensor(dg.DagsterRunStatus.FAILURE, "job_history_on_failure")
job_history_on_canceled = _history_sensor(dg.DagsterRunStatus.CANCELED, "job_history_on_canceled")
HISTORY_SENSORS = [job_history_on_success, job_history_on_failure, job_history_on_canceled]
