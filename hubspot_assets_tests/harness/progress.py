"""Live progress of a headless run, read from Dagster's event log and the stream.

A `RunWatcher` polls the run's event log (step starts and ends, each step's
latest log line, its materialization's counts) and how many documents the
source's stream collection holds, and hands a `Snapshot` to a display:

- `RichDisplay` on a terminal: a table redrawn in place (rich's `Live`).
  rich rather than tqdm: a run is eight stages at once, each with a status, a
  latest message and counts; tqdm draws one bar per known total, and most
  stages have no total until they finish. rich is already installed with
  Dagster and keeps the terminal handling (resizes, redirects) out of our code.
- `PlainDisplay` anywhere else (a pipe, a CI log): one line per change, and a
  stored-documents line at most every `every` seconds, never terminal codes.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Callable

import dagster as dg

from hubspot_assets_tests.harness.summary import STAGE_ORDER


@dataclass
class StepProgress:
    step: str
    status: str = "waiting"
    started: float | None = None
    ended: float | None = None
    message: str = ""
    counts: dict[str, Any] = field(default_factory=dict)

    def seconds(self, now: float) -> float | None:
        if self.started is None:
            return None
        return (self.ended or now) - self.started


@dataclass
class Snapshot:
    steps: dict[str, StepProgress]
    stored: int | None  # documents in the stream collection, if readable
    rate: float | None  # stored documents a second since the last snapshot
    elapsed: float


#: Seconds over which the stored-documents rate is measured.
RATE_WINDOW = 10.0

#: Counts a finished stage shows in the display (the summary table has the rest).
SHOWN_COUNTS = ("records", "events", "relationships", "objects", "edges", "api_calls", "errors",
                "skipped")

_STEP_STATUS = {
    dg.DagsterEventType.STEP_START: "running",
    dg.DagsterEventType.STEP_SUCCESS: "ok",
    dg.DagsterEventType.STEP_FAILURE: "FAILED",
    dg.DagsterEventType.STEP_SKIPPED: "skipped",
}


class RunWatcher:
    """Reads one run's progress; `snapshot()` after each `poll()`."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str,
                 count_stored: Callable[[], int | None] | None = None,
                 stages: tuple[str, ...] = STAGE_ORDER):
        self.instance = instance
        self.run_id = run_id
        self.count_stored = count_stored or (lambda: None)
        self.steps: dict[str, StepProgress] = {s: StepProgress(s) for s in stages}
        self._cursor: str | None = None
        self._started = time.monotonic()
        self._counts: collections.deque[tuple[float, int]] = collections.deque()

    def poll(self) -> Snapshot:
        while True:
            connection = self.instance.event_log_storage.get_records_for_run(
                self.run_id, cursor=self._cursor, limit=500)
            for record in connection.records:
                self._apply(record.event_log_entry)
            self._cursor = connection.cursor
            if not connection.has_more:
                break
        return self._snapshot()

    def _apply(self, entry) -> None:
        step = self.steps.get(entry.step_key or "")
        if step is None:
            return  # run-level events and asset check steps: the summary reports those
        event = entry.dagster_event
        if event is None:
            if entry.user_message:
                line = entry.user_message.splitlines()[0]
                step.message = line.removeprefix(f"{step.step}: ")[:120]
            return
        status = _STEP_STATUS.get(event.event_type)
        if status:
            step.status = status
            if status == "running":
                step.started = entry.timestamp
            else:
                step.ended = entry.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
            for name in SHOWN_COUNTS:
                if name in metadata:
                    step.counts[name] = getattr(metadata[name], "value", metadata[name])

    def _snapshot(self) -> Snapshot:
        now = time.monotonic()
        stored, rate = None, None
        try:
            stored = self.count_stored()
        except Exception:  # noqa: BLE001 - a busy or restarting server only delays the count
            stored = None
        if stored is not None:
            # The rate over the last RATE_WINDOW seconds: writes arrive in batches.
            self._counts.append((now, stored))
            while self._counts[0][0] < now - RATE_WINDOW:
                self._counts.popleft()
            then, before = self._counts[0]
            if now > then:
                rate = (stored - before) / (now - then)
        return Snapshot(dict(self.steps), stored, rate, now - self._started)


