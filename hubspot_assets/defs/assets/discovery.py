"""Discovery assets: custom object schemas, the object download list, event types."""

from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import (
    RECORDS_CHAIN,
    run_stage,
    stage_asset,
    stored_data,
    stream_stage,
)
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.extract.discovery import (
    download_list_records,
    event_type_records,
    schema_records,
)


@stage_asset(
    description="Custom object schemas of the HubSpot account (GET /crm/v3/schemas), unchanged.",
    code_version="1",
    op_tags=RECORDS_CHAIN,
)
def custom_object_schemas(context: dg.AssetExecutionContext, hubspot: HubSpotResource) -> Any:
    """Every custom object schema of the source's account."""
    yield from run_stage(context, stream_stage(
        context, hubspot, lambda client, _, report: schema_records(client, report)))


@stage_asset(
    description="Object types to download (standard and custom) with every property name; "
    "types the token cannot read are listed as skipped, with the reason.",
    code_version="1",
    op_tags=RECORDS_CHAIN,
)
def object_download_list(
    context: dg.AssetExecutionContext, hubspot: HubSpotResource, custom_object_schemas: Any
) -> Any:
    """One entry per object type: its properties, or why it is skipped."""
    schemas = stored_data(custom_object_schemas)
    yield from run_stage(context, stream_stage(
        context, hubspot, lambda client, source, report: download_list_records(
            client, source, schemas, report, max_workers=hubspot.settings.max_in_flight)))


@stage_asset(
    description="Event types of the account (GET /events/v3/events/event-types).",
    code_version="1",
)
def event_types(context: dg.AssetExecutionContext, hubspot: HubSpotResource) -> Any:
    """Every event type; none (with a note) on tiers without the events API."""
    yield from run_stage(context, stream_stage(
        context, hubspot, lambda client, _, report: event_type_records(client, report)))
