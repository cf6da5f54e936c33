"""Progress of long-running work: counts so far, rate, and time left when the total is known.

Plain Python with an injectable clock, so tests need no sleeping. A stage
counts into one :class:`Progress` per unit (from any worker thread) and one
thread (the consumer of the stage's records) calls :meth:`ProgressBoard.due`
to get the lines worth logging: at most one per unit every ``interval``
seconds, and only for units that moved since their last line.

Line format (stable: the demo's display and docs/observability.md read it)::

    progress object_records contacts: 12,000 records in 10.0 s (1,200/s); ~20,000 total (60%),
        ~7 s left                                               (one line, wrapped here)
    progress object_records contacts: 20,000 records in 16.4 s (1,220/s); ~20,000 total (100%),
        done
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Seconds between two progress lines of one unit.
INTERVAL = 10.0

Clock = Callable[[], float]


@dataclass
class Progress:
    """The count of one unit of work (or one consolidation), with its start time."""

    what: str
    unit: str = "records"
    total: int | None = None
    clock: Clock = time.monotonic
    count: int = 0
    started: float = field(default=0.0)
    finished: float | None = None
    reported: bool = False  # its last line (after it finished) was given
    running: int = 0  # parts running (see begin)
    _logged_count: int = 0  # nothing to say until something was counted
    _logged_at: float = 0.0

    def __post_init__(self) -> None:
        self.started = self._logged_at = self.clock()

    def add(self, n: int = 1) -> None:
        """Count ``n`` more items (callers serialize: one worker per unit, or a board lock)."""
        self.count += n

    def done(self) -> None:
        self.finished = self.clock()

    def begin(self) -> None:
        """One more part of the unit runs (parts: a type's live and archived listings,
        a pair's batches); the unit runs until its last part ends."""
        self.running += 1
        self.finished, self.reported = None, False

    def end(self) -> None:
        self.running -= 1
        if self.running <= 0:
            self.done()

    @property
    def seconds(self) -> float:
        return (self.finished if self.finished is not None else self.clock()) - self.started

    def line(self) -> str:
        """Records so far, rate, and the estimated total and time left when known."""
        seconds = self.seconds
        rate = self.count / seconds if seconds > 0 else 0.0
        text = (f"{self.what}: {self.count:,} {self.unit} in {seconds:.1f} s "
                f"({rate:,.0f}/s)")
        if self.total:
            share = min(self.count / self.total, 1.0)
            text += f"; ~{self.total:,} total ({share:.0%})"
            if rate > 0 and self.count < self.total:
                text += f", ~{format_seconds((self.total - self.count) / rate)} left"
        return text

    def due(self, interval: float = INTERVAL) -> str | None:
        """The line to log now, or None: at most one per ``interval``, only after a change."""
        now = self.clock()
        if now - self._logged_at < interval or self.count == self._logged_count:
            return None
        self._logged_at, self._logged_count = now, self.count
        return self.line()


class ProgressBoard:
    """Every unit's :class:`Progress` of one stage; thread-safe."""

    def __init__(self, prefix: str, *, clock: Clock = time.monotonic,
                 interval: float = INTERVAL) -> None:
        self.prefix = prefix
        self.clock = clock
        self.interval = interval
        self._units: dict[str, Progress] = {}
        self._lock = threading.Lock()

    def unit(self, name: str, *, unit: str = "records", total: int | None = None) -> Progress:
        """The progress of ``name``, created on first use (units sharing a name share it)."""
        with self._lock:
            progress = self._units.get(name)
            if progress is None:
                progress = self._units[name] = Progress(f"{self.prefix} {name}", unit=unit,
                                                        total=total, clock=self.clock)
            elif total is not None:
                progress.total = total
            return progress

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._units[name].add(n)

    def due(self) -> list[str]:
        """Lines for the running units that are due (see :meth:`Progress.due`), and one
        last line (``done``) for each unit that counted something and finished after
        running at least an interval."""
        lines = []
        with self._lock:
            for progress in self._units.values():
                if progress.finished is None:
                    lines.append(progress.due(self.interval))
                elif (not progress.reported and progress.count
                      and progress.seconds >= self.interval):
                    progress.reported = True
                    lines.append(f"{progress.line()}, done")
        return [f"progress {line}" for line in lines if line]


def format_seconds(seconds: float) -> str:
    """``7 s``, ``3 min 5 s``, ``2 h 4 min``: a duration a person reads at a glance."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def throttled(progress: Progress, log: Callable[[str], None],
              interval: float | None = None) -> Callable[[int], None]:
    """A callback that counts ``n`` into ``progress`` and logs its line when due
    (for single-threaded loops, e.g. consolidation's batches)."""

    def on_batch(n: int) -> None:
        progress.add(n)
        line = progress.due(INTERVAL if interval is None else interval)
        if line:
            log(f"progress {line}")

    return on_batch
