"""The relationships asset."""

from functools import partial
from typing import Any

import dagster as dg

from hubspot_assets.consolidate.objects import live_ids, objects_consolidated
from hubspot_assets.defs.assets.stage import (
    run_stage,
    stage_asset,
    stage_of,
    stored_data,
    stream_stage,
)
from hubspot_assets.defs.resources import HubSpotResource, MongoResource
from hubspot_assets.extract.relationships import association_pairs, relationship_records
from hubspot_assets.stream.naming import CONSOLIDATED_OBJECTS
from hubspot_assets.stream.records import DOWNLOAD_LIST_ENTRY
from hubspot_assets.sync.checkpoint import Checkpoint
from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.sync.watermarks import WatermarkStore


@stage_asset(
    description="Association edges between every pair of listed types (v4 batch reads, every "
    "page, labels included): a full sweep every run over the ids of the live consolidated "
    "objects, so association changes that touched neither object are never missed.",
    code_version="2",
    deps=[CONSOLIDATED_OBJECTS],
)
def relationships(
    context: dg.AssetExecutionContext,
    hubspot: HubSpotResource,
    mongo: MongoResource,
    object_download_list: Any,
) -> Any:
    """One relationship record per association edge."""
    source_id, db = context.partition_key, mongo.db()
    pairs = association_pairs(stored_data(object_download_list, DOWNLOAD_LIST_ENTRY))
    if not objects_consolidated(db, source_id):
        # Without the current objects the sweep would find no ids and look empty.
        raise dg.Failure(description=f"source {source_id}: {CONSOLIDATED_OBJECTS} has never "
                         "run; materialize it (or the whole hubspot_sync job) first",
                         allow_retries=False)
    # Always a full sweep; the checkpoint records which pairs it completed, so
    # consolidation only marks edges removed where the sweep is conclusive.
    plan = SyncPlan.full("association sweep: full every run")
    checkpoint = Checkpoint(plan, WatermarkStore(db), source_id, stage_of(context))
    yield from run_stage(context, stream_stage(context, hubspot, lambda client, _, report: (
        relationship_records(client, pairs, partial(live_ids, db, source_id), report,
                             max_workers=hubspot.settings.max_in_flight, plan=plan)), checkpoint))
