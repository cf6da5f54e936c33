"""The events asset."""

from typing import Any

import dagster as dg

from hubspot_assets.assets.stage import stage_asset, stored_data, stream_stage
from hubspot_assets.extract.events import event_records
from hubspot_assets.resources import HubSpotResource


@stage_asset(
    description="Every event of every event type (GET /events/v3/events), streamed.",
    code_version="1",
)
def events(context: dg.AssetExecutionContext, hubspot: HubSpotResource, event_types: Any) -> Any:
    """All events of the discovered event types."""
    types = [data["eventType"] for data in stored_data(event_types)]
    return stream_stage(context, hubspot, lambda client, _, report: event_records(
        client, types, report, max_workers=hubspot.max_in_flight))