def _counts_text(step: StepProgress) -> str:
    return " ".join(f"{k}={v}" for k, v in step.counts.items())


def _stored_text(snapshot: Snapshot) -> str:
    if snapshot.stored is None:
        return ""
    rate = f", {snapshot.rate:,.0f}/s" if snapshot.rate else ""
    return f"stream: {snapshot.stored:,} documents stored{rate}"


class PlainDisplay:
    """One line per step change or new message; the stored count every `every` seconds."""

    def __init__(self, out: IO[str], every: float = 10.0):
        self.out = out
        self.every = every
        self._seen: dict[str, tuple[str, str]] = {}
        self._last_count_line = 0.0

    def show(self, snapshot: Snapshot, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        wall = time.time()
        for step in snapshot.steps.values():
            state = (step.status, step.message)
            if step.status == "waiting" or self._seen.get(step.step) == state:
                continue
            previous = self._seen.get(step.step, ("", ""))
            self._seen[step.step] = state
            if step.status != previous[0]:
                seconds = step.seconds(wall)
                took = f" after {seconds:.1f}s" if step.ended and seconds is not None else ""
                counts = f" ({_counts_text(step)})" if step.counts else ""
                self._line(f"{step.step}: {step.status}{took}{counts}")
            elif step.message:
                self._line(f"{step.step}: {step.message}")
        if snapshot.stored is not None and now - self._last_count_line >= self.every:
            self._last_count_line = now
            self._line(f"[{snapshot.elapsed:5.0f}s] {_stored_text(snapshot)}")

    def _line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class RichDisplay:
    """A table of every stage, redrawn in place while the run goes on."""

    def __init__(self, console):
        from rich.live import Live

        self.console = console
        self.live = Live(self._table(None), console=console, refresh_per_second=4,
                         transient=False)
        self.live.start()

    def show(self, snapshot: Snapshot) -> None:
        self.live.update(self._table(snapshot))

    def _table(self, snapshot: Snapshot | None):
        from rich.table import Table

        title = "syncing" if snapshot is None else f"syncing ({snapshot.elapsed:.0f}s)"
        table = Table(title=title, caption=_stored_text(snapshot) if snapshot else None,
                      expand=False)
        for column in ("stage", "status", "seconds", "latest"):
            table.add_column(column, no_wrap=column != "latest")
        if snapshot is None:
            return table
        wall = time.time()
        styles = {"ok": "green", "FAILED": "bold red", "running": "yellow"}
        for step in snapshot.steps.values():
            seconds = step.seconds(wall)
            table.add_row(step.step, f"[{styles.get(step.status, 'dim')}]{step.status}[/]",
                          "" if seconds is None else f"{seconds:.1f}",
                          _counts_text(step) if step.ended else step.message)
        return table

    def close(self) -> None:
        self.live.stop()


def make_display(out: IO[str], force_terminal: bool | None = None):
    """rich on a terminal, plain lines otherwise (`force_terminal` overrides the check)."""
    from rich.console import Console

    console = Console(file=out, force_terminal=force_terminal)
    if console.is_terminal:
        return RichDisplay(console)
    return PlainDisplay(out)


class BackgroundWatch:
    """Polls `watcher` every `interval` seconds into `display` until `stop()`."""

    def __init__(self, watcher: RunWatcher, display, interval: float = 0.5):
        self.watcher = watcher
        self.display = display
        self.interval = interval
        self._stop = threading.Event()
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def __enter__(self) -> BackgroundWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if not self._failed:
            self._show()  # the final state, steps that ended since the last poll included
        if not self._failed:
            self.display.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and not self._failed:
            self._show()

    def _show(self) -> None:
        try:
            self.display.show(self.watcher.poll())
        except Exception as error:  # noqa: BLE001 - progress must never break the run
            self._failed = True
            self.display.close()
            print(f"(progress display stopped: {type(error).__name__}: {error})", flush=True)
