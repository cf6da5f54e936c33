"""Per-client counters, safe to update from every worker thread."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from contextvars import ContextVar
from typing import Any, Mapping

#: The unit of work (an object type, an association pair) the calls of this thread
#: are for, set by the stage code; the client's worker threads inherit it
#: (``concurrency`` runs them in a copy of the caller's context).
current_unit: ContextVar[str | None] = ContextVar("hubspot_unit", default=None)


class ClientStats:
    """Calls by endpoint and status, retries, 429s, limiter waits, bytes, and
    the last rate-limit headers HubSpot sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._calls: dict[str, Counter[str]] = defaultdict(Counter)
        self._retries: Counter[str] = Counter()
        self._rate_limited: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._limiter_wait = 0.0
        self._rate_limit_wait = 0.0
        self._backoff_wait = 0.0
        self._bytes_in = 0
        self._bytes_out = 0
        self._records = Counter()
        self._headers: dict[str, int] = {}
        self._unit_calls: Counter[str] = Counter()

    def record_call(self, endpoint: str, status: int | str, bytes_in: int, bytes_out: int) -> None:
        unit = current_unit.get()
        with self._lock:
            self._calls[endpoint][str(status)] += 1
            if unit is not None:
                self._unit_calls[unit] += 1
            self._bytes_in += bytes_in
            self._bytes_out += bytes_out

    def record_retry(self, reason: str) -> None:
        with self._lock:
            self._retries[reason] += 1

    def record_429(self, policy: str) -> None:
        with self._lock:
            self._rate_limited[policy or "UNKNOWN"] += 1

    def record_error(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] += 1

    def add_limiter_wait(self, seconds: float) -> None:
        with self._lock:
            self._limiter_wait += seconds

    def add_rate_limit_wait(self, seconds: float) -> None:
        with self._lock:
            self._rate_limit_wait += seconds

    def add_backoff_wait(self, seconds: float) -> None:
        with self._lock:
            self._backoff_wait += seconds

    def count_records(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._records[kind] += n

    def record_rate_headers(self, headers: Mapping[str, int]) -> None:
        with self._lock:
            self._headers.update(headers)

    def unit_calls(self) -> dict[str, int]:
        """Calls made while each unit was the ``current_unit``."""
        with self._lock:
            return dict(self._unit_calls)

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(sum(c.values()) for c in self._calls.values())

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of every counter."""
        with self._lock:
            calls = {ep: dict(sorted(c.items())) for ep, c in sorted(self._calls.items())}
            return {
                "calls": calls,
                "calls_total": sum(sum(c.values()) for c in self._calls.values()),
                "retries": sum(self._retries.values()),
                "retries_by_reason": dict(self._retries),
                "rate_limited_429s": sum(self._rate_limited.values()),
                "rate_limited_by_policy": dict(self._rate_limited),
                "errors": dict(self._errors),
                "limiter_wait_seconds": round(self._limiter_wait, 3),
                "rate_limit_wait_seconds": round(self._rate_limit_wait, 3),
                "backoff_wait_seconds": round(self._backoff_wait, 3),
                "bytes_received": self._bytes_in,
                "bytes_sent": self._bytes_out,
                "records": dict(self._records),
                "rate_limit_headers": dict(self._headers),
                "elapsed_seconds": round(time.monotonic() - self._started, 3),
            }
