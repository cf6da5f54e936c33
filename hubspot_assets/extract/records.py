"""Object records stage: every record of every listed type, live and archived."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hubspot_assets.extract.interleave import interleave
from hubspot_assets.extract.report import StageReport
from hubspot_assets.hubspot.errors import HubSpotError
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
        label = f"{object_type} (archived)" if archived else object_type
        report.unit_started()
        try:
            for record in client.iter_objects(object_type, entry["properties"], archived=archived):
                report.count("archived_records" if archived else "records")
                yield StreamRecord(
                    kind=OBJECT,
                    object_type=object_type,
                    hubspot_id=str(record["id"]),
                    data=record,
                    hubspot_ts=record.get("updatedAt"),
                )
        except HubSpotError as exc:
            # Records already yielded stay written; the rest of this type is reported missing.
            report.unit_failed(label, exc)

    yield from interleave(units, fetch, max_workers=max_workers)
