"""Object records stage: every listed type's records, in full or changed since a watermark."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.stream.records import OBJECT, StreamRecord
from hubspot_assets.sync.plan import SyncPlan


def object_records(
    client: Any,
    entries: Iterable[dict[str, Any]],
    report: StageReport,
    *,
    max_workers: int,
    plan: SyncPlan | None = None,
) -> Iterator[StreamRecord]:
    """Records of every ready download-list entry, types fetched concurrently.

    A type with a watermark in ``plan`` is read through CRM search (records
    modified since the watermark); others are listed in full. Archived
    records are always listed in full (``archived=true``): it is the only way
    HubSpot shows deletes, and it holds only ~90 days of them.
    """
    plan = plan or SyncPlan.full()
    units = [
        (entry, archived)
        for entry in entries
        if entry.get("status") == "ready"
        for archived in (False, True)
    ]

    def fetch(unit: tuple[dict[str, Any], bool]) -> Iterator[StreamRecord]:
        entry, archived = unit
        object_type = entry["objectType"]
        estimate: Any = None
        properties = entry["properties"]
        # `records` counts live records fetched in either mode (full listing or
        # modified since the watermark), so the key means the same on every run.
        if archived:
            counters, label = ("archived_records",), f"{object_type} (archived)"
            records = partial(client.iter_objects, object_type, properties, archived=True)
        elif (since := plan.since(object_type)) is None:
            counters, label = ("records",), object_type
            records = plan.track(object_type, partial(client.iter_objects, object_type, properties))
            # A long full listing's progress learns the type's total (one search call).
            def estimate() -> int | None:
                return client.count_objects(object_type)
        else:
            counters, label = ("records", "modified_records"), f"{object_type} (modified)"
            records = plan.track(object_type, partial(
                client.search_modified, object_type, since, properties=properties))
        for record in report.guarded(label, records, row=object_type, archived=archived,
                                     estimate=estimate):
            for counter in counters:
                report.count(counter)
            yield StreamRecord(OBJECT, object_type, str(record["id"]), record,
                               record.get("updatedAt"))

    yield from interleave(units, fetch, max_workers=max_workers)
