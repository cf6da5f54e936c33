"""Events stage: every event of every event type, in full or since a watermark.

**Late events.** HubSpot takes an event's `occurredAt` from its sender, so an
event can appear long after it occurred. An incremental read therefore starts
``lookback`` before the type's watermark (`occurredAfter` = watermark −
lookback, the overlap if that is longer): an event that appears at most
``lookback`` after its occurredAt is fetched by the first run that starts after
it appears. Events re-read through the lookback are stored once (stream
`_id`s are content hashes), so the lookback costs calls, never documents.

**Account-wide reads refused.** The stage reads each event type across the
account (`eventType` without `objectId`). HubSpot's older guide said the API
"returns events for one CRM record at a time"; if the account answers such a
query with a 400 asking for an object, the stage falls back, for the refused
event types, to reading per object over the objects already synced
(`objectType` + `objectId`, no `eventType`: one read returns every event type
of that record). It reads over the object type the type's stored events are
on, or, for a type with none stored yet, over every object type an event can
be on (`catalog.EVENT_OBJECT_TYPES`). The fallback's cost (calls, objects
read) is recorded in the stage metadata under `events_fallback`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from hubspot_assets.extract.units import FATAL_ERRORS, StageReport, interleave
from hubspot_assets.hubspot.catalog import EVENT_OBJECT_TYPES, event_object_type
from hubspot_assets.hubspot.errors import BadRequest, HubSpotError
from hubspot_assets.stream.records import EVENT, StreamRecord
from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.timestamps import HOUR_MS, iso

log = logging.getLogger(__name__)

#: What a 400 that asks for one record names (HubSpot's parameters for it).
_OBJECT_PARAMETERS = ("objectid", "objecttype", "objectproperty")


@dataclass(frozen=True)
class StoredObjects:
    """What the per-object fallback needs from MongoDB (``defs`` hands it in)."""

    #: object type name ("contacts") -> the ids of its stored objects
    ids: Callable[[str], Iterable[str]]
    #: event type -> the ``objectType`` of one of its stored events (None: none stored)
    object_type_of: Callable[[str], str | None]


def asks_for_object(error: BaseException) -> bool:
    """Whether ``error`` is HubSpot refusing an account-wide events query for want of
    a record (a 400 naming objectId, objectType or objectProperty)."""
    return (isinstance(error, BadRequest) and error.status == 400
            and any(p in error.problem.lower() for p in _OBJECT_PARAMETERS))


def event_records(
    client: Any,
    event_types: Iterable[str],
    report: StageReport,
    *,
    max_workers: int,
    plan: SyncPlan | None = None,
    lookback_hours: float = 0.0,
    stored: StoredObjects | None = None,
) -> Iterator[StreamRecord]:
    """Events of every type (those occurred since the type's watermark minus the
    lookback, if any), concurrently; per object where HubSpot refuses account-wide reads."""
    plan = plan or SyncPlan.full()
    types = sorted(set(event_types))
    lookback_ms = int(lookback_hours * HOUR_MS)
    starts = {t: plan.since(t, lookback_ms) for t in types}
    refused: dict[str, BadRequest] = {}
    placeholders: dict[str, Callable[[], None]] = {}
    lock = threading.Lock()

    def account_wide(event_type: str) -> Iterator[StreamRecord]:
        def read() -> Iterator[dict]:
            try:
                yield from client.iter_events(event_type, occurred_after=starts[event_type])
            except BadRequest as exc:
                if stored is None or not asks_for_object(exc):
                    raise
                log.warning("source %s: HubSpot refuses account-wide reads of %s (%s); reading "
                            "its events per object", report.source_id, event_type, exc)
                with lock:  # the unit stays pending until its per-object reads are done
                    refused[event_type] = exc
                    placeholders[event_type] = plan.piece(event_type)

        for event in report.guarded(event_type, plan.track(event_type, read)):
            report.count("events")
            yield _record(event_type, event)

    report.detail("events_lookback_hours", lookback_hours)
    yield from interleave(types, account_wide, max_workers=max_workers)
    if refused:
        yield from _per_object(client, refused, starts, stored, plan, placeholders, report,
                               max_workers)


def _record(event_type: str, event: dict) -> StreamRecord:
    return StreamRecord(EVENT, event_type, str(event["id"]), event, event.get("occurredAt"))


def _per_object(client: Any, refused: dict[str, BadRequest], starts: dict[str, int | None],
                stored: StoredObjects, plan: SyncPlan,
                placeholders: dict[str, Callable[[], None]], report: StageReport,
                max_workers: int) -> Iterator[StreamRecord]:
    """The refused event types' events, read per stored object of the types they are on."""
    on_type: dict[str, list[str]] = {}  # object type -> refused event types read over it
    basis: dict[str, str] = {}
    for event_type in sorted(refused):
        label = stored.object_type_of(event_type)
        if label is None:
            targets, basis[event_type] = list(EVENT_OBJECT_TYPES), "no event stored yet"
        elif (name := event_object_type(label)) is not None:
            targets, basis[event_type] = [name], f"stored events are on {label}"
        else:
            # Stays pending (its watermark does not advance): nothing read, nothing skipped.
            report.note(event_type, f"HubSpot refuses account-wide reads and its events are on "
                        f"{label!r}, which the per-object fallback cannot read; it is retried "
                        "on the next run", status=refused[event_type].status)
            continue
        for name in targets:
            on_type.setdefault(name, []).append(event_type)
    # Every piece is declared before a placeholder is released: no unit looks done early.
    pieces = {t: plan.piece(t) for t in sorted({t for ts in on_type.values() for t in ts})}
    objects_read = dict.fromkeys(pieces, 0)
    failed: set[str] = set()
    for event_type in pieces:
        placeholders[event_type]()  # a type left out above stays pending: not advanced
    first = next(iter(sorted(refused.items())))[1]
    summary: dict[str, Any] = {
        "reason": first.problem, "status": first.status, "event_types": sorted(refused),
        "basis": basis, "object_types": {}, "calls": 0, "objects_read": 0, "events": 0}
    wanted = set(refused)  # the other types' events were read account-wide
    for name, event_types in sorted(on_type.items()):
        after = [starts[t] for t in event_types]
        occurred_after = None if None in after else min(after)  # type: ignore[type-var]
        counts = {"event_types": event_types, "objects": 0, "events": 0, "failed": 0}
        lock = threading.Lock()
        calls_before = client.stats.total_calls

        def read_one(object_id: str, name: str = name, counts: dict = counts,
                     lock: threading.Lock = lock) -> Iterator[StreamRecord]:
            with lock:
                counts["objects"] += 1
            try:
                for event in client.iter_events(None, occurred_after=occurred_after,
                                                object_type=EVENT_OBJECT_TYPES[name],
                                                object_id=object_id):
                    if event.get("eventType") in wanted:
                        with lock:
                            counts["events"] += 1
                        report.count("events")
                        report.count("events_per_object")
                        yield _record(event["eventType"], event)
            except FATAL_ERRORS:
                raise
            except HubSpotError as exc:
                with lock:
                    counts["failed"] += 1
                report.part_failed(f"events of {EVENT_OBJECT_TYPES[name]} {object_id}", exc)

        yield from interleave(stored.ids(name), read_one, max_workers=max_workers)
        counts["calls"] = client.stats.total_calls - calls_before
        if occurred_after is not None:
            counts["occurred_after"] = iso(occurred_after)
        for event_type in event_types:
            objects_read[event_type] += counts["objects"]
            if counts["failed"]:
                failed.add(event_type)
        summary["object_types"][name] = counts
        for key, value in (("calls", counts["calls"]), ("objects_read", counts["objects"]),
                           ("events", counts["events"])):
            summary[key] += value
    for event_type, done in pieces.items():
        if objects_read[event_type] and event_type not in failed:
            done()
        elif not objects_read[event_type]:
            # Nothing stored to read over (objects not consolidated yet, or the type left
            # out of the sync): not advanced, so a later run reads its whole history.
            report.note(event_type, "HubSpot refuses account-wide reads and no object of "
                        f"{', '.join(sorted(n for n, ts in on_type.items() if event_type in ts))}"
                        " is stored to read its events over; it is read again next run",
                        status=refused[event_type].status)
    report.detail("events_fallback", summary)
    report.count("fallback_calls", summary["calls"])
    report.count("fallback_objects", summary["objects_read"])
    log.warning("source %s: events of %d type(s) read per object: %d objects, %d calls",
                report.source_id, len(refused), summary["objects_read"], summary["calls"])
