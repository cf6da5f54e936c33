"""The relationships asset."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from hubspot_assets.assets.stage import stage_asset, stored_data, stream_stage
from hubspot_assets.consolidate.objects import STAGE as OBJECTS_STAGE
from hubspot_assets.consolidate.storage import objects_collection
from hubspot_assets.extract.relationships import association_pairs, relationship_records
from hubspot_assets.incremental.checkpoint import Checkpoint
from hubspot_assets.incremental.plan import SyncPlan
from hubspot_assets.incremental.watermarks import WatermarkStore
from hubspot_assets.mongo.resource import MongoResource
from hubspot_assets.resources import HubSpotResource


@stage_asset(
    description="Association edges between every pair of listed types (v4 batch reads, every "
    "page, labels included): a full sweep every run over the ids of the live consolidated "
    "objects, so association changes that touched neither object are never missed.",
    code_version="2",
    deps=["consolidated_objects"],
)
def relationships(
    context: dg.AssetExecutionContext,
    hubspot: HubSpotResource,
    mongo: MongoResource,
    object_download_list: Any,
) -> Any:
    """One relationship record per association edge."""
    pairs = association_pairs(stored_data(object_download_list))
    watermarks = WatermarkStore(mongo.db())
    if watermarks.load(context.partition_key, OBJECTS_STAGE) is None:
        # Without the current objects the sweep would find no ids and look empty.
        raise dg.Failure(description=f"source {context.partition_key}: consolidated_objects has "
                         "never run; materialize it (or the whole hubspot_sync job) first",
                         allow_retries=False)
    objects = objects_collection(mongo.db(), context.partition_key)

    def live_ids(object_type: str) -> Iterator[str]:
        documents = objects.find({"object_type": object_type, "archived": False},
                                 {"hubspot_id": 1}, batch_size=1000)
        return (d["hubspot_id"] for d in documents)

    # Always a full sweep; the checkpoint records which pairs it completed, so
    # consolidation only marks edges removed where the sweep is conclusive.
    plan = SyncPlan.full("association sweep: full every run")
    checkpoint = Checkpoint(plan, watermarks, context.partition_key, context.asset_key.path[-1])
    return stream_stage(context, hubspot, lambda client, _, report: relationship_records(
        client, pairs, live_ids, report, max_workers=hubspot.max_in_flight, plan=plan),
        checkpoint)
