"""Freshness: per source, is its last good sync within the lag its registry entry allows?

Dagster's built-in freshness (`build_last_update_freshness_checks`, the newer
`FreshnessPolicy`) judges an asset as a whole: its latest materialization of
any partition. Here a partition is a HubSpot account, and one account synced
a minute ago says nothing about another whose token was revoked last week. So
each consolidated asset gets a partitioned asset check, `fresh`, judged per
source from that partition's latest materialization. The check runs inside
every sync run (the jobs select the checks of their assets) and from the UI's
"Execute"; a sensor re-judges every source on a short interval and, where the
verdict differs from the one shown, launches a run of `hubspot_freshness` (the
checks alone, for that source): a source whose syncs keep failing turns red in
the UI without a sync.

Why a run and not a runless check evaluation (as `SensorResult(asset_events=)`
would record): Dagster stores a runless evaluation under the run id "", and
its unique index on (check, run id, partition) refuses the second one of a
partition (Dagster 1.13, SQLite and PostgreSQL alike), so a source could turn
red once and never again. Dagster's own `build_sensor_for_freshness_checks`
launches check runs too.
"""

import os
from datetime import datetime

import dagster as dg

# The check history's partition filter and statuses (the storage method is public,
# these types are not re-exported by `dagster`).
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from hubspot_assets.cadence import Freshness, judge_freshness
from hubspot_assets.defs.assets import CONSOLIDATION_ASSETS
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.defs.runs import PARTITION_TAG, run_tags, run_under_way
from hubspot_assets.registry import RegistryError, Source
from hubspot_assets.timestamps import from_epoch_seconds, utcnow

CHECK_NAME = "fresh"
#: How often the sensor re-judges every source (seconds).
INTERVAL_ENV = "HUBSPOT_FRESHNESS_INTERVAL_SECONDS"
DEFAULT_INTERVAL_SECONDS = 120
#: Past its allowed lag the copy is wrong for its readers: an error, not a hint.
SEVERITY = dg.AssetCheckSeverity.ERROR


def sensor_interval(environ: dict[str, str] | None = None) -> int:
    """The sensor's minimum interval from `HUBSPOT_FRESHNESS_INTERVAL_SECONDS`."""
    value = (os.environ if environ is None else environ).get(INTERVAL_ENV, "").strip()
    if not value:
        return DEFAULT_INTERVAL_SECONDS
    if not value.isdigit() or int(value) < 5:
        raise ValueError(f"{INTERVAL_ENV}={value!r}: use a whole number of seconds, 5 or more "
                         f"(or unset it for {DEFAULT_INTERVAL_SECONDS}).")
    return int(value)


def judge(instance: dg.DagsterInstance, asset_key: dg.AssetKey, source: Source,
          now: datetime) -> tuple[Freshness, dict]:
    """The verdict for one source's partition of one asset, with its metadata."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[source.id]), limit=1).records
    last = records[0] if records else None
    allowed = source.schedule.allowed_lag()
    verdict = judge_freshness(from_epoch_seconds(last.timestamp) if last else None,
                              now=now, allowed=allowed)
    metadata: dict = {}
    if last is not None:
        metadata["last_good_sync"] = dg.MetadataValue.timestamp(last.timestamp)
        metadata["last_good_run_id"] = last.run_id
    if verdict.lag is not None:
        metadata["lag_minutes"] = round(verdict.lag.total_seconds() / 60, 1)
    if allowed is not None:
        metadata["allowed_lag_minutes"] = round(allowed.total_seconds() / 60, 1)
    return verdict, metadata


def freshness_check(asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    """The per-source `fresh` check of one consolidated asset."""

    @dg.asset_check(
        asset=asset,
        name=CHECK_NAME,
        partitions_def=source_partitions,
        description="Fails when this source's last good sync is older than its allowed lag "
        "(schedule.max_lag in the registry; by default twice the longest gap of its sync "
        "cadence). Re-judged by hubspot_freshness_sensor, which launches hubspot_freshness when "
        "the verdict changed; see docs/keeping-current.md.",
    )
    def _check(context: dg.AssetCheckExecutionContext,
               hubspot: HubSpotResource) -> dg.AssetCheckResult:
        source = hubspot.source(context.partition_key)
        verdict, metadata = judge(context.instance, asset.key, source, utcnow())
        return dg.AssetCheckResult(passed=verdict.passed, severity=SEVERITY,
                                   description=verdict.description, metadata=metadata)

    return _check


FRESHNESS_CHECKS = [freshness_check(asset) for asset in CONSOLIDATION_ASSETS]


def _shows(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, source_id: str,
           passed: bool) -> bool:
    """Whether the UI already shows this verdict for the partition (or a run is about to).

    Compared with the stored latest execution, not a sensor cursor: a sync run
    that fails plans the check and never evaluates it, which would hide the
    verdict recorded before it.
    """
    latest = instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=1, partition_filter=PartitionKeyFilter(key=source_id))
    if not latest:
        return False
    record = latest[0]
    if record.status == AssetCheckExecutionRecordStatus.PLANNED:
        # Planned by a run: the run evaluates it, unless it ended without doing so.
        run = instance.get_run_by_id(record.run_id)
        return run is not None and not run.is_finished
    return record.status == (AssetCheckExecutionRecordStatus.SUCCEEDED if passed
                             else AssetCheckExecutionRecordStatus.FAILED)


#: The checks alone, per source: what the sensor launches (one process: no step
#: processes to start for a few reads of the instance). A job of checks alone has no
#: partitions of its own in Dagster 1.13 (they come from selected assets), so the run
#: names its source with the partition tag, which is what a partitioned check reads.
hubspot_freshness = dg.define_asset_job(
    "hubspot_freshness",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    executor_def=dg.in_process_executor,
    description="Re-judges the `fresh` checks of one source (launched by "
    "hubspot_freshness_sensor when a verdict changed; materializes nothing).",
)
@dg.sensor(
    name="hubspot_freshness_sensor",
    job=hubspot_freshness,
    minimum_interval_seconds=sensor_interval(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-judges the `fresh` check of every source's consolidated assets and, "
    "where the verdict differs from the one shown, launches a hubspot_freshness run of that "
    "source's checks, so a source whose syncs fail shows as failing once its allowed lag has "
    "passed.",
)
def hubspot_freshness_sensor(context: dg.SensorEvaluationContext, hubspot: HubSpotResource):
    """A check run for each source whose freshness verdict differs from the one shown."""
    try:
        registry = hubspot.registry()
    except RegistryError as exc:
        return dg.SkipReason(str(exc))
    partitions = set(context.instance.get_dynamic_partitions(source_partitions.name))
    now, requests = utcnow(), []
    for source_id in sorted(partitions & set(registry.sources)):
        source = registry.sources[source_id]
        if source.schedule.allowed_lag() is None:
            continue  # nothing to judge against; the check says so when executed
        if run_under_way(context.instance, source_id):
            continue  # a sync evaluates the checks itself; a check run is on its way
        changed = []
        for asset in CONSOLIDATION_ASSETS:
            verdict, _ = judge(context.instance, asset.key, source, now)
            check_key = dg.AssetCheckKey(asset.key, CHECK_NAME)
            if not _shows(context.instance, check_key, source_id, verdict.passed):
                changed.append(check_key)
        if changed:
            requests.append(dg.RunRequest(asset_check_keys=changed, tags={
                PARTITION_TAG: source_id,
                **run_tags(source_id, trigger="sensor:freshness", mode="freshness")}))
    if not requests:
        return dg.SkipReason("every judged source shows its current freshness verdict")
    return dg.SensorResult(run_requests=requests)
