"""Events stage: every event of every event type, in full or since a watermark."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.stream.records import EVENT, StreamRecord
from hubspot_assets.sync.plan import SyncPlan


def event_records(
    client: Any,
    event_types: Iterable[str],
    report: StageReport,
    *,
    max_workers: int,
    plan: SyncPlan | None = None,
) -> Iterator[StreamRecord]:
    """Events of every type (those occurred since the type's watermark, if any), concurrently."""
    plan = plan or SyncPlan.full()

    def fetch(event_type: str) -> Iterator[StreamRecord]:
        events = plan.track(event_type, partial(
            client.iter_events, event_type, occurred_after=plan.since(event_type)))
        for event in report.guarded(event_type, events):
            report.count("events")
            yield StreamRecord(EVENT, event_type, str(event["id"]), event, event.get("occurredAt"))

    yield from interleave(sorted(set(event_types)), fetch, max_workers=max_workers)
