"""The property history asset (opt-in per source and type: `property_history:` in the
source registry)."""

from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import run_stage, stage_asset, stored_data, stream_stage
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.extract.history import history_records, history_units
from hubspot_assets.stream.records import DOWNLOAD_LIST_ENTRY, OBJECT


@stage_asset(
    description="Every change of the properties a source opted into (batch read with "
    "propertiesWithHistory, 50 records a call) for the records object_records fetched: "
    "all of them on a full sync, those modified since the watermark afterwards.",
    code_version="1",
)
def property_history(context: dg.AssetExecutionContext, hubspot: HubSpotResource,
                     object_download_list: Any, object_records: Any) -> Any:
    """Property histories of the opted-in types' records of the latest records run."""
    entries = stored_data(object_download_list, DOWNLOAD_LIST_ENTRY)

    def ids_of(object_type: str):
        live = object_records.filter({"data.archived": False}, kind=OBJECT,
                                     object_type=object_type, projection={"hubspot_id": 1})
        return (document["hubspot_id"] for document in live)

    yield from run_stage(context, stream_stage(
        context, hubspot, lambda client, source, report: history_records(
            client, history_units(source, entries), ids_of, report,
            max_workers=hubspot.settings.max_in_flight)))
