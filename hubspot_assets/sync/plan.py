"""The plan of one stage run: full or incremental, and since when for each unit.

A *unit* is what a stage fetches independently (an object type, an event
type, an association pair). Its watermark is the time the run that last
fetched it completely *started*: anything changed after that instant is
picked up by the next run, which asks for changes since the watermark minus
an overlap (clock skew, HubSpot's search index lagging behind writes). The
overlap costs nothing but a few re-fetched records: stream `_id`s are
content hashes, so a record fetched twice is stored once.

A unit whose fetch failed keeps its previous watermark, so the next run
fetches its changes again; nothing is ever skipped.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from hubspot_assets.timestamps import DAY_MS, MINUTE_MS, from_epoch_ms, iso, now_ms, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

FULL, INCREMENTAL = "full", "incremental"


@dataclass(frozen=True)
class SyncPolicy:
    """How a stage decides between a full and an incremental run."""

    full_refresh: bool = False
    overlap_ms: int = 10 * MINUTE_MS
    # HubSpot keeps archived records ~90 days: an older watermark could miss deletes.
    retention_ms: int = 90 * DAY_MS


class SyncPlan:
    """Full or incremental for one stage run; tracks which units completed."""

    def __init__(self, previous: dict[str, Any] | None, policy: SyncPolicy,
                 started_ms: int | None = None):
        self.policy = policy
        self.started_ms = started_ms if started_ms is not None else now_ms()
        self.previous_units: dict[str, int] = dict((previous or {}).get("units") or {})
        self.expired = False
        self.reason = self._full_reason(previous)
        self.mode = FULL if self.reason else INCREMENTAL
        self.full_units: set[str] = set()
        self._pending: Counter[str] = Counter()  # unfinished pieces of work per unit
        self._lock = threading.Lock()

    @classmethod
    def full(cls, reason: str = "full sync") -> SyncPlan:
        """A plan that fetches every unit in full (it still tracks completion)."""
        plan = cls(None, SyncPolicy(full_refresh=True))
        plan.reason = reason
        return plan

    def _full_reason(self, previous: dict[str, Any] | None) -> str | None:
        if self.policy.full_refresh:
            return "full refresh requested"
        if previous is None or not self.previous_units:
            return "first sync"
        oldest = min(self.previous_units.values())
        if oldest < self.started_ms - self.policy.retention_ms:
            self.expired = True
            return (f"watermark {iso(oldest)} is older than HubSpot's retention "
                    f"({self.policy.retention_ms / DAY_MS:g} days): deletes may be gone")
        return None

    def since(self, unit: str) -> int | None:
        """Fetch changes since this epoch ms, or everything (None)."""
        if self.mode == FULL:
            return None
        mark = self.previous_units.get(unit)
        if mark is None:
            # A unit new since the last run (a new custom object type, a new event type).
            with self._lock:
                self.full_units.add(unit)
            log.info("%s has no watermark yet: fetched in full", unit)
            return None
        return max(0, mark - self.policy.overlap_ms)

    def expect(self, unit: str) -> None:
        """Declare a unit that may have no work at all (it is then complete)."""
        with self._lock:
            self._pending[unit] += 0

    def track(self, unit: str, fetch: Callable[[], Iterable[T]]) -> Callable[[], Iterator[T]]:
        """``fetch`` as a re-startable piece of ``unit``'s work.

        The piece is pending from now until one call of the returned function
        exhausts ``fetch()`` without error (a unit may be fetched again after a
        failure, and may consist of several pieces, e.g. association batches).
        """
        with self._lock:
            self._pending[unit] += 1
        finished = False

        def run() -> Iterator[T]:
            nonlocal finished
            yield from fetch()
            with self._lock:
                if not finished:
                    finished = True
                    self._pending[unit] -= 1

        return run

    def completed(self) -> list[str]:
        with self._lock:
            return sorted(u for u, n in self._pending.items() if n == 0)

    def incomplete(self) -> list[str]:
        with self._lock:
            return sorted(u for u, n in self._pending.items() if n > 0)

    def watermark_document(self, run_id: str) -> dict[str, Any]:
        """What to commit once the run's data is stored: completed units advance, others stay."""
        completed = self.completed()
        units = {**self.previous_units, **{u: self.started_ms for u in completed}}
        return {
            "run_id": run_id,
            "mode": self.mode,
            "reason": self.reason,
            "started_at": from_epoch_ms(self.started_ms),
            "units": units,
            "completed": completed,
            "incomplete": self.incomplete(),
            "committed_at": utcnow(),
        }

    def metadata(self) -> dict[str, Any]:
        """Mode and watermarks, as plain values for asset metadata."""
        return {
            "mode": self.mode,
            "mode_reason": self.reason or "watermarks found",
            "watermark": iso(self.started_ms),
            "full_units": len(self.full_units) if self.mode == INCREMENTAL else len(self._pending),
            "units_not_advanced": self.incomplete(),
        }
