"""Jobs: the sync of one source (incremental once watermarked), and a forced full re-sync."""

import dagster as dg

from hubspot_assets.defs.assets.stage import GROUP
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.runs import MODE_TAG

#: What a sync runs: every asset of the group with its checks, the `fresh` ones too (a
#: step each at the end of a run), so a good sync shows fresh at once, not at the
#: freshness sensor's next check run.
SYNC_SELECTION = dg.AssetSelection.groups(GROUP)

#: The assets that take a SyncConfig (watermarked fetches and consolidation).
INCREMENTAL_ASSETS = ("object_records", "events", "consolidated_objects")
#: The run config of a full re-sync (the job below; the schedule's full runs of hubspot_sync).
FULL_REFRESH_CONFIG = {"ops": {name: {"config": {"full_refresh": True}}
                               for name in INCREMENTAL_ASSETS}}

hubspot_sync = dg.define_asset_job(
    "hubspot_sync",
    selection=SYNC_SELECTION,
    partitions_def=source_partitions,
    description="Every stage and its consolidation for one source: a full sync the first "
    "time, then only what changed since the watermarks (associations: a full sweep).",
)

hubspot_full_resync = dg.define_asset_job(
    "hubspot_full_resync",
    selection=SYNC_SELECTION,
    partitions_def=source_partitions,
    config=FULL_REFRESH_CONFIG,
    tags={MODE_TAG: "full"},
    description="Like hubspot_sync, but ignores every watermark: fetches and consolidates "
    "everything again (e.g. after a long pause or a suspected gap).",
)
