"""`source_{id}_objects`: the latest version of every object, deleted ones marked.

Incremental: each run reads only the stream documents stored since the last
consolidation (by `fetched_at`, minus an overlap). Each batch of 1,000 is
folded in: one read of the stored versions, then objects not stored yet are
inserted (`$setOnInsert`) and older ones replaced under a condition on the
stored version (`{_id, version: {$lt: new}}`). So the newest version wins
whatever order documents arrive in, a version re-read through the overlap
costs a read and no write, and concurrent runs cannot regress an object.
Memory stays at one batch.

Why batches of upserts and not one `$merge` aggregation: a batch at a time
keeps memory and each server operation bounded, reports exact new/changed/
deleted counts, and lets the objects' watermark advance only over what was
folded; it costs at most three round trips per 1,000 documents.

The stored watermark is checked first: one that is not a time, lies in the
future, or vouches for more objects than the collection now holds (a failover
to an empty node, an old backup) is reported and ignored: a full refresh.

A stream stub (`data: null`, a record MongoDB refused; see mongo/writer.py)
becomes an object marked `data_omitted`, built from the stub's `data_outline`.

`deleted_reason` says why an object is deleted: "archived" (HubSpot's archived
listing holds it), "merged" (a survivor's `hs_merged_object_ids` names it:
`merged_into`) or "gone" (in no listing: `gone_since`); see removals.py. A newer
version of an archived or gone object (restored in HubSpot) makes it live again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.consolidate.removals import MERGED, deletion_state, mark_merged, reconcile
from hubspot_assets.mongo.bulk import Written, batched, write
from hubspot_assets.mongo.collections import objects_collection, stream_collection
from hubspot_assets.stream.naming import CONSOLIDATED_OBJECTS, object_key
from hubspot_assets.stream.records import OBJECT, record_data
from hubspot_assets.sync.plan import FUTURE_SKEW_MS
from hubspot_assets.sync.watermarks import WatermarkStore, shrunk
from hubspot_assets.timestamps import as_datetime, aware, epoch_ms, utcnow

STAGE = CONSOLIDATED_OBJECTS
STREAM_FIELDS = {"object_type": 1, "hubspot_id": 1, "data": 1, "data_hash": 1, "fetched_at": 1,
                 "data_omitted": 1, "data_outline": 1}

log = logging.getLogger(__name__)


@dataclass
class ObjectsSummary:
    mode: str
    read: int = 0        # stream documents read
    new: int = 0         # objects seen for the first time (live)
    changed: int = 0     # live objects replaced by a newer version
    deleted: int = 0     # objects newly stored as archived
    since: dt.datetime | None = None
    fetched_through: dt.datetime | None = None
    reason: str | None = None  # why a stored watermark was ignored (a full refresh)
    stubs: int = 0       # stream stubs folded in as objects marked data_omitted
    objects_size: int = 0  # objects stored after the run (checked by the next one)
    merged: int = 0      # objects newly marked merged into a survivor
    reconciliation: dict[str, Any] | None = None  # what the reconciliation did (removals.py)
    reconciled_tag: str | None = None  # the stage run whose id listings were applied

    def metadata(self) -> dict[str, Any]:
        return {"mode": self.mode, "mode_reason": self.reason or self.mode,
                "stream_documents_read": self.read,
                "objects_new": self.new, "objects_changed": self.changed,
                "objects_deleted": self.deleted, "records_stubbed": self.stubs,
                "objects_merged": self.merged, **(self.reconciliation or {}),
                "since": self.since.isoformat() if self.since else None,
                "watermark": self.fetched_through.isoformat() if self.fetched_through else None}


def version_of(data: dict[str, Any], data_hash: str) -> str:
    """Sortable version: HubSpot's updatedAt, then archived over live (archiving does
    not always move updatedAt), then the content hash (deterministic tie-break)."""
    updated = epoch_ms(data.get("updatedAt")) or 0
    return f"{updated:015d}|{int(bool(data.get('archived')))}|{data_hash}"


def object_fields(document: dict[str, Any], source_id: str, run_id: str,
                  now: dt.datetime) -> dict[str, Any]:
    """The objects-collection document of one stream version (without `_id`)."""
    data = record_data(document)
    archived = bool(data.get("archived"))
    return {
        "source_id": source_id,
        "object_type": document["object_type"],
        "hubspot_id": document["hubspot_id"],
        "properties": data.get("properties") or {},
        "archived": archived,
        **deletion_state(archived),
        "archived_at": as_datetime(data.get("archivedAt")),
        "created_at": as_datetime(data.get("createdAt")),
        "updated_at": as_datetime(data.get("updatedAt")),
        "version": version_of(data, document["data_hash"]),
        "stream_id": document["_id"],
        # A stub's properties are unknown, not empty: say so on the object.
        "data_omitted": document.get("data_omitted") if document.get("data") is None else None,
        "consolidated_run": run_id,
        "consolidated_at": now,
    }


def newest_per_object(documents: list[dict[str, Any]], source_id: str, run_id: str,
                      now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The fields of each object's newest version in one batch, by object key."""
    rows: dict[str, dict[str, Any]] = {}
    for document in documents:
        fields = object_fields(document, source_id, run_id, now)
        key = object_key(fields["object_type"], fields["hubspot_id"])
        if key not in rows or rows[key]["version"] < fields["version"]:
            rows[key] = fields
    return rows


