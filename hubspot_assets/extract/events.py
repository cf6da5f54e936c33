"""Events stage: every event of every event type."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hubspot_assets.extract.interleave import interleave
from hubspot_assets.extract.report import StageReport
from hubspot_assets.hubspot.errors import HubSpotError
from hubspot_assets.mongo.documents import EVENT, StreamRecord


def event_records(
    client: Any,
    event_types: Iterable[str],
    report: StageReport,
    *,
    max_workers: int,
) -> Iterator[StreamRecord]:
    """Events of every type, types fetched concurrently."""

    def fetch(event_type: str) -> Iterator[StreamRecord]:
        report.unit_started()
        try:
            for event in client.iter_events(event_type):
                report.count("events")
                yield StreamRecord(
                    kind=EVENT,
                    object_type=event_type,
                    hubspot_id=str(event["id"]),
                    data=event,
                    hubspot_ts=event.get("occurredAt"),
                )
        except HubSpotError as exc:
            report.unit_failed(event_type, exc)

    yield from interleave(sorted(set(event_types)), fetch, max_workers=max_workers)
