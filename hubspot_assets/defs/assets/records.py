"""The object records asset."""

from itertools import chain
from typing import Any

import dagster as dg

from hubspot_assets.defs.assets.stage import (
    RECORDS_CHAIN,
    run_stage,
    stage_asset,
    stored_data,
    stream_stage,
)
from hubspot_assets.defs.assets.sync_config import SyncConfig, stage_checkpoint
from hubspot_assets.defs.resources import HubSpotResource, MongoResource
from hubspot_assets.extract.marketing import (
    campaign_records,
    email_records,
    form_records,
    list_records,
)
from hubspot_assets.extract.records import object_records as fetch_object_records
from hubspot_assets.extract.reference import reference_records
from hubspot_assets.stream.records import DOWNLOAD_LIST_ENTRY


@stage_asset(
    description="Records of every listed object type with all their properties, streamed into "
    "source_{id}_stream: in full on the first run (or with full_refresh), afterwards only "
    "those modified since each type's watermark (CRM search); archived records always; "
    "the ids HubSpot lists (live and archived) when a reconciliation is due. With them, "
    "owners (live and archived) and every pipeline with its stages, in full; every list, "
    "with the filter definitions of those changed since the last run; every form and "
    "campaign; marketing emails changed since the last run.",
    code_version="3",
    op_tags=RECORDS_CHAIN,
)
def object_records(
    context: dg.AssetExecutionContext,
    config: SyncConfig,
    hubspot: HubSpotResource,
    mongo: MongoResource,
    object_download_list: Any,
) -> Any:
    """All records of the download list's ready types, or those changed since the last run."""
    entries = stored_data(object_download_list, DOWNLOAD_LIST_ENTRY)
    checkpoint = stage_checkpoint(context, mongo, config.policy())
    # Owners and pipelines first: a few calls that give the records' ids their meaning.
    yield from run_stage(context, stream_stage(context, hubspot, lambda client, source, report: (
        chain(reference_records(client, entries, report),
              list_records(client, report, plan=checkpoint.plan),
              form_records(client, report),
              email_records(client, report, plan=checkpoint.plan),
              campaign_records(client, report),
              fetch_object_records(client, entries, report,
                                   max_workers=hubspot.settings.max_in_flight,
                                   plan=checkpoint.plan,
                                   reconcile_every_ms=source.reconcile_every_ms))),
        checkpoint))
