"""Permits held until a window after the response: no 429 from scheduling delays.

A rate bucket stamps a request when it grants the permit, but HubSpot counts
it when it arrives. On a busy machine the gap between the two varies (a
thread waiting for the GIL, a connection from the pool), and enough of it lets
one more request into HubSpot's window than the bucket allowed. The request
reaches HubSpot after its permit and before its response, so a slot held from
the permit until `window` seconds after the response covers the moment HubSpot
counted it: with `limit` slots, no `window` of HubSpot's can hold more than
`limit` requests of this process, whatever the delays. The cost is one round
trip per window (190 per 10.15 s at 150 ms), less than padding the window.

Per process: the shared bucket (`limiter`) still bounds the sum of processes.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class WindowHolds:
    """At most `limit` requests per `window` seconds, counted from permit to response."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._cond = threading.Condition()
        self._in_flight = 0
        self._held_until: deque[float] = deque()  # ascending: appended at monotonic times

    def take(self, deadline: float) -> bool:
        """Hold a slot, waiting until `deadline` (monotonic) at most; False if none came."""
        with self._cond:
            while True:
                now = time.monotonic()
                while self._held_until and self._held_until[0] <= now:
                    self._held_until.popleft()
                if self._in_flight + len(self._held_until) < self.limit:
                    self._in_flight += 1
                    return True
                left = deadline - now
                if left <= 0:
                    return False
                # A slot frees when the oldest hold ends, or when a request ends.
                soonest = self._held_until[0] - now if self._held_until else left
                self._cond.wait(min(soonest, left))

    def release(self) -> None:
        """The request's response came (or it failed): keep its slot one window more."""
        with self._cond:
            self._in_flight -= 1
            self._held_until.append(time.monotonic() + self.window)
            self._cond.notify()

    def cancel(self) -> None:
        """Give back a slot whose request was never sent."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify()


_REGISTRY: dict[tuple[str, str, int, float], WindowHolds] = {}
_REGISTRY_LOCK = threading.Lock()


def holds_for(key: str, budget: str, limit: int, window: float) -> WindowHolds:
    """The holds of one budget of one limiter key, shared by the process's clients."""
    with _REGISTRY_LOCK:
        holds = _REGISTRY.get((key, budget, limit, window))
        if holds is None:
            holds = _REGISTRY[(key, budget, limit, window)] = WindowHolds(limit, window)
        return holds
