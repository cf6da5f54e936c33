"""A two-stage job for the multiprocess test: each step runs in its own process.

Module level so Dagster can reconstruct the job in its step processes; the
URI and database come from the environment like in production.
"""

from __future__ import annotations

import dagster as dg

from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets_tests.mongo.streams import ContactStream

SOURCES = dg.StaticPartitionsDefinition(["acme", "beta"])


@dg.asset(partitions_def=SOURCES)
def mp_records():
    return ContactStream(2_000)


@dg.asset(partitions_def=SOURCES)
def mp_summary(context, mp_records):
    # Runs in another process: reads what the first step wrote, via the cursor.
    count = sum(1 for _ in mp_records)
    context.add_output_metadata({"read": count})
    return None


def build_job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[mp_records, mp_summary],
        resources={"io_manager": MongoStreamIOManager(
            uri=dg.EnvVar("MONGODB_URI"), database=dg.EnvVar("MONGO_TEST_DATABASE"))},
        jobs=[dg.define_asset_job("mp_job", partitions_def=SOURCES)],
    )
    return defs.resolve_job_def("mp_job")
