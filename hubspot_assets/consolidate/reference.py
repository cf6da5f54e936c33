"""Current-state reference collections: owners, pipelines, properties, association labels.

Each kind comes from one stage (owners and pipelines with the records, property
definitions with the download list, label definitions with the relationships),
and each of that stage's units lists its whole group at once (all owners, one
type's pipelines or properties, one direction's labels: see
`extract/reference.py`). So the latest finished run of the stage *is* the
current state of every group it holds:

1. each of its documents is upserted by its key (HubSpot's fields at the top
   level, plus `object_type`, `group`, `removed`, `stream_id`, ...) when it is
   new, changed or back; unchanged ones cost a read, not a write;
2. an active document of a group the run holds, that the run no longer holds,
   is marked `removed` (never deleted). A group missing from the run (its scope
   missing, its unit failed) is left as it was and named in `groups_not_read`.

Owners deactivated in HubSpot stay as owners with `archived: true` (HubSpot's
archived listing); `removed` means HubSpot no longer lists them at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from hubspot_assets.mongo.bulk import batched, write
from hubspot_assets.mongo.collections import property_history_collection, reference_collection
from hubspot_assets.mongo.stored_stream import latest_stream
from hubspot_assets.stream.naming import (
    OBJECT_DOWNLOAD_LIST,
    OBJECT_RECORDS,
    PROPERTY_HISTORY_STAGE,
    RELATIONSHIPS,
)
from hubspot_assets.stream.records import (
    ASSOCIATION_LABEL,
    OWNER,
    PIPELINE,
    PROPERTY_DEFINITION,
    PROPERTY_HISTORY,
)
from hubspot_assets.timestamps import to_epoch_ms, utcnow


@dataclass(frozen=True)
class ReferenceKind:
    """Where one kind comes from and how its documents are keyed and grouped."""

    kind: str
    stage: str
    collection: str  # a SourceNames attribute
    key: Callable[[dict[str, Any]], str]
    group: Callable[[dict[str, Any]], str]


def _typed(document: dict[str, Any]) -> str:
    return f"{document['object_type']}|{document['hubspot_id']}"


KINDS: tuple[ReferenceKind, ...] = (
    ReferenceKind(OWNER, OBJECT_RECORDS, "owners", lambda d: d["hubspot_id"],
                  lambda d: "owners"),
    ReferenceKind(PIPELINE, OBJECT_RECORDS, "pipelines", _typed, lambda d: d["object_type"]),
    ReferenceKind(PROPERTY_DEFINITION, OBJECT_DOWNLOAD_LIST, "properties", _typed,
                  lambda d: d["object_type"]),
    # object_type is the pair's direction ("contacts->companies"), hubspot_id
    # "{category}|{typeId}": both directions of a pair are their own groups.
    ReferenceKind(ASSOCIATION_LABEL, RELATIONSHIPS, "association_labels", _typed,
                  lambda d: d["object_type"]),
)


@dataclass
class KindSummary:
    read: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    run_id: str | None = None
    groups: list[str] = field(default_factory=list)
    reason: str | None = None  # why nothing was consolidated


@dataclass
class HistorySummary:
    records: int = 0   # objects whose history the latest run read
    values: int = 0    # past values they hold
    new: int = 0       # values not stored before
    reason: str | None = None


@dataclass
class ReferenceSummary:
    kinds: dict[str, KindSummary] = field(default_factory=dict)
    history: HistorySummary = field(default_factory=HistorySummary)

    def metadata(self) -> dict[str, Any]:
        """Per-collection counts, as plain values for asset metadata."""
        out: dict[str, Any] = {"property_history": {
            "records": self.history.records, "values": self.history.values,
            "new": self.history.new, "reason": self.history.reason}}
        for spec in KINDS:
            s = self.kinds.get(spec.kind) or KindSummary(reason="not consolidated")
            out[spec.collection] = {"read": s.read, "new": s.new, "changed": s.changed,
                                    "removed": s.removed, "groups": len(s.groups),
                                    "from_run": s.run_id, "reason": s.reason}
        return out


def _fields(document: dict[str, Any], spec: ReferenceKind, source_id: str, run_id: str,
            now: Any) -> dict[str, Any]:
    data = document.get("data") or {}
    return {
        **data,
        "source_id": source_id,
        "object_type": document.get("object_type"),
        "group": spec.group(document),
        "removed": False,
        "removed_at": None,
        "stream_id": document["_id"],
        "consolidated_run": run_id,
        "consolidated_at": now,
    }


def consolidate_kind(db: Database, source_id: str, run_id: str,
                     spec: ReferenceKind) -> KindSummary:
    """Bring one reference collection in line with its stage's latest finished run."""
    latest = latest_stream(db, source_id, spec.stage)
    if latest is None:
        return KindSummary(reason=f"{spec.stage} has no finished run")
    documents = latest.filter(kind=spec.kind, projection={"data": 1, "object_type": 1,
                                                          "hubspot_id": 1, "run_id": 1})
    collection = reference_collection(db, source_id, spec.collection)
    summary = KindSummary()
    groups: set[str] = set()
    present: set[str] = set()
    now = utcnow()
    for batch in batched(documents):
        batch = [d for d in batch if d.get("data") is not None]  # stubs: the writer recorded them
        summary.read += len(batch)
        keys = [spec.key(d) for d in batch]
        stored = {s["_id"]: s for s in collection.find({"_id": {"$in": keys}},
                                                       {"stream_id": 1, "removed": 1})}
        operations = []
        for key, document in zip(keys, batch):
            groups.add(spec.group(document))
            present.add(key)
            current = stored.get(key)
            if current and current["stream_id"] == document["_id"] and not current["removed"]:
                continue
            operations.append(UpdateOne(
                {"_id": key}, {"$set": _fields(document, spec, source_id, run_id, now)},
                upsert=True))
        written = write(collection, operations)
        summary.new += written.inserted
        summary.changed += written.modified
    active = collection.find({"group": {"$in": sorted(groups)}, "removed": False}, {"_id": 1})
    gone = [d["_id"] for d in active if d["_id"] not in present]
    for batch in batched(gone):
        written = write(collection, [UpdateOne({"_id": key}, {"$set": {
            "removed": True, "removed_at": now, "consolidated_run": run_id,
            "consolidated_at": now}}) for key in batch])
        summary.removed += written.modified
    summary.groups = sorted(groups)
    return summary


