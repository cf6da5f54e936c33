"""The relationships asset."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from hubspot_assets.assets.stage import stage_asset, stored_data, stream_stage
from hubspot_assets.extract.relationships import association_pairs, relationship_records
from hubspot_assets.mongo.documents import OBJECT
from hubspot_assets.resources import HubSpotResource


@stage_asset(
    description="Association edges between every pair of listed types (v4 batch reads, every "
    "page, labels included), with object ids read lazily from the stream collection.",
    code_version="1",
)
def relationships(
    context: dg.AssetExecutionContext,
    hubspot: HubSpotResource,
    object_download_list: Any,
    object_records: Any,
) -> Any:
    """One relationship record per association edge."""
    pairs = association_pairs(stored_data(object_download_list))

    def live_ids(object_type: str) -> Iterator[str]:
        documents = object_records.filter(
            kind=OBJECT, object_type=object_type, projection={"hubspot_id": 1, "data.archived": 1}
        )
        return (d["hubspot_id"] for d in documents if not d["data"].get("archived"))

    return stream_stage(context, hubspot, lambda client, _, report: relationship_records(
        client, pairs, live_ids, report, max_workers=hubspot.max_in_flight))
