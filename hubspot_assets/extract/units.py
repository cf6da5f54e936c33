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
from typing import Any, TypeVar

from hubspot_assets.hubspot.concurrency import iter_concurrent
from hubspot_assets.hubspot.errors import (
    Forbidden,
    HubSpotError,
    RateLimitExhausted,
    Unauthorized,
)

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


class StageReport:
    """Thread-safe counters and error details of one stage run."""

    def __init__(self, stage: str, source_id: str):
        self.stage = stage
        self.source_id = source_id
        self.counts: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self.error_count = 0
        self.units_total = 0
        self.units_failed = 0
        self.details: dict[str, Any] = {}  # stage-specific facts for the metadata
        self._lock = threading.Lock()

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``key``."""
        with self._lock:
            self.counts[key] += n

    def unit_started(self) -> None:
        with self._lock:
            self.units_total += 1

    def unit_failed(self, unit: str, error: BaseException) -> None:
        """Record a unit's error, or re-raise it when it is fatal to the stage."""
        if isinstance(error, FATAL_ERRORS):
            raise error
        detail = error_detail(unit, error)
        log.error(
            "source %s, stage %s: %s failed (status %s, category %s, correlationId %s): %s",
            self.source_id, self.stage, unit, detail.get("status"), detail.get("category"),
            detail.get("correlation_id"), detail["message"],
        )
        with self._lock:
            self.units_failed += 1
            self.error_count += 1
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def part_failed(self, unit: str, error: BaseException) -> None:
        """Record an error of one part of a unit (the unit is then incomplete, not
        failed: its other parts are stored), or re-raise it when it is fatal."""
        if isinstance(error, FATAL_ERRORS):
            raise error
        detail = error_detail(unit, error)
        log.error("source %s, stage %s: %s failed: %s", self.source_id, self.stage, unit,
                  detail["message"])
        with self._lock:
            self.error_count += 1
            self.counts["parts_failed"] += 1
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def detail(self, key: str, value: Any) -> None:
        """Set a stage-specific metadata entry (plain JSON-able values)."""
        with self._lock:
            self.details[key] = value

    def unit_retried(self, unit: str, error: HubSpotError, attempt: int) -> None:
        """Record a failed fetch of a unit that is about to be fetched again."""
        detail = {**error_detail(unit, error), "retried": True, "attempt": attempt}
        log.warning("source %s, stage %s: %s failed (attempt %d of %d), fetching it again: %s",
                    self.source_id, self.stage, unit, attempt, UNIT_ATTEMPTS, detail["message"])
        with self._lock:
            self.error_count += 1
            self.counts["units_retried"] += 1
            if len(self.errors) < MAX_ERROR_DETAILS:
                self.errors.append(detail)

    def guarded(self, unit: str, items: Iterable[T] | Callable[[], Iterable[T]]) -> Iterator[T]:
        """Yield ``items`` as one unit of work: an API error ends the unit, not the stage.

        Items already yielded stay written; the error is recorded with its details.
        A 403 (missing scope, tier without the feature) is a skip, not an error.
        Given a callable, a unit that fails with a retryable error is fetched
        again from the start (up to UNIT_ATTEMPTS times): the records it yields
        again are the same versions, which the writer's upserts by ``_id`` store
        once, so a restart loses nothing and duplicates nothing.
        """
        self.unit_started()
        attempts = UNIT_ATTEMPTS if callable(items) else 1
        for attempt in range(1, attempts + 1):
            try:
                yield from (items() if callable(items) else items)
                return
            except Forbidden as exc:
                # A scope or tier feature this unit needs is missing: skipped, with
                # HubSpot's reason, like a type the download list cannot read.
                self.note(unit, str(exc), status=exc.status, category=exc.category)
                return
            except HubSpotError as exc:
                if attempt < attempts and exc.retryable:
                    self.unit_retried(unit, exc, attempt)
                    time.sleep(UNIT_RETRY_DELAY * attempt)
                    continue
                self.unit_failed(unit, exc)
                return

    def note(self, unit: str, reason: str, **details: Any) -> None:
        """Record something skipped on purpose (not an error), e.g. a missing scope."""
        with self._lock:
            self.counts["skipped"] += 1
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

    def metadata(self) -> dict[str, Any]:
        """Counts and errors, ready to become Dagster metadata."""
        with self._lock:
            return {
                **{k: int(v) for k, v in sorted(self.counts.items())},
                **self.details,
                "units": self.units_total,
                "units_failed": self.units_failed,
                "errors": self.error_count,
                "error_details": list(self.errors),
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
