"""Events stage: every event of every event type."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hubspot_assets.extract.interleave import interleave
from hubspot_assets.extract.report import StageReport
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
        for event in report.guarded(event_type, client.iter_events(event_type)):
            report.count("events")
            yield StreamRecord(EVENT, event_type, str(event["id"]), event, event.get("occurredAt"))

    yield from interleave(sorted(set(event_types)), fetch, max_workers=max_workers)
