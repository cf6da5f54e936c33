"""Acceptance: 200,000 documents through the IO manager, twice, then read by
another process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets_tests.mongo.streams import ContactStream

TOTAL = 200_000
SOURCES = dg.DynamicPartitionsDefinition(name="acceptance_sources")


class LargeStream(ContactStream):
    """200,000 contacts; produced lazily, never held as a list."""


@dg.asset(partitions_def=SOURCES, name="acceptance_records")
def acceptance_records():
    return LargeStream(TOTAL)


@pytest.mark.timeout(400)
def test_200k_documents_idempotent_and_readable_from_another_process(mongo_uri, mongo_database,
                                                                      mongo_client):
    manager = MongoStreamIOManager(uri=mongo_uri, database=mongo_database)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SOURCES.name, ["acme"])
    timings = {}
    for attempt in ("first", "rerun"):
        started = time.monotonic()
        result = dg.materialize([acceptance_records], partition_key="acme", instance=instance,
                                resources={"io_manager": manager})
        timings[attempt] = time.monotonic() - started
        assert result.success
        (materialization,) = result.asset_materializations_for_node("acceptance_records")
        meta = {k: v.value for k, v in materialization.metadata.items()}
        assert meta["dagster/partition_row_count"] == TOTAL
        assert (meta["new"], meta["unchanged"]) == ((TOTAL, 0) if attempt == "first"
                                                    else (0, TOTAL))
    collection = mongo_client[mongo_database]["source_acme_stream"]
    assert collection.count_documents({}) == TOTAL

    started = time.monotonic()
    reader = subprocess.run(
        [sys.executable, "-m", "hubspot_assets_tests.mongo.reader_process",
         mongo_uri, mongo_database, "acme", "acceptance_records"],
        capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )
    timings["second process read"] = time.monotonic() - started
    assert reader.returncode == 0, reader.stderr
    seen = json.loads(reader.stdout.strip().splitlines()[-1])
    assert seen["count"] == seen["distinct_ids"] == seen["total"] == TOTAL
    assert seen["run_id"] == result.run_id
    print("acceptance timings (s):", {k: round(v, 1) for k, v in timings.items()})
