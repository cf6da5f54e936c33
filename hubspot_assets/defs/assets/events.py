"""The events asset."""

from itertools import chain
from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import stage_asset, stored_data, stream_stage
from hubspot_assets.defs.assets.sync_config import SyncConfig, stage_checkpoint
from hubspot_assets.defs.resources import HubSpotResource, MongoResource
from hubspot_assets.extract.events import event_records
from hubspot_assets.extract.marketing import (
    email_event_records,
    membership_records,
    submission_records,
)


@stage_asset(
    description="Events of every event type (GET /events/v3/events), streamed: all on the "
    "first run (or with full_refresh), afterwards those occurred since each type's watermark; "
    "the members of every list changed since its watermark, each list read whole; and the "
    "submissions of every form since the form's watermark; marketing email events since "
    "their watermark (legacy /email/public/v1/events, the only endpoint HubSpot has).",
    code_version="3",
)
def events(context: dg.AssetExecutionContext, config: SyncConfig, hubspot: HubSpotResource,
           mongo: MongoResource, event_types: Any) -> Any:
    """The events of the discovered event types (new ones only, once watermarked)."""
    types = [data["eventType"] for data in stored_data(event_types)]
    checkpoint = stage_checkpoint(context, mongo, config.policy())
    workers = hubspot.settings.max_in_flight
    return stream_stage(context, hubspot, lambda client, _, report: chain(
        event_records(client, types, report, max_workers=workers, plan=checkpoint.plan),
        membership_records(client, report, max_workers=workers, plan=checkpoint.plan),
        submission_records(client, report, max_workers=workers, plan=checkpoint.plan),
        email_event_records(client, report, plan=checkpoint.plan)),
        checkpoint)
