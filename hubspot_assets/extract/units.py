"""A stage's units of work: run concurrently, counted, and the errors they survived.

The product's error policy: an API error on one unit (an object type, an event
type, an association pair) is logged with its details, the stage goes on with
the other units, and the error is reported in the metadata and the job
history. A unit that failed with a retryable error past the client's own
retries is fetched again from the start first (see ``guarded``). Errors that
no other unit could survive (a bad token, the daily budget spent) stop the stage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from hubspot_assets.extract.progress import INTERVAL as PROGRESS_INTERVAL
from hubspot_assets.extract.progress import Progress, ProgressBoard
from hubspot_assets.hubspot.concurrency import iter_concurrent
from hubspot_assets.hubspot.errors import (
    Forbidden,
    HubSpotError,
    RateLimitExhausted,
    Unauthorized,
)
from hubspot_assets.hubspot.stats import current_unit

log = logging.getLogger(__name__)
T = TypeVar("T")
U = TypeVar("U")

#: Errors after which no further call can succeed in this run.
FATAL_ERRORS: tuple[type[BaseException], ...] = (Unauthorized, RateLimitExhausted)

#: At most this many error details are kept; the count stays exact.
MAX_ERROR_DETAILS = 200

#: Fetches of one unit when it fails with a retryable error past the client's
#: own retries (e.g. a cursor that keeps failing in the middle of paging).
UNIT_ATTEMPTS = 3
#: Seconds before the second fetch of a unit; the third waits twice as long.
UNIT_RETRY_DELAY = 2.0


class StageFailed(RuntimeError):
    """The stage fetched nothing because every unit failed."""


#: Statuses of a unit row, worst last (a row's status only gets worse).
OK, SKIPPED, FAILED = "ok", "skipped", "failed"
_RANK = {OK: 0, SKIPPED: 1, FAILED: 2}

#: Columns of the per-unit table (``StageReport.unit_rows``), in order.
UNIT_COLUMNS = ("unit", "status", "records", "archived", "calls", "errors", "seconds", "reason")

Sink = Callable[[int, str], None]


def _python_log(level: int, message: str) -> None:
    log.log(level, message)


@dataclass
class UnitRow:
    """What one unit (an object type, an event type, an association pair) did in a run.

    Units sharing a row (an association pair's batches, a type's live and
    archived listings) add up; ``seconds`` spans the first start to the last end.
    """

    unit: str
    status: str = OK
    records: int = 0
    archived: int = 0
    errors: int = 0
    calls: int | None = None
    started: float | None = None
    ended: float | None = None
    reason: str = ""

    def worsen(self, status: str, reason: str) -> None:
        if _RANK[status] >= _RANK[self.status]:
            self.status, self.reason = status, reason

    def as_dict(self) -> dict[str, Any]:
        seconds = (round(self.ended - self.started, 3)
                   if self.started is not None and self.ended is not None else None)
        return {"unit": self.unit, "status": self.status, "records": self.records,
                "archived": self.archived, "calls": self.calls, "errors": self.errors,
                "seconds": seconds, "reason": self.reason}


class StageReport:
    """Thread-safe counters, per-unit rows, progress and error details of one stage run.

    Workers record into it from any thread. What it has to say (progress lines,
    skipped and failed units) goes to ``sink(level, message)``: by default the
    module's Python logger at once; with :meth:`queue_to`, held until the
    consuming thread calls :meth:`flush` (Dagster's step logger is used from
    the step's own thread only).
    """

    def __init__(self, stage: str, source_id: str, *, counters: Iterable[str] = (),
                 clock: Callable[[], float] = time.monotonic,
                 interval: float | None = None):
        self.stage = stage
        self.source_id = source_id
        # Declared counters are reported as 0 when nothing was counted, so every
        # run (full or incremental) carries the same keys.
        self.counts: Counter[str] = Counter({name: 0 for name in counters})
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.units_total = 0
        self.units_failed = 0
        self.details: dict[str, Any] = {}  # stage-specific facts for the metadata
        self.rows: dict[str, UnitRow] = {}
        self.progress = ProgressBoard(stage, clock=clock, interval=(
            PROGRESS_INTERVAL if interval is None else interval))
        self.clock = clock
        self._sink: Sink = _python_log
        self._queue: list[tuple[int, str]] | None = None
        self._lock = threading.Lock()

    # -- what the report says -------------------------------------------------

    def queue_to(self, sink: Sink) -> None:
        """Hold messages until :meth:`flush`, which hands them to ``sink``."""
        self._sink, self._queue = sink, []

    def say(self, level: int, message: str) -> None:
        with self._lock:
            if self._queue is not None:
                self._queue.append((level, message))
                return
        self._sink(level, message)

    def flush(self) -> None:
        """Hand queued messages and the progress lines now due to the sink (one thread)."""
        with self._lock:
            queued, self._queue = (self._queue or []), ([] if self._queue is not None else None)
        for level, message in queued:
            self._sink(level, message)
        for line in self.progress.due():
            self._sink(logging.INFO, line)

    # -- counting ---------------------------------------------------------------

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``key``."""
        with self._lock:
            self.counts[key] += n

    def unit_started(self) -> None:
        with self._lock:
            self.units_total += 1

    def row(self, unit: str) -> UnitRow:
        """The table row of ``unit`` (created on first use)."""
        with self._lock:
            return self.rows.setdefault(unit, UnitRow(unit))

    def unit_failed(self, unit: str, error: BaseException, *, row: str | None = None) -> None:
        """Record a unit's error, or re-raise it when it is fatal to the stage."""
        if isinstance(error, FATAL_ERRORS):
            raise error
        detail = error_detail(unit, error)
        self.say(logging.ERROR,
                 f"source {self.source_id}, stage {self.stage}: {unit} failed (status "
                 f"{detail.get('status')}, category {detail.get('category')}, correlationId "
                 f"{detail.get('correlation_id')}): {detail['message']}")
        target = self.row(row or unit)
        with self._lock:
            self.units_failed += 1
            self.error_count += 1
            target.errors += 1
            target.worsen(FAILED, detail["message"])
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def part_failed(self, unit: str, error: BaseException) -> None:
        """Record an error of one part of a unit (the unit is then incomplete, not
        failed: its other parts are stored), or re-raise it when it is fatal."""
        if isinstance(error, FATAL_ERRORS):
            raise error
        detail = error_detail(unit, error)
        self.say(logging.ERROR, f"source {self.source_id}, stage {self.stage}: {unit} "
                 f"failed: {detail['message']}")
        with self._lock:
            self.error_count += 1
            self.counts["parts_failed"] += 1
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def detail(self, key: str, value: Any) -> None:
        """Set a stage-specific metadata entry (plain JSON-able values)."""
        with self._lock:
            self.details[key] = value

    def unit_retried(self, unit: str, error: HubSpotError, attempt: int, *,
                     row: str | None = None) -> None:
        """Record a failed fetch of a unit that is about to be fetched again."""
        detail = {**error_detail(unit, error), "retried": True, "attempt": attempt}
        self.say(logging.WARNING,
                 f"source {self.source_id}, stage {self.stage}: {unit} failed (attempt "
                 f"{attempt} of {UNIT_ATTEMPTS}), fetching it again: {detail['message']}")
        target = self.row(row or unit)
        with self._lock:
            self.error_count += 1
            target.errors += 1
            self.counts["units_retried"] += 1
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def guarded(self, unit: str, items: Iterable[T] | Callable[[], Iterable[T]], *,
                row: str | None = None, archived: bool = False,
                estimate: Callable[[], int | None] | None = None,
                counted: Callable[[T], bool] | None = None) -> Iterator[T]:
        """Yield ``items`` as one unit of work: an API error ends the unit, not the stage.

        Items already yielded stay written; the error is recorded with its details.
        A 403 (missing scope, tier without the feature) is a skip, not an error.
        Given a callable, a unit that fails with a retryable error is fetched
        again from the start (up to UNIT_ATTEMPTS times): the records it yields
        again are the same versions, which the writer's upserts by ``_id`` store
        once, so a restart loses nothing and duplicates nothing.

        Each item counts into the table row ``row`` (default: ``unit``), as an
        archived record when ``archived``, and into that row's progress.
        ``estimate()`` (e.g. a count call) gives the progress its total: asked once,
        only when the unit is still running after a progress interval, so short
        units never pay for it. ``counted(item)`` False: an item the row does not
        count (evidence yielded beside the records, e.g. `id_listing` chunks).
        """
        self.unit_started()
        name = row or unit
        target = self.row(name)
        # Archived records count in the row but have their own progress: a total
        # (``estimate``) is of live records only.
        progress = self.progress.unit(unit if archived else name)
        with self._lock:
            if target.started is None:
                target.started = self.clock()
            progress.begin()
        attempts = UNIT_ATTEMPTS if callable(items) else 1
        # The client counts the calls made on this thread (and its helpers) for the row.
        outer = current_unit.get()
        current_unit.set(name)
        try:
            for attempt in range(1, attempts + 1):
                try:
                    for item in (items() if callable(items) else items):
                        if counted is not None and not counted(item):
                            yield item
                            continue
                        with self._lock:
                            if archived:
                                target.archived += 1
                            else:
                                target.records += 1
                            progress.add()
                        if estimate is not None and self._long(progress):
                            progress.total = self._estimated(unit, estimate)
                            estimate = None
                        yield item
                    return
                except Forbidden as exc:
                    # A scope or tier feature this unit needs is missing: skipped, with
                    # HubSpot's reason, like a type the download list cannot read.
                    self.skipped(unit, exc, row=name)
                    return
                except HubSpotError as exc:
                    if attempt < attempts and exc.retryable:
                        self.unit_retried(unit, exc, attempt, row=name)
                        time.sleep(UNIT_RETRY_DELAY * attempt)
                        continue
                    self.unit_failed(unit, exc, row=name)
                    return
        finally:
            current_unit.set(outer)
            with self._lock:
                target.ended = self.clock()
                progress.end()

    def _long(self, progress: Progress) -> bool:
        return self.clock() - progress.started >= self.progress.interval

    def _estimated(self, unit: str, estimate: Callable[[], int | None]) -> int | None:
        """``estimate()``, or None when it fails: a total is a nicety, never an error."""
        try:
            return estimate()
        except HubSpotError as exc:
            log.info("source %s, stage %s: no total for %s: %s", self.source_id, self.stage,
                     unit, exc)
            return None

    def skipped(self, unit: str, error: HubSpotError, *, row: str | None = None) -> None:
        """A unit HubSpot refused (403) or does not have (404): skipped with its reason
        and, for a missing scope, the scope to add."""
        details: dict[str, Any] = {"status": error.status, "category": error.category}
        scopes = list(getattr(error, "scopes", ()) or ())
        if scopes:
            details["scopes"] = scopes
        self.note(unit, str(error), row=row, **details)

    def note(self, unit: str, reason: str, *, row: str | None = None, **details: Any) -> None:
        """Record something skipped on purpose (not an error), e.g. a missing scope;
        logged as a WARNING with the reason (which names the fix)."""
        self.say(logging.WARNING,
                 f"source {self.source_id}, stage {self.stage}: {unit} skipped: {reason}")
        target = self.row(row or unit)
        with self._lock:
            self.counts["skipped"] += 1
            target.worsen(SKIPPED, reason)
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append({"unit": unit, "skipped": True, "message": reason, **details})

    def check_not_empty(self, produced: int) -> None:
        """Fail when errors left the stage with nothing at all."""
        if produced == 0 and self.units_total and self.units_failed == self.units_total:
            first = next((e for e in self.errors if not e.get("skipped")), {})
            raise StageFailed(
                f"source {self.source_id}: stage {self.stage} fetched nothing; all "
                f"{self.units_total} unit(s) failed. First error: {first.get('message', '?')}"
            )

    def unit_rows(self, calls: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """One row per unit (see UNIT_COLUMNS), by unit name; ``calls``: the client's
        calls by unit (``ClientStats.unit_calls``)."""
        with self._lock:
            rows = [self.rows[name].as_dict() for name in sorted(self.rows)]
        for row in rows:
            if calls is not None and row["calls"] is None:
                row["calls"] = calls.get(row["unit"], 0)
        return rows

    def skipped_units(self) -> list[dict[str, Any]]:
        """Each skipped unit with HubSpot's reason (and the scopes to add, when known)."""
        with self._lock:
            return [{k: e[k] for k in ("unit", "message", "status", "category", "scopes")
                     if k in e} for e in self.errors if e.get("skipped")]

    def metadata(self) -> dict[str, Any]:
        """Counts and errors, ready to become Dagster metadata."""
        skipped = self.skipped_units()
        with self._lock:
            return {
                **{k: int(v) for k, v in sorted(self.counts.items())},
                "skipped": int(self.counts.get("skipped", 0)),
                **self.details,
                "units": self.units_total,
                "units_failed": self.units_failed,
                "units_skipped": len(skipped),
                "errors": self.error_count,
                "error_details": list(self.errors),
                "skipped_units": skipped,
            }


def error_detail(unit: str, error: BaseException) -> dict[str, Any]:
    """The loggable details of an error: never a token (HubSpotError messages hold none)."""
    detail: dict[str, Any] = {"unit": unit, "type": type(error).__name__, "message": str(error)}
    if isinstance(error, HubSpotError):
        for key in ("status", "category", "correlation_id", "endpoint"):
            value = getattr(error, key, None)
            if value is not None:
                detail[key] = value
    return detail


# Each stage fetches many independent units (object types, event types,
# association batches). Fetching them one after another leaves most of the rate
# budget unused while we wait on latency, so units run on a bounded set of
# threads feeding a bounded buffer (the client's ``iter_concurrent``): memory
# stays flat because a slow consumer (MongoDB) blocks the producers.
def interleave(
    units: Iterable[U],
    produce: Callable[[U], Iterable[T]],
    *,
    max_workers: int,
    queue_size: int = 2000,
) -> Iterator[T]:
    """Yield every item of ``produce(unit)`` for all units, ``max_workers`` units at a time.

    ``units`` is read lazily (it may be a database cursor). An exception
    escaping ``produce`` stops every unit and reaches the consumer; per-unit
    errors that should not stop the stage are handled inside ``produce``.
    Closing the iterator early stops the producers too.
    """
    for _, item in iter_concurrent(produce, units, max_workers=max_workers, buffer=queue_size):
        yield item
