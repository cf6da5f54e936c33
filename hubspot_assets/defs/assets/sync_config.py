"""Run configuration of the incremental assets, and the plan it gives a stage run.

A full re-sync is one click: launch with `full_refresh: true` (or the
`hubspot_full_resync` job, which sets it on every incremental asset).
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from hubspot_assets.defs.assets.stage import stage_of
from hubspot_assets.defs.resources import MongoResource
from hubspot_assets.sync.checkpoint import Checkpoint
from hubspot_assets.sync.plan import SyncPolicy
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets.timestamps import DAY_MS, MINUTE_MS


class SyncConfig(dg.Config):
    """Full or incremental: the knobs a run may turn."""

    full_refresh: bool = Field(
        default=False, description="Ignore the watermarks: fetch (or consolidate) everything.")
    overlap_minutes: float = Field(
        default=10.0, description="Re-read this much before each watermark (clock skew, "
        "HubSpot's search index lagging behind writes); re-read records are stored once.")
    retention_days: float = Field(
        default=90.0, description="How long HubSpot keeps archived records: an older "
        "watermark could miss deletes, so the stage falls back to a full sync.")

    def policy(self) -> SyncPolicy:
        return SyncPolicy(full_refresh=self.full_refresh,
                          overlap_ms=int(self.overlap_minutes * MINUTE_MS),
                          retention_ms=int(self.retention_days * DAY_MS))


def stage_checkpoint(context: dg.AssetExecutionContext, mongo: MongoResource,
                     policy: SyncPolicy) -> Checkpoint:
    """This stage run's plan (from its stored watermarks), committed once its data is stored."""
    stage = stage_of(context)
    checkpoint = Checkpoint.load(WatermarkStore(mongo.db()), context.partition_key, stage, policy)
    plan = checkpoint.plan
    for warning in plan.warnings():
        context.log.warning(f"{stage}: {warning}")
    context.log.info(f"{stage}: {plan.mode} sync ({plan.reason or 'watermarks found'})")
    return checkpoint
