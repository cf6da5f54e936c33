"""The Definitions object that workspace.yaml loads (`hubspot_assets.defs:defs`).

Configuration comes from the environment: MONGODB_URI and HUBSPOT_SOURCES_FILE
are required (resolved when a run or sensor needs them); MONGODB_DATABASE and
the client knobs in `resources.CLIENT_ENVIRONMENT` are optional, read at load.
"""

import os

import dagster as dg

from hubspot_assets.defs.assets import ALL_ASSETS, STAGE_ASSETS
from hubspot_assets.defs.assets.stage import STREAM_IO_MANAGER
from hubspot_assets.defs.checks import api_errors_check
from hubspot_assets.defs.freshness import FRESHNESS_CHECKS, hubspot_freshness_sensor
from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.defs.jobs import hubspot_full_resync, hubspot_sync
from hubspot_assets.defs.resources import (
                                           HubSpotResource,
                                           JobHistoryResource,
                                           MongoResource,
                                           settings_from_environment,
)
from hubspot_assets.defs.schedules import hubspot_sync_schedule
from hubspot_assets.defs.sensors import HISTORY_SENSORS, hubspot_sources_sensor
from hubspot_assets.runtime import tune_process

# Once per process that loads the code location: the webserver, the daemon,
# and every run worker.
tune_process()

MONGODB_URI = dg.EnvVar("MONGODB_URI")
MONGODB_DATABASE = os.environ.get("MONGODB_DATABASE", "hubspot")

defs = dg.Definitions(
    # One run is one source, and every stage of a source shares that source's
    # rate budget, so running stages in parallel processes buys no throughput;
    # it only costs a Python start-up and a Dagster import per step.
    executor=dg.in_process_executor,
    assets=ALL_ASSETS,
    asset_checks=[*(api_errors_check(asset) for asset in STAGE_ASSETS), *FRESHNESS_CHECKS],
    jobs=[hubspot_sync, hubspot_full_resync],
    schedules=[hubspot_sync_schedule],
    sensors=[hubspot_sources_sensor, hubspot_freshness_sensor, *HISTORY_SENSORS],
    resources={
        "hubspot": HubSpotResource(sources_file=dg.EnvVar("HUBSPOT_SOURCES_FILE"),
                                   settings=settings_from_environment()),
        STREAM_IO_MANAGER: MongoStreamIOManager(uri=MONGODB_URI, database=MONGODB_DATABASE),
        "mongo": MongoResource(uri=MONGODB_URI, database=MONGODB_DATABASE),
        "job_history": JobHistoryResource(uri=MONGODB_URI, database=MONGODB_DATABASE),
    },
)
