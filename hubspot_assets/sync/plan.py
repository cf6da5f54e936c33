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

A stored watermark is checked before it is trusted: a unit whose mark is not
epoch milliseconds, or lies in the future, is reset (fetched in full) and
reported, and so is the whole stage when the document is unreadable or the
data it vouches for is gone (`watermarks.stream_problem`). A bad watermark
costs a full fetch, never a crash and never a skip.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hubspot_assets.timestamps import DAY_MS, MINUTE_MS, from_epoch_ms, iso, now_ms, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

FULL, INCREMENTAL = "full", "incremental"
#: How far in the future a watermark may lie (clocks of two hosts disagree a little).
FUTURE_SKEW_MS = 5 * MINUTE_MS


@dataclass(frozen=True)
class SyncPolicy:
    """How a stage decides between a full and an incremental run."""

    full_refresh: bool = False
    overlap_ms: int = 10 * MINUTE_MS
    # HubSpot keeps archived records ~90 days: an older watermark could miss deletes.
    retention_ms: int = 90 * DAY_MS


class SyncPlan:
    """Full or incremental for one stage run; tracks which units completed."""

    def __init__(self, previous: Any, policy: SyncPolicy, started_ms: int | None = None,
                 distrust: str | None = None):
        """``distrust``: why the stored data no longer backs ``previous`` (a full sync)."""
        self.policy = policy
        self.started_ms = started_ms if started_ms is not None else now_ms()
        units, self.units_reset, problem = checked_units(previous,
                                                         self.started_ms + FUTURE_SKEW_MS)
        self.previous_units: dict[str, int] = units
        self.expired = False
        self.reset_reason = distrust or problem  # a stored watermark not trusted at all
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
        if self.reset_reason:
            return f"watermarks ignored: {self.reset_reason}"
        if previous is None or not (self.previous_units or self.units_reset):
            return "first sync"
        if not self.previous_units:
            return "watermarks ignored: no unit has a valid watermark"
        oldest = min(self.previous_units.values())
        if oldest < self.started_ms - self.policy.retention_ms:
            self.expired = True
            return (f"watermark {iso(oldest)} is older than HubSpot's retention "
                    f"({self.policy.retention_ms / DAY_MS:g} days): deletes may be gone")
        return None

    def warnings(self) -> list[str]:
        """What a run should warn about: watermarks it could not trust."""
        found = [f"{unit}: watermark ignored ({why}); fetched in full"
                 for unit, why in sorted(self.units_reset.items())]
        if self.reset_reason and not self.policy.full_refresh:
            found.insert(0, f"{self.reason}; running a full sync")
        if self.expired:
            found.append(f"{self.reason}; running a full sync")
        return found

    def since(self, unit: str, lookback_ms: int = 0) -> int | None:
        """Fetch changes since this epoch ms, or everything (None).

        ``lookback_ms``: re-read at least this much before the watermark (events
        sent late carry an occurredAt in the past); the overlap applies if longer.
        """
        if self.mode == FULL:
            return None
        mark = self.previous_units.get(unit)
        if mark is None:
            # A unit new since the last run (a new custom object type, a new event type).
            with self._lock:
                self.full_units.add(unit)
            log.info("%s has no watermark yet: fetched in full", unit)
            return None
        return max(0, mark - max(self.policy.overlap_ms, lookback_ms))

    def piece(self, unit: str) -> Callable[[], None]:
        """A piece of ``unit``'s work done outside ``track``: pending until the
        returned function is called (e.g. one read that serves several units)."""
        run = self.track(unit, tuple)

        def done() -> None:
            for _ in run():
                pass

        return done

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
            "units_reset": dict(sorted(self.units_reset.items())),
        }


def checked_units(previous: Any, latest_ms: int) -> tuple[dict[str, int], dict[str, str],
                                                          str | None]:
    """A stored watermark document's usable unit marks, the units reset (with why),
    and why the whole document is unusable (None if it is not)."""
    if previous is None:
        return {}, {}, None
    if not isinstance(previous, Mapping):
        return {}, {}, f"the watermark document is a {type(previous).__name__}"
    units = previous.get("units")
    if not isinstance(units, Mapping):
        what = "missing" if units is None else f"a {type(units).__name__}, not a mapping"
        return {}, {}, f"the watermark document's units are {what}"
    usable, reset = {}, {}
    for unit, mark in units.items():
        # bool is an int in Python; an epoch-ms mark is a plain (or BSON 64-bit) int.
        if isinstance(mark, bool) or not isinstance(mark, int):
            reset[str(unit)] = f"{type(mark).__name__} is not epoch milliseconds"
        elif mark <= 0:
            reset[str(unit)] = f"{mark} is not a time"
        elif mark > latest_ms:
            reset[str(unit)] = f"{iso(mark)} lies in the future"
        else:
            usable[str(unit)] = int(mark)
    for unit, why in reset.items():
        log.warning("watermark of %s ignored: %s; the unit is fetched in full", unit, why)
    return usable, reset, None
