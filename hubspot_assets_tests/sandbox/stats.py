"""Request counters for `GET /_sandbox/stats`."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class Stats:
    """Requests by endpoint and status, 429s, faults, and the peak number of
    requests any token sent within one rate-limit window (of those the
    ten-second limit counts: not search, not exempt association reads)."""

    def __init__(self, window_seconds: float):
        self.window = window_seconds
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_endpoint: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.rate_limited: dict[str, int] = defaultdict(int)
            self.faults: dict[str, int] = defaultdict(int)
            self._recent: dict[str, deque] = {}
            self.peak: dict[str, int] = {}

    def arrival(self, token: str | None) -> None:
        """Count a request from token towards its sliding-window peak."""
        if token is None:
            return
        now = time.monotonic()
        with self._lock:
            q = self._recent.setdefault(token, deque())
            q.append(now)
            while q[0] <= now - self.window:
                q.popleft()
            if len(q) > self.peak.get(token, 0):
                self.peak[token] = len(q)

    def record(self, endpoint: str, status: int | str, policy: str | None = None,
               fault: str | None = None) -> None:
        with self._lock:
            self.total += 1
            self.by_endpoint[endpoint][str(status)] += 1
            if policy:
                self.rate_limited[policy] += 1
            if fault:
                self.faults[fault] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total": self.total,
                "by_endpoint": {k: dict(v) for k, v in self.by_endpoint.items()},
                "rate_limited": sum(self.rate_limited.values()),
                "rate_limited_by_policy": dict(self.rate_limited),
                "faults": dict(self.faults),
                "peak_window_requests": dict(self.peak),
                "window_seconds": self.window,
            }
