"""Object records stage: every listed type's records, in full or changed since a watermark,
and, when a reconciliation is due, the complete set of ids HubSpot lists per type."""

from __future__ import annotations

import threading
from array import array
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
    gaps = {object_type: ListedNotRead() for object_type, due in reconcile.items()
            if due is not None and plan.reads_in_full(object_type)}
    units = [(entry, part) for entry in ready for part in (LIVE, ARCHIVED, IDS)]

    def fetch(unit: tuple[dict[str, Any], str]) -> Iterator[StreamRecord]:
        entry, part = unit
        object_type = entry["objectType"]
        estimate: Any = None
        properties = entry["properties"]
        if part == IDS:
            if reconcile[object_type] is None:
                return
            gap = gaps.get(object_type)
            listing = plan.track_reconciliation(object_type, partial(
                listed_ids, client, object_type, report, seen=gap and gap.listed))
            if gap is not None:
                listing = partial(gap.ended, IDS, listing)
            yield from report.guarded(f"{object_type} (ids)", listing, counted=_not_evidence)
            if gap is not None:
                yield from gap.close(client, object_type, properties, report)
            return
        # `records` counts live records fetched in either mode (full listing or
        # modified since the watermark), so the key means the same on every run.
        # Only the archived listing is tapped for id evidence: list pages alone.
        tap = False
        if part == ARCHIVED:
            counters, label = ("archived_records",), f"{object_type} (archived)"
            records = partial(client.iter_objects, object_type, properties, archived=True)
            tap = reconcile[object_type] is not None
        elif (since := plan.since(object_type)) is None:
            counters, label = ("records",), object_type
            records = partial(client.iter_objects, object_type, properties)
            if (gap := gaps.get(object_type)) is not None:
                records = partial(gap.ended, LIVE, partial(gap.read, records))
            records = plan.track(object_type, records)

            def estimate() -> int | None:  # a long full listing's total (one search call)
                return client.count_objects(object_type)
        else:
            counters, label = ("records", "modified_records"), f"{object_type} (modified)"
            records = plan.track(object_type, partial(
                client.search_modified, object_type, since, properties=properties))
        produce = partial(as_records, records, object_type, counters, report, ARCHIVED, tap)
        if tap:
            produce = plan.track_reconciliation(object_type, produce)
        yield from report.guarded(label, produce, row=object_type, archived=part == ARCHIVED,
                                  estimate=estimate, counted=_not_evidence)
        if part == LIVE and (gap := gaps.get(object_type)) is not None:
            yield from gap.close(client, object_type, properties, report)

    yield from interleave(units, fetch, max_workers=max_workers)


def _not_evidence(record: StreamRecord) -> bool:
    return record.kind != ID_LISTING


def as_records(records: Callable[[], Iterable[dict[str, Any]]], object_type: str,
               counters: tuple[str, ...], report: StageReport, listing: str, tap: bool,
               clock: Callable[[], int] = now_ms) -> Iterator[StreamRecord]:
    """The object records of one listing; with ``tap``, also its ids as `id_listing`
    records (only for a listing made of list pages: the archived one)."""
    ids = IdEvidence(object_type, listing, clock()) if tap else None
    for record in records():
        for counter in counters:
            report.count(counter)
        hubspot_id = str(record["id"])
        yield StreamRecord(OBJECT, object_type, hubspot_id, record, record.get("updatedAt"))
        if ids is not None:
            yield from ids.add(hubspot_id)
    if ids is not None:
        yield from ids.close()


def listed_ids(client: Any, object_type: str, report: StageReport,
               clock: Callable[[], int] = now_ms,
               seen: Callable[[str], None] | None = None) -> Iterator[StreamRecord]:
    """A type's live ids (the cheapest complete read: ids only) as `id_listing` records;
    ``seen`` is told each id."""
    ids = IdEvidence(object_type, LIVE, clock())
    for hubspot_id in client.iter_object_ids(object_type):
        report.count("ids_listed")
        if seen is not None:
            seen(hubspot_id)
        yield from ids.add(hubspot_id)
    yield from ids.close()


class ListedNotRead:
    """The ids a type's complete id listing holds that its full read did not return.

    A long full read takes its highest ids through CRM search (`two_ended`),
    whose index lags writes: HubSpot's CRM search guide says newly created or
    updated records may take a few moments to appear in search results. So
    records created just before the run can be missing from a full read that
    still ends normally. The id listing (list pages: no lag) holds them; once
    both have ended, whichever ends second batch-reads the difference, in the
    same run. If either fails, the failure is reported and the next run's
    overlap re-reads the changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._read, self._listed = _Ids(), _Ids()
        self._ended: set[str] = set()
        self._closed = False

    def read(self, records: Callable[[], Iterable[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        """``records()``, noting each id."""
        for record in records():
            self._read.add(str(record["id"]))
            yield record

    def listed(self, hubspot_id: str) -> None:
        self._listed.add(hubspot_id)

    def ended(self, part: str, items: Callable[[], Iterable[Any]]) -> Iterator[Any]:
        """``items()``; ``part`` (LIVE or IDS) counts as ended once they are exhausted."""
        yield from items()
        with self._lock:
            self._ended.add(part)

    def close(self, client: Any, object_type: str, properties: list[str],
              report: StageReport) -> Iterator[StreamRecord]:
        """Called by each part once it stops: the second of the two to end without
        error reads what the full read missed, as a unit of its own."""
        with self._lock:
            if self._ended != {LIVE, IDS} or self._closed:
                return
            self._closed = True
        missing = self._listed.minus(self._read)
        if not missing:
            return
        report.count("records_missed_by_search", len(missing))
        yield from report.guarded(f"{object_type} (missed by search)", partial(
            read_by_id, client, object_type, missing, properties, report))



def read_by_id(client: Any, object_type: str, ids: list[str], properties: list[str],
               report: StageReport) -> Iterator[StreamRecord]:
    """Live records by id (batch read: archived or deleted meanwhile are skipped, the
    archived listing or the next run has them)."""
    for record in client.batch_read(object_type, ids, properties):
        report.count("records")
        yield StreamRecord(OBJECT, object_type, str(record["id"]), record, record.get("updatedAt"))


class _Ids:
    """Ids as 8-byte integers (HubSpot's are numeric strings), any others as strings."""

    def __init__(self) -> None:
        self.numbers, self.others = array("q"), set()

    def add(self, hubspot_id: str) -> None:
        if hubspot_id.isdigit():
            self.numbers.append(int(hubspot_id))
        else:
            self.others.add(hubspot_id)

    def minus(self, other: _Ids) -> list[str]:
        """The ids here and not in ``other``."""
        numbers = sorted(set(self.numbers).difference(other.numbers))
        return [str(i) for i in numbers] + sorted(self.others - other.others)


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
