"""The Definitions object that workspace.yaml loads (`hubspot_assets.defs:defs`).

Configuration comes from the environment: MONGODB_URI and HUBSPOT_SOURCES_FILE
are required (resolved when a run or sensor needs them); MONGODB_DATABASE and
the client knobs in `resources.CLIENT_ENVIRONMENT` are optional, read at load.
"""

import os
from collections.abc import Mapping

import dagster as dg

from hubspot_assets.defs.assets import ALL_ASSETS
from hubspot_assets.defs.assets.stage import STREAM_IO_MANAGER
from hubspot_assets.defs.freshness import (
    FRESHNESS_CHECKS,
    hubspot_freshness,
    hubspot_freshness_sensor,
)
from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.defs.jobs import hubspot_full_resync, hubspot_sync
from hubspot_assets.defs.resources import (
                                           HubSpotResource,
                                           HubSpotSettings,
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

#: Step processes one run keeps at once (HUBSPOT_STEP_PROCESSES, default 4).
STEP_PROCESSES = "HUBSPOT_STEP_PROCESSES"


def run_executor(settings: HubSpotSettings, environ: Mapping[str, str] = os.environ
                 ) -> dg.ExecutorDefinition:
    """How a run executes its steps: independent stages at once, one process each.

    One source's stages share one rate budget, but no single stage keeps it busy
    from start to end: while the association sweep and the events read run, the
    objects are consolidated; the last consolidations overlap the last fetch.
    The shared limiter (SQLite or Redis) holds every step process to the one
    budget. Step processes fork from a server that has imported the code location
    (forkserver), so a step starts in a fraction of a second instead of importing
    Dagster anew. A per-process limiter (`memory`) cannot be shared: then one
    process runs every step.
    """
    config = executor_config(settings, environ)
    if config is None:
        return dg.in_process_executor
    return dg.multiprocess_executor.configured(config, name="hubspot_executor")


def executor_config(settings: HubSpotSettings, environ: Mapping[str, str]) -> dict | None:
    """The multiprocess executor's config, or None where steps must share one process."""
    if settings.resolved_backend == "memory":
        return None
    value = environ.get(STEP_PROCESSES, "").strip() or "4"
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"bad {STEP_PROCESSES}={value!r}: a whole number of processes, at "
                         "least 1 (unset it for 4)")
    return {"max_concurrent": int(value),
            "start_method": {"forkserver": {"preload_modules": list(STEP_PRELOAD)}}}


#: What the fork server imports once for every step process it forks. Dagster loads
#: most of itself lazily: without its storage and execution layers here each step
#: would import them anew (about 1.3 s per step on a 2-core machine, against 0.15 s).
STEP_PRELOAD = ("dagster._core.storage.base_storage", "dagster._core.execution.api",
                "dagster._core.execution.plan.execute_plan", "upath.core", "psutil",
                "hubspot_assets.defs")


SETTINGS = settings_from_environment()

defs = dg.Definitions(
    executor=run_executor(SETTINGS),
    assets=ALL_ASSETS,
    asset_checks=FRESHNESS_CHECKS,
    jobs=[hubspot_sync, hubspot_full_resync, hubspot_freshness],
    schedules=[hubspot_sync_schedule],
    sensors=[hubspot_sources_sensor, hubspot_freshness_sensor, *HISTORY_SENSORS],
    resources={
        "hubspot": HubSpotResource(sources_file=dg.EnvVar("HUBSPOT_SOURCES_FILE"),
                                   settings=SETTINGS),
        STREAM_IO_MANAGER: MongoStreamIOManager(uri=MONGODB_URI, database=MONGODB_DATABASE),
        "mongo": MongoResource(uri=MONGODB_URI, database=MONGODB_DATABASE),
        "job_history": JobHistoryResource(uri=MONGODB_URI, database=MONGODB_DATABASE),
    },
)
