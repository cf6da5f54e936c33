"""Object records stage: every record of every listed type, live and archived."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hubspot_assets.extract.interleave import interleave
from hubspot_assets.extract.report import StageReport
from hubspot_assets.mongo.documents import OBJECT, StreamRecord


def object_records(
    client: Any,
    entries: Iterable[dict[str, Any]],
    report: StageReport,
    *,
    max_workers: int,
) -> Iterator[StreamRecord]:
    """Records of every ready download-list entry, types fetched concurrently.

    Archived records are listed too (``archived=true``): it is the only way
    HubSpot shows deletes.
    """
    units = [
        (entry, archived)
        for entry in entries
        if entry.get("status") == "ready"
        for archived in (False, True)
    ]

    def fetch(unit: tuple[dict[str, Any], bool]) -> Iterator[StreamRecord]:
        entry, archived = unit
        object_type = entry["objectType"]
        counter = "archived_records" if archived else "records"
        records = client.iter_objects(object_type, entry["properties"], archived=archived)
        label = f"{object_type} (archived)" if archived else object_type
        for record in report.guarded(label, records):
            report.count(counter)
            yield StreamRecord(OBJECT, object_type, str(record["id"]), record,
                               record.get("updatedAt"))

    yield from interleave(units, fetch, max_workers=max_workers)
