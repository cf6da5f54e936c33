"""A benchmark-only IO manager that counts records instead of writing them.

Running a stage once into MongoDB and once into this sink tells whether the
writes slow the stage down. Downstream stages still need their inputs: after a
MongoDB run of the same source (`read_uri` set) they are read from there, as
the MongoDB IO manager reads them; on its own the sink spills to a local file
exactly what they read: whole documents of the small discovery stages, and
only id and `archived` of object records. Memory stays flat either way.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any, Optional

import dagster as dg

from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.stream.protocol import RecordStream
from hubspot_assets.stream.records import (
    CUSTOM_OBJECT_SCHEMA,
    DOWNLOAD_LIST_ENTRY,
    EVENT_TYPE,
    OBJECT,
    coerce_record,
)

# Kinds that downstream stages read whole; there are few of them.
_WHOLE = {CUSTOM_OBJECT_SCHEMA, DOWNLOAD_LIST_ENTRY, EVENT_TYPE}


def _spilled(record) -> dict[str, Any] | None:
    """The part of a record a downstream stage reads, or None if none does."""
    if record.kind in _WHOLE:
        return {"kind": record.kind, "object_type": record.object_type,
                "hubspot_id": record.hubspot_id, "data": record.data}
    if record.kind == OBJECT:
        return {"kind": OBJECT, "object_type": record.object_type,
                "hubspot_id": record.hubspot_id,
                "data": {"archived": bool(record.data.get("archived"))}}
    return None


def spill_path(spill_dir: str, asset_key: dg.AssetKey, partition: str) -> str:
    return os.path.join(spill_dir, f"{partition}.{asset_key.to_python_identifier()}.jsonl")


class SpilledStream:
    """What `load_input` returns: iterates the spill file, with `.filter(**equal_fields)`
    like `StoredStream` (projection accepted and ignored: documents are already small)."""

    def __init__(self, path: str, criteria: dict[str, Any] | None = None) -> None:
        self.path = path
        self.criteria = dict(criteria or {})

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                document = json.loads(line)
                if all(document.get(k) == v for k, v in self.criteria.items()):
                    yield document

    def filter(self, criteria: dict[str, Any] | None = None, /, *, projection: Any = None,
               sort: Any = None, **fields: Any) -> "SpilledStream":
        return SpilledStream(self.path, {**self.criteria, **(criteria or {}), **fields})


class CountingSinkIOManager(dg.ConfigurableIOManager):
    """Counts every record of a stage's stream; spills what downstream stages read."""

    spill_dir: str
    read_uri: Optional[str] = None
    read_database: str = "hubspot"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        os.makedirs(self.spill_dir, exist_ok=True)
        kinds: Counter[str] = Counter()
        with open(spill_path(self.spill_dir, context.asset_key, context.partition_key), "w",
                  encoding="utf-8") as handle:
            for item in obj:
                record = coerce_record(item)
                kinds[record.kind] += 1
                spilled = _spilled(record)
                if spilled is not None:
                    handle.write(json.dumps(spilled, separators=(",", ":")) + "\n")
        # Nothing is stored, so `on_written` (which commits watermarks) is not called.
        metadata = dict(obj.metadata()) if isinstance(obj, RecordStream) else {}
        metadata["dagster/partition_row_count"] = sum(kinds.values())
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        if self.read_uri:
            reader = MongoStreamIOManager(uri=self.read_uri, database=self.read_database)
            return reader.load_input(context)
        upstream = context.upstream_output
        return SpilledStream(spill_path(self.spill_dir, upstream.asset_key,
                                        context.asset_partition_key))
