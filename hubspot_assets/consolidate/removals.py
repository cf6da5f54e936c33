"""Records that left HubSpot without an archived version: merged away, or gone from
every listing (permanently deleted, aged out of the archive).

Merges: a survivor's `hs_merged_object_ids` (HubSpot's ';'-separated list of every
id merged into it) marks each of those ids `deleted_reason: "merged"`,
`merged_into: <survivor>`. A merge cannot be undone, so a merged object is never
made live again; a later survivor (a chain of merges) takes over `merged_into`
(`merged_version`: the survivor version that said so, newest wins).

Gone: the stage's `id_listing` records of its latest run (docs/stream-documents.md)
hold, per type, every id HubSpot listed live and archived, each listing closed
by a marker only a finished listing writes. For a type with both markers,
every object of the type that neither listing holds, and whose stored version
is older than the listings' start (`listed_from`: a record created or changed
since can not be judged by them), is marked `deleted_reason: "gone"` with
`gone_since` (the time it was first missed). A gone object that a later
listing holds again is revived. A type without both markers (a listing failed,
stopped early, or did not run) is left exactly as it was.

Memory: one type's listed ids at a time (a set of strings, ~70 bytes an id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.bulk import batched, write
from hubspot_assets.mongo.collections import runs_collection
from hubspot_assets.mongo.stored_stream import latest_stream
from hubspot_assets.stream.naming import OBJECT_RECORDS, SourceNames, object_key
from hubspot_assets.stream.records import ID_LISTING
from hubspot_assets.timestamps import from_epoch_ms

MERGED_IDS = "hs_merged_object_ids"
MERGED, GONE, ARCHIVED = "merged", "gone", "archived"
LISTINGS = ("live", "archived")


@dataclass
class Reconciliation:
    """What one reconciliation did (`tag`: the stage run whose listings it read)."""

    tag: str | None = None
    types: list[str] = field(default_factory=list)      # reconciled on complete evidence
    skipped: dict[str, str] = field(default_factory=dict)  # type -> why it was left alone
    gone: int = 0
    revived: int = 0

    def metadata(self) -> dict[str, Any]:
        return {"reconciled_types": self.types, "reconciliation_skipped": self.skipped,
                "objects_gone": self.gone, "objects_revived": self.revived}


def deletion_state(archived: bool) -> dict[str, Any]:
    """The deletion fields of an object HubSpot lists (live or archived)."""
    return {"deleted": archived, "deleted_reason": ARCHIVED if archived else None,
            "merged_into": None, "gone_since": None}


def merged_ids(properties: dict[str, Any], own_id: str) -> list[str]:
    """The ids a survivor's `hs_merged_object_ids` names (never its own)."""
    raw = properties.get(MERGED_IDS) if isinstance(properties, dict) else None
    if not raw:
        return []
    return [i for i in (part.strip() for part in str(raw).split(";")) if i and i != own_id]


def mark_merged(objects: Collection, rows: dict[str, dict[str, Any]], source_id: str,
                run_id: str, now: dt.datetime) -> int:
    """Mark every id the survivors in ``rows`` name as merged into them; returns how many
    objects changed. Ids never stored (merged before the first sync) get an object too."""
    marks: dict[str, tuple[str, str, str]] = {}  # key -> (survivor id, type, version)
    for fields in rows.values():
        for merged in merged_ids(fields["properties"], fields["hubspot_id"]):
            key = object_key(fields["object_type"], merged)
            if key not in marks or marks[key][2] < fields["version"]:
                marks[key] = (fields["hubspot_id"], fields["object_type"], fields["version"])
    if not marks:
        return 0
    # Filters are plain `_id`s: one consolidation per source runs at a time.
    stored = {d["_id"]: d.get("merged_version") or ""
              for d in objects.find({"_id": {"$in": list(marks)}}, {"merged_version": 1})}
    operations = []
    for key, (survivor, object_type, version) in marks.items():
        if key in stored and stored[key] >= version:
            continue  # a newer survivor already said where it went
        state = {"deleted": True, "deleted_reason": MERGED, "merged_into": survivor,
                 "gone_since": None, "merged_version": version,
                 "consolidated_run": run_id, "consolidated_at": now}
        if key not in stored:
            operations.append(UpdateOne({"_id": key}, {"$setOnInsert": {
                **state, "source_id": source_id, "object_type": object_type,
                "hubspot_id": key.split("|", 1)[1], "properties": {}, "archived": False,
                "archived_at": None, "created_at": None, "updated_at": None, "version": "",
                "stream_id": None, "data_omitted": "merged before it was first synced"}},
                upsert=True))
        else:
            operations.append(UpdateOne({"_id": key}, {"$set": state}))
    written = write(objects, operations)
    return written.inserted + written.modified


