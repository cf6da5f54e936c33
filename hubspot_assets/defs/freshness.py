"""Freshness: per source, is its last good sync within the lag its registry entry allows?

Dagster's built-in freshness (`build_last_update_freshness_checks`, the newer
`FreshnessPolicy`) judges an asset as a whole: its latest materialization of
any partition. Here a partition is a HubSpot account, and one account synced
a minute ago says nothing about another whose token was revoked last week. So
each consolidated asset gets a partitioned asset check, `fresh`, judged per
source from that partition's latest materialization, and a sensor re-judges
every source on a short interval and records the verdict (a runless check
evaluation) whenever it changes: a source whose syncs keep failing turns red
in the UI without any run. The check also runs inside every sync run (the jobs
select the checks of their assets) and from the UI's "Execute".
"""

import json
import os
from datetime import datetime

import dagster as dg

from hubspot_assets.cadence import Freshness, judge_freshness
from hubspot_assets.defs.assets import CONSOLIDATION_ASSETS
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
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
        "cadence). Re-judged by hubspot_freshness_sensor; see docs/keeping-current.md.",
    )
    def _check(context: dg.AssetCheckExecutionContext,
               hubspot: HubSpotResource) -> dg.AssetCheckResult:
        source = hubspot.source(context.partition_key)
        verdict, metadata = judge(context.instance, asset.key, source, utcnow())
        return dg.AssetCheckResult(passed=verdict.passed, severity=SEVERITY,
                                   description=verdict.description, metadata=metadata)

    return _check


FRESHNESS_CHECKS = [freshness_check(asset) for asset in CONSOLIDATION_ASSETS]


@dg.sensor(
    name="hubspot_freshness_sensor",
    minimum_interval_seconds=sensor_interval(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-judges the `fresh` check of every source's consolidated assets and "
    "records the verdict whenever it changes (no run needed), so a source whose syncs fail "
    "shows as failing once its allowed lag has passed.",
)
def hubspot_freshness_sensor(context: dg.SensorEvaluationContext, hubspot: HubSpotResource):
    """Record each source's freshness verdict when it differs from the last one recorded."""
    try:
        registry = hubspot.registry()
    except RegistryError as exc:
        return dg.SkipReason(str(exc))
    previous = json.loads(context.cursor) if context.cursor else {}
    partitions = set(context.instance.get_dynamic_partitions(source_partitions.name))
    now, verdicts, events = utcnow(), {}, []
    for source_id in sorted(partitions & set(registry.sources)):
        source = registry.sources[source_id]
        if source.schedule.allowed_lag() is None:
            continue  # nothing to judge against; the check says so when executed
        for asset in CONSOLIDATION_ASSETS:
            verdict, metadata = judge(context.instance, asset.key, source, now)
            key = f"{source_id}|{asset.key.to_user_string()}"
            verdicts[key] = verdict.passed
            if previous.get(key) != verdict.passed:
                events.append(dg.AssetCheckEvaluation(
                    asset_key=asset.key, check_name=CHECK_NAME, passed=verdict.passed,
                    severity=SEVERITY, description=verdict.description,
                    metadata=metadata, partition=source_id))
    return dg.SensorResult(asset_events=events, cursor=json.dumps(verdicts, sort_keys=True))
