"""Object records stage: every listed type's records, in full or changed since a watermark,
and, when a reconciliation is due, the complete set of ids HubSpot lists per type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.stream.records import ID_LISTING, OBJECT, StreamRecord
from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.timestamps import now_ms

#: Ids per `id_listing` chunk document (about 150 KB: far below MongoDB's 16 MiB).
ID_CHUNK = 10_000
LIVE, ARCHIVED, IDS = "live", "archived", "ids"


def object_records(
    client: Any,
    entries: Iterable[dict[str, Any]],
    report: StageReport,
    *,
    max_workers: int,
    plan: SyncPlan | None = None,
    reconcile_every_ms: int | None = None,
) -> Iterator[StreamRecord]:
    """Records of every ready download-list entry, types fetched concurrently.

    A type with a watermark in ``plan`` is read through CRM search (records
    modified since the watermark); others are listed in full. Archived
    records are always listed in full (``archived=true``): it is the only way
    HubSpot shows deletes, and it holds only ~90 days of them.

    Reconciliation, when due for a type (every full read; on incremental runs
    every ``reconcile_every_ms``, see ``SyncPlan.reconciliation_due``): the
    ids of the type's complete listings go into the stream as `id_listing`
    records, each listing closed by a marker only a finished listing yields.
    The live ids are listed on their own (`client.iter_object_ids`, list pages
    only), even on a full read: a long full read takes its highest ids through
    CRM search, whose index lags writes, so its ids are no proof of absence.
    The archived listing (list pages too) is tapped at no extra call.
    Consolidation marks what no listing holds as gone.
    """
    plan = plan or SyncPlan.full()
    ready = [entry for entry in entries if entry.get("status") == "ready"]
    reconcile = {entry["objectType"]: plan.reconciliation_due(entry["objectType"],
                                                              reconcile_every_ms)
                 for entry in ready}
    report.count("reconciled_types", sum(r is not None for r in reconcile.values()))
    units = [(entry, part) for entry in ready for part in (LIVE, ARCHIVED, IDS)]

    def fetch(unit: tuple[dict[str, Any], str]) -> Iterator[StreamRecord]:
        entry, part = unit
        object_type = entry["objectType"]
        properties = entry["properties"]
        tap = reconcile[object_type] is not None
        if part == IDS:
            if not tap:
                return
            listing = plan.track_reconciliation(object_type, partial(
                listed_ids, client, object_type, report))
            yield from report.guarded(f"{object_type} (ids)", listing)
            return
        if part == ARCHIVED:
            counter, label = "archived_records", f"{object_type} (archived)"
            records = partial(client.iter_objects, object_type, properties, archived=True)
        elif (since := plan.since(object_type)) is None:
            counter, label, tap = "records", object_type, False
            records = plan.track(object_type, partial(client.iter_objects, object_type, properties))
        else:
            counter, label, tap = "modified_records", f"{object_type} (modified)", False
            records = plan.track(object_type, partial(
                client.search_modified, object_type, since, properties=properties))
        produce = partial(as_records, records, object_type, counter, report, ARCHIVED, tap)
        if tap:
            produce = plan.track_reconciliation(object_type, produce)
        yield from report.guarded(label, produce)

    yield from interleave(units, fetch, max_workers=max_workers)


def as_records(records: Callable[[], Iterable[dict[str, Any]]], object_type: str, counter: str,
               report: StageReport, listing: str, tap: bool,
               clock: Callable[[], int] = now_ms) -> Iterator[StreamRecord]:
    """The object records of one listing; with ``tap``, also its ids as `id_listing`
    records (only for a listing made of list pages: the archived one)."""
    ids = IdEvidence(object_type, listing, clock()) if tap else None
    for record in records():
        report.count(counter)
        hubspot_id = str(record["id"])
        yield StreamRecord(OBJECT, object_type, hubspot_id, record, record.get("updatedAt"))
        if ids is not None:
            yield from ids.add(hubspot_id)
    if ids is not None:
        yield from ids.close()


def listed_ids(client: Any, object_type: str, report: StageReport,
               clock: Callable[[], int] = now_ms) -> Iterator[StreamRecord]:
    """A type's live ids (the cheapest complete read: ids only) as `id_listing` records."""
    ids = IdEvidence(object_type, LIVE, clock())
    for hubspot_id in client.iter_object_ids(object_type):
        report.count("ids_listed")
        yield from ids.add(hubspot_id)
    yield from ids.close()


class IdEvidence:
    """Chunks of one listing's ids, and the marker that says the listing finished.

    `listed_from` (when the listing began, epoch ms) bounds what the evidence
    can judge: consolidation marks only objects whose stored version is older.
    """

    def __init__(self, object_type: str, listing: str, listed_from: int) -> None:
        self.object_type, self.listing, self.listed_from = object_type, listing, listed_from
        self.chunk: list[str] = []
        self.chunks = self.count = 0

    def add(self, hubspot_id: str) -> Iterator[StreamRecord]:
        self.chunk.append(hubspot_id)
        self.count += 1
        if len(self.chunk) >= ID_CHUNK:
            yield self._flush()

    def _flush(self) -> StreamRecord:
        record = StreamRecord(ID_LISTING, self.object_type, f"{self.listing}:{self.chunks}", {
            "objectType": self.object_type, "listing": self.listing, "chunk": self.chunks,
            "ids": self.chunk})
        self.chunks, self.chunk = self.chunks + 1, []
        return record

    def close(self) -> Iterator[StreamRecord]:
        """The last chunk and the marker: called only once the listing is exhausted."""
        if self.chunk:
            yield self._flush()
        yield StreamRecord(ID_LISTING, self.object_type, f"{self.listing}:complete", {
            "objectType": self.object_type, "listing": self.listing, "complete": True,
            "listed_from": self.listed_from, "ids": self.count, "chunks": self.chunks})
