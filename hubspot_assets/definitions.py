"""The Definitions object that workspace.yaml loads.

Configuration comes from the environment: MONGODB_URI and HUBSPOT_SOURCES_FILE
are required (resolved when a run or sensor needs them); the others are
optional knobs read at load time.
"""

import os

import dagster as dg

from hubspot_assets.assets import ALL_ASSETS, STAGE_ASSETS
from hubspot_assets.assets.checks import api_errors_check
from hubspot_assets.assets.stage import STREAM_IO_MANAGER
from hubspot_assets.history import HISTORY_SENSORS, JobHistoryResource
from hubspot_assets.jobs import hubspot_full_resync, hubspot_sync
from hubspot_assets.mongo.io_manager import MongoStreamIOManager
from hubspot_assets.mongo.resource import MongoResource
from hubspot_assets.resources import HubSpotResource
from hubspot_assets.sources import hubspot_sources_sensor

MONGODB_DATABASE = os.environ.get("MONGODB_DATABASE", "hubspot")


def _optional_int(name: str) -> int | None:
    """An integer setting from the environment; unset means the client default."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number; unset it for the "
                         "default") from None

defs = dg.Definitions(
    # One run is one source, and every stage of a source shares that source's
    # rate budget, so running stages in parallel processes buys no throughput;
    # it only costs a Python start-up and a Dagster import per step.
    executor=dg.in_process_executor,
    assets=ALL_ASSETS,
    asset_checks=[api_errors_check(asset) for asset in STAGE_ASSETS],
    jobs=[hubspot_sync, hubspot_full_resync],
    sensors=[hubspot_sources_sensor, *HISTORY_SENSORS],
    resources={
        "hubspot": HubSpotResource(
            sources_file=dg.EnvVar("HUBSPOT_SOURCES_FILE"),
            limiter_backend=os.environ.get("HUBSPOT_LIMITER_BACKEND") or None,
            limiter_dir=os.environ.get("HUBSPOT_LIMITER_DIR") or None,
            redis_url=os.environ.get("HUBSPOT_REDIS_URL") or None,
            max_in_flight=int(os.environ.get("HUBSPOT_MAX_IN_FLIGHT", "8")),
            two_ended_after_pages=_optional_int("HUBSPOT_TWO_ENDED_AFTER_PAGES"),
        ),
        STREAM_IO_MANAGER: MongoStreamIOManager(
            uri=dg.EnvVar("MONGODB_URI"), database=MONGODB_DATABASE
        ),
        "mongo": MongoResource(uri=dg.EnvVar("MONGODB_URI"), database=MONGODB_DATABASE),
        "job_history": JobHistoryResource(uri=dg.EnvVar("MONGODB_URI"), database=MONGODB_DATABASE),
    },
)
