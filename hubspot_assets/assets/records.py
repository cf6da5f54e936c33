"""The object records asset."""

from typing import Any

import dagster as dg

from hubspot_assets.assets.stage import stage_asset, stored_data, stream_stage
from hubspot_assets.extract.records import object_records as fetch_object_records
from hubspot_assets.resources import HubSpotResource


@stage_asset(
    description="Every record of every listed object type with all its properties, live and "
    "archived, streamed into source_{id}_stream; types fetched concurrently.",
    code_version="1",
)
def object_records(
    context: dg.AssetExecutionContext, hubspot: HubSpotResource, object_download_list: Any
) -> Any:
    """All records of the download list's ready types."""
    entries = stored_data(object_download_list)
    return stream_stage(context, hubspot, lambda client, _, report: fetch_object_records(
        client, entries, report, max_workers=hubspot.max_in_flight))