def fold(objects: Collection, documents: list[dict[str, Any]], source_id: str, run_id: str,
         now: dt.datetime, rows: dict[str, dict[str, Any]] | None = None) -> Written:
    """Insert the objects not stored yet; replace stored ones with a newer version only.

    Versions already stored (re-read through the overlap) cost one read, no write.
    A merged object stays merged (HubSpot cannot undo a merge).
    """
    rows = newest_per_object(documents, source_id, run_id, now) if rows is None else rows
    if not rows:
        return Written()
    found = list(objects.find({"_id": {"$in": list(rows)}}, {"version": 1, "deleted_reason": 1}))
    stored = {d["_id"]: d["version"] for d in found}
    merged = {d["_id"] for d in found if d.get("deleted_reason") == MERGED}
    new = [key for key in rows if key not in stored]
    inserted = write(objects, [UpdateOne({"_id": key}, {"$setOnInsert": rows[key]}, upsert=True)
                               for key in new]).upserted_ids
    # Stored now (maybe by a concurrent run since the read) and older: the
    # condition keeps the replacement atomic, so a newer version always wins.
    updates = [UpdateOne({"_id": key, "version": {"$lt": fields["version"]}}, {"$set": fields})
               for key, fields in rows.items()
               if key not in inserted and key not in merged
               and stored.get(key, "") < fields["version"]]
    return Written(len(inserted), write(objects, updates).modified)


def consolidate_objects(db: Database, source_id: str, run_id: str, *,
                        full_refresh: bool = False, overlap_ms: int = 600_000,
                        progress: Callable[[int], None] | None = None) -> ObjectsSummary:
    """Fold the stream's object versions into `source_{id}_objects`; commit the watermark last.

    ``progress(n)`` is called after each batch of ``n`` stream documents.
    """
    watermarks = WatermarkStore(db)
    objects = objects_collection(db, source_id)
    previous = None if full_refresh else watermarks.load(source_id, STAGE)
    through, reason = checked_watermark(previous, objects)
    since = through - dt.timedelta(milliseconds=overlap_ms) if through else None
    summary = ObjectsSummary("incremental" if since else "full", since=since,
                             fetched_through=through, reason=reason)
    query: dict[str, Any] = {"kind": OBJECT}
    if since is not None:
        query["fetched_at"] = {"$gte": since}
    now = utcnow()
    documents = stream_collection(db, source_id).find(query, STREAM_FIELDS, batch_size=1000)
    with documents:
        for batch in batched(documents):
            summary.read += len(batch)
            fetched = max(aware(d["fetched_at"]) for d in batch)
            summary.fetched_through = max(filter(None, (summary.fetched_through, fetched)))
            summary.stubs += sum(d.get("data") is None for d in batch)
            live = [d for d in batch if not record_data(d).get("archived")]
            archived = [d for d in batch if record_data(d).get("archived")]
            rows = newest_per_object(live, source_id, run_id, now)
            written = fold(objects, live, source_id, run_id, now, rows)
            summary.new += written.inserted
            summary.changed += written.modified
            summary.merged += mark_merged(objects, rows, source_id, run_id, now)
            written = fold(objects, archived, source_id, run_id, now)
            summary.deleted += written.inserted + written.modified
            if progress is not None:
                progress(len(batch))
    # After the folds: a record restored or changed since the listings is judged by
    # its newest version, never by evidence older than it.
    done = reconcile(db, objects, source_id, run_id, now,
                     already=None if full_refresh or not isinstance(previous, dict)
                     else previous.get("reconciled_tag"))
    summary.reconciled_tag = done.tag
    summary.reconciliation = done.metadata()
    summary.objects_size = objects.estimated_document_count()
    watermarks.commit(source_id, STAGE, {"run_id": run_id, **asdict(summary),
                                         "committed_at": utcnow()})
    return summary


def checked_watermark(previous: Any, objects: Collection) -> tuple[dt.datetime | None,
                                                                   str | None]:
    """The stored `fetched_through` if it can be trusted, else None and why not.

    Costs one collection-size read from metadata.
    """
    if not isinstance(previous, dict):
        return None, None if previous is None else "the watermark document is unreadable"
    through = previous.get("fetched_through")
    if through is None and "fetched_through" in previous:
        return None, None  # the last run read an empty stream: nothing to vouch for
    if not isinstance(through, dt.datetime):
        problem = f"fetched_through is a {type(through).__name__}, not a time"
    elif aware(through) > utcnow() + dt.timedelta(milliseconds=FUTURE_SKEW_MS):
        problem = f"fetched_through {aware(through).isoformat()} lies in the future"
    else:
        problem = shrunk(objects, previous.get("objects_size"), "objects")
    if problem is None:
        return aware(through), None
    reason = f"watermark ignored: {problem}; full refresh"
    log.warning("%s: %s", STAGE, reason)
    return None, reason


def objects_consolidated(db: Database, source_id: str) -> bool:
    """Whether consolidation has committed the objects of this source at least once."""
    return WatermarkStore(db).load(source_id, STAGE) is not None


def live_ids(db: Database, source_id: str, object_type: str) -> Iterator[str]:
    """The ids of one type's live objects, read lazily (what the association sweep needs)."""
    documents = objects_collection(db, source_id).find(
        {"object_type": object_type, "archived": False, "deleted": False}, {"hubspot_id": 1},
        batch_size=1000)
    return (d["hubspot_id"] for d in documents)