def history_key(object_type: str, object_id: str, name: str, entry: dict[str, Any],
                position: int) -> str:
    """`_id` of one past value; `position` counts from the oldest entry, so it stays
    the same as newer entries arrive (HubSpot lists them newest first)."""
    return f"{object_type}|{object_id}|{name}|{entry.get('timestamp')}|{position}"


def consolidate_history(db: Database, source_id: str, run_id: str) -> HistorySummary:
    """Add every past value the latest property_history run read (values never go away:
    a value a property had on a date stays true of that date)."""
    latest = latest_stream(db, source_id, PROPERTY_HISTORY_STAGE)
    if latest is None:
        return HistorySummary(reason=f"{PROPERTY_HISTORY_STAGE} has no finished run")
    collection = property_history_collection(db, source_id)
    summary = HistorySummary()
    now = utcnow()
    documents = latest.filter(kind=PROPERTY_HISTORY,
                              projection={"data": 1, "object_type": 1, "hubspot_id": 1})
    for batch in batched(documents, 200):
        operations = []
        for document in batch:
            data = document.get("data")
            if data is None:
                continue
            summary.records += 1
            object_type, object_id = document["object_type"], document["hubspot_id"]
            for name, entries in (data.get("propertiesWithHistory") or {}).items():
                for position, entry in enumerate(reversed(entries or [])):
                    summary.values += 1
                    operations.append(UpdateOne(
                        {"_id": history_key(object_type, object_id, name, entry, position)},
                        {"$setOnInsert": {
                            **entry, "source_id": source_id, "object_type": object_type,
                            "object_id": object_id, "property": name,
                            "timestamp_ms": to_epoch_ms(entry.get("timestamp")),
                            "stream_id": document["_id"], "consolidated_run": run_id,
                            "consolidated_at": now}}, upsert=True))
        summary.new += write(collection, operations).inserted
    return summary


def consolidate_reference(db: Database, source_id: str, run_id: str) -> ReferenceSummary:
    """Every reference collection of a source, from the latest run of each kind's stage,
    and the property history."""
    return ReferenceSummary({spec.kind: consolidate_kind(db, source_id, run_id, spec)
                             for spec in KINDS}, consolidate_history(db, source_id, run_id))
