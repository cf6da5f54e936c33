"""The events asset."""

from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import (
    run_stage,
    stage_asset,
    stored_data,
    stream_stage,
)
from hubspot_assets.defs.assets.sync_config import SyncConfig, stage_checkpoint
from hubspot_assets.defs.resources import HubSpotResource, MongoResource
from hubspot_assets.extract.events import event_records


@stage_asset(
    description="Events of every event type (GET /events/v3/events), streamed: all on the "
    "first run (or with full_refresh), afterwards those occurred since each type's watermark.",
    code_version="2",
)
def events(context: dg.AssetExecutionContext, config: SyncConfig, hubspot: HubSpotResource,
           mongo: MongoResource, event_types: Any) -> Any:
    """The events of the discovered event types (new ones only, once watermarked)."""
    types = [data["eventType"] for data in stored_data(event_types)]
    checkpoint = stage_checkpoint(context, mongo, config.policy())
    yield from run_stage(context, stream_stage(context, hubspot, lambda client, _, report: (
        event_records(client, types, report, max_workers=hubspot.settings.max_in_flight,
                      plan=checkpoint.plan)), checkpoint))
