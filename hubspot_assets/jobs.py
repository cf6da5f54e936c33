"""Jobs: the whole sync of one source."""

import dagster as dg

from hubspot_assets.assets.stage import GROUP
from hubspot_assets.partitions import source_partitions

hubspot_sync = dg.define_asset_job(
    "hubspot_sync",
    selection=dg.AssetSelection.groups(GROUP),
    partitions_def=source_partitions,
    description="All six stages for one source: discovery, records, events, relationships.",
)