def reconcile(db: Database, objects: Collection, source_id: str, run_id: str,
              now: dt.datetime, already: str | None = None) -> Reconciliation:
    """Mark the objects no complete listing of the stage's latest run holds as gone.

    ``already``: the run tag a previous consolidation reconciled (nothing to do again).
    """
    result = Reconciliation()
    latest = runs_collection(db).find_one(
        {"_id": SourceNames(source_id).stage_key(OBJECT_RECORDS)}, {"seen_tag": 1})
    stream = latest_stream(db, source_id, OBJECT_RECORDS)
    if latest is None or stream is None:
        return result
    result.tag = latest["seen_tag"]
    if result.tag == already:
        return result
    evidence = stream.filter(kind=ID_LISTING)
    markers: dict[str, dict[str, dict[str, Any]]] = {}
    # Top-level filters only (markers and chunks told apart by hubspot_id).
    closing = [f"{listing}:complete" for listing in LISTINGS]
    for document in evidence.filter({"hubspot_id": {"$in": closing}}, projection={"data": 1}):
        data = document.get("data") or {}
        markers.setdefault(data.get("objectType"), {})[data.get("listing")] = data
    for object_type in sorted(filter(None, markers)):
        found = markers[object_type]
        missing = [listing for listing in LISTINGS if listing not in found]
        if missing:
            result.skipped[object_type] = f"no complete {' and '.join(missing)} listing"
            continue
        ids, problem = _listed_ids(evidence, object_type, found)
        if problem:
            result.skipped[object_type] = problem
            continue
        listed_from = min(int(found[listing]["listed_from"]) for listing in LISTINGS)
        _judge(objects, object_type, ids, listed_from, run_id, now, result)
        result.types.append(object_type)
    return result


def _listed_ids(evidence: Any, object_type: str,
                markers: dict[str, dict[str, Any]]) -> tuple[set[str], str | None]:
    """Every id the type's chunks hold, or why the chunks do not add up to the markers."""
    ids: set[str] = set()
    seen: dict[str, set[int]] = {listing: set() for listing in LISTINGS}
    wanted = [f"{listing}:{n}" for listing in LISTINGS
              for n in range(int(markers[listing].get("chunks") or 0))]
    chunks = evidence.filter({"object_type": object_type, "hubspot_id": {"$in": wanted}},
                             projection={"data": 1})
    for document in chunks:
        data = document.get("data") or {}
        if data.get("listing") in seen and isinstance(data.get("ids"), list):
            seen[data["listing"]].add(data.get("chunk"))
            ids.update(str(i) for i in data["ids"])
    for listing in LISTINGS:
        expected = set(range(int(markers[listing].get("chunks") or 0)))
        if not expected <= seen[listing]:
            return ids, f"{listing} listing chunks missing: {sorted(expected - seen[listing])[:5]}"
    return ids, None


def _judge(objects: Collection, object_type: str, ids: set[str], listed_from: int,
           run_id: str, now: dt.datetime, result: Reconciliation) -> None:
    bound = f"{listed_from:015d}"  # versions start with updatedAt, 15 digits
    missed_at = from_epoch_ms(listed_from)
    cursor = objects.find({"object_type": object_type},
                          {"hubspot_id": 1, "version": 1, "deleted_reason": 1, "archived": 1},
                          batch_size=1000)
    with cursor:
        for batch in batched(cursor):
            gone, revived = _decisions(batch, ids, bound)
            # Unchanged since the read (the same version), or not judged at all.
            written = write(objects, [UpdateOne(
                {"_id": d["_id"], "version": d["version"]},
                {"$set": {"deleted": True, "deleted_reason": GONE, "gone_since": missed_at,
                          "consolidated_run": run_id, "consolidated_at": now}}) for d in gone])
            result.gone += written.modified
            written = write(objects, [UpdateOne(
                {"_id": d["_id"], "deleted_reason": GONE},
                {"$set": {**deletion_state(bool(d.get("archived"))),
                          "consolidated_run": run_id, "consolidated_at": now}})
                for d in revived])
            result.revived += written.modified


def _decisions(batch: Iterable[dict[str, Any]], ids: set[str],
               bound: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(objects to mark gone, gone objects listed again) of one batch."""
    gone, revived = [], []
    for document in batch:
        reason = document.get("deleted_reason")
        listed = document["hubspot_id"] in ids
        if reason == MERGED:
            continue
        if reason == GONE:
            if listed:
                revived.append(document)
        elif not listed and (document.get("version") or "") < bound:
            gone.append(document)
    return gone, revived
