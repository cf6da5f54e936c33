"""`source_{id}_relationships`: every association edge, queryable from either end.

The relationships stage sweeps every association of every live object each
run, so the latest sweep *is* the current edge set of each pair it completed:

1. every edge of the sweep is upserted when it is new, its association types
   changed, or it had been removed and is back (unchanged edges cost a read,
   not a write);
2. an active edge of a completely swept pair that the sweep no longer holds
   is marked `removed` (never deleted), with `from_deleted` / `to_deleted`
   when the object at that end is deleted (HubSpot hides the associations of
   archived objects). Pairs whose sweep hit an API error are left as they
   were: a missing edge there proves nothing.

Both passes read through cursors and write in batches of 1,000. They read the
latest sweep, not a `fetched_at` window like the objects: an edge removed and
later restored is the same stream document, which a window would not show
again.

A stub (`data: null`, an edge MongoDB could not store) is kept as an edge
marked `data_omitted`, its ends read from the stub's `data_outline`; a stub
without both ends is counted (`edges_unreadable`) and left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.bulk import batched, write
from hubspot_assets.mongo.collections import (
    objects_collection,
    relationships_collection,
    runs_collection,
)
from hubspot_assets.mongo.stored_stream import latest_stream
from hubspot_assets.stream.naming import (
    CONSOLIDATED_RELATIONSHIPS,
    RELATIONSHIPS,
    SourceNames,
    object_key,
    pair_unit,
)
from hubspot_assets.stream.records import record_data
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets.timestamps import utcnow

STAGE = CONSOLIDATED_RELATIONSHIPS
SWEEP_STAGE = RELATIONSHIPS
ENDS = ("fromObjectType", "fromObjectId", "toObjectType", "toObjectId")
SWEEP_FIELDS = {"data": 1, "data_outline": 1, "data_omitted": 1}


class SweepNotFound(LookupError):
    """The relationships stage has not finished a sweep for this source yet."""


@dataclass
class RelationshipsSummary:
    sweep_run_id: str
    read: int = 0        # edges in the latest sweep
    new: int = 0         # edges seen for the first time
    changed: int = 0     # association types changed, or removed and back
    removed: int = 0     # edges no longer in HubSpot (marked, not deleted)
    stubs: int = 0       # edges stored as stubs (marked data_omitted)
    unreadable: int = 0  # stubs without both ends (left out)
    pairs_skipped: list[str] = field(default_factory=list)  # incomplete sweeps, left as they were

    def metadata(self) -> dict[str, Any]:
        return {"sweep_run_id": self.sweep_run_id, "edges_read": self.read,
                "edges_new": self.new, "edges_changed": self.changed,
                "edges_removed": self.removed, "pairs_skipped": self.pairs_skipped,
                "records_stubbed": self.stubs, "edges_unreadable": self.unreadable}


def edge_key(data: dict[str, Any]) -> str:
    return "|".join((data["fromObjectType"], data["fromObjectId"],
                     data["toObjectType"], data["toObjectId"]))


def edge_fields(document: dict[str, Any], source_id: str, run_id: str,
                now: dt.datetime) -> dict[str, Any]:
    data = record_data(document)
    types = data.get("associationTypes") or []
    reverse = data.get("reverseAssociationTypes") or []
    return {
        "source_id": source_id,
        "pair": pair_unit(data["fromObjectType"], data["toObjectType"]),
        "from_type": data["fromObjectType"],
        "from_id": data["fromObjectId"],
        "to_type": data["toObjectType"],
        "to_id": data["toObjectId"],
        "association_types": types,
        "labels": sorted({t["label"] for t in types if t.get("label")}),
        # The same edge seen from its other end (extract/relationships.py: reverse_types).
        "reverse_association_types": reverse,
        "reverse_labels": sorted({t["label"] for t in reverse if t.get("label")}),
        "removed": False,
        "removed_at": None,
        "from_deleted": False,
        "to_deleted": False,
        "stream_id": document["_id"],
        "data_omitted": document.get("data_omitted") if document.get("data") is None else None,
        "consolidated_run": run_id,
        "consolidated_at": now,
    }


def _upsert_sweep(edges: Collection, sweep: Any, source_id: str, run_id: str,
                  summary: RelationshipsSummary,
                  progress: Callable[[int], None] | None = None) -> None:
    now = utcnow()
    for batch in batched(sweep.filter(projection=SWEEP_FIELDS)):
        summary.read += len(batch)
        summary.stubs += sum(d.get("data") is None for d in batch)
        readable = [d for d in batch if all(record_data(d).get(end) for end in ENDS)]
        summary.unreadable += len(batch) - len(readable)
        batch = readable
        keys = [edge_key(record_data(d)) for d in batch]
        stored = {e["_id"]: e for e in edges.find({"_id": {"$in": keys}},
                                                  {"stream_id": 1, "removed": 1})}
        operations = []
        for key, document in zip(keys, batch):
            current = stored.get(key)
            if current and current["stream_id"] == document["_id"] and not current["removed"]:
                continue
            operations.append(UpdateOne(
                {"_id": key}, {"$set": edge_fields(document, source_id, run_id, now)},
                upsert=True))
        written = write(edges, operations)
        summary.new += written.inserted
        summary.changed += written.modified
        if progress is not None:
            progress(len(keys))


def _mark_removed(db: Database, edges: Collection, sweep: Any, source_id: str,
                  pairs: list[str], run_id: str, summary: RelationshipsSummary) -> None:
    objects = objects_collection(db, source_id)
    active = edges.find({"pair": {"$in": pairs}, "removed": False},
                        {"stream_id": 1, "from_type": 1, "from_id": 1, "to_type": 1, "to_id": 1},
                        batch_size=1000)
    with active:
        for batch in batched(active):
            present = {d["_id"] for d in sweep.collection.find(
                {"_id": {"$in": [e["stream_id"] for e in batch]}, **sweep.query}, {"_id": 1})}
            gone = [e for e in batch if e["stream_id"] not in present]
            if not gone:
                continue
            ends = {object_key(e[f"{side}_type"], e[f"{side}_id"])
                    for e in gone for side in ("from", "to")}
            deleted = {d["_id"] for d in objects.find(
                {"_id": {"$in": sorted(ends)}, "deleted": True}, {"_id": 1})}
            now = utcnow()
            written = write(edges, [UpdateOne({"_id": e["_id"]}, {"$set": {
                "removed": True,
                "removed_at": now,
                "from_deleted": object_key(e["from_type"], e["from_id"]) in deleted,
                "to_deleted": object_key(e["to_type"], e["to_id"]) in deleted,
                "consolidated_run": run_id,
                "consolidated_at": now,
            }}) for e in gone])
            summary.removed += written.modified


def consolidate_relationships(db: Database, source_id: str, run_id: str, *,
                              progress: Callable[[int], None] | None = None,
                              ) -> RelationshipsSummary:
    """Bring `source_{id}_relationships` in line with the latest association sweep.

    ``progress(n)`` is called after each batch of ``n`` sweep documents.
    """
    sweep = latest_stream(db, source_id, SWEEP_STAGE)
    run = runs_collection(db).find_one({"_id": SourceNames(source_id).stage_key(SWEEP_STAGE)},
                                        {"run_id": 1})
    if sweep is None or run is None:
        raise SweepNotFound(f"source {source_id}: the relationships stage has no finished run")
    state = WatermarkStore(db).load(source_id, SWEEP_STAGE) or {}
    completed, incomplete = state.get("completed"), state.get("incomplete")
    if state.get("run_id") == run["run_id"] and isinstance(completed, list):
        complete = [p for p in completed if isinstance(p, str)]
        skipped = incomplete if isinstance(incomplete, list) else []
    else:  # no record of what the latest sweep completed: remove nothing
        complete, skipped = [], ["(all: the sweep recorded no completed pairs)"]
    summary = RelationshipsSummary(run["run_id"], pairs_skipped=skipped)
    edges = relationships_collection(db, source_id)
    _upsert_sweep(edges, sweep, source_id, run_id, summary, progress)
    _mark_removed(db, edges, sweep, source_id, complete, run_id, summary)
    WatermarkStore(db).commit(source_id, STAGE, {"run_id": run_id, **asdict(summary),
                                                 "committed_at": utcnow()})
    return summary
