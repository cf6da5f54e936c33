"""HubSpot's rate limits: a rolling burst window per token, a daily budget per
account (reset at UTC midnight; HubSpot uses the account's time zone), and a
per-second search budget per account.

All times are `time.monotonic()` seconds. The window length is configurable so
tests can use a scaled-down window (the search "second" scales with it:
window/10).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
SECONDLY = "SECONDLY"
DAILY = "DAILY"


@dataclass
class Decision:
    """Outcome of one admission check; `headers` are the X-HubSpot-RateLimit-* ones."""

    policy: str | None  # None: admitted; else the policyName of the 429
    headers: dict[str, str]


class RateLimiter:
    def __init__(self, ten_second_limit: int, daily_limit: int, search_per_second: int,
                 window_seconds: float):
        self.configure(ten_second_limit, daily_limit, search_per_second, window_seconds)
        self._lock = threading.Lock()
        self._burst: dict[str, deque] = {}  # token -> admitted request times
        self._search: dict[int, deque] = {}  # portal -> admitted search times
        self._daily: dict[int, int] = {}  # portal -> requests counted today
        self._day = time.gmtime()[:3]  # the daily budget resets at (UTC) midnight

    def configure(self, ten_second_limit, daily_limit, search_per_second, window_seconds) -> None:
        self.ten_second_limit = int(ten_second_limit)
        self.daily_limit = int(daily_limit)
        self.search_per_second = int(search_per_second)
        self.window = float(window_seconds)

    def reset(self) -> None:
        with self._lock:
            self._burst.clear()
            self._search.clear()
            self._daily.clear()

    @staticmethod
    def _trim(q: deque, horizon: float) -> None:
        while q and q[0] <= horizon:
            q.popleft()

    def check(self, token: str, portal_id: int, search: bool, burst_exempt: bool) -> Decision:
        """Admit or reject one request; admitted requests consume budget."""
        now = time.monotonic()
        with self._lock:
            today = time.gmtime()[:3]
            if today != self._day:
                self._day = today
                self._daily.clear()
            used_today = self._daily.get(portal_id, 0)
            burst = self._burst.setdefault(token, deque())
            self._trim(burst, now - self.window)
            policy = None
            if used_today >= self.daily_limit:
                policy = DAILY
            elif search:
                sq = self._search.setdefault(portal_id, deque())
                self._trim(sq, now - self.window / 10)
                if len(sq) >= self.search_per_second:
                    policy = SECONDLY
                else:
                    sq.append(now)
            elif not burst_exempt and len(burst) >= self.ten_second_limit:
                policy = TEN_SECONDLY
            if policy is None:
                self._daily[portal_id] = used_today + 1
                if not search and not burst_exempt:
                    burst.append(now)
            headers = {} if search else self._headers(burst, now, portal_id)
            return Decision(policy, headers)

    def _headers(self, burst: deque, now: float, portal_id: int) -> dict[str, str]:
        tenth = now - self.window / 10
        recent = sum(1 for t in reversed(burst) if t > tenth) if burst else 0
        secondly = max(1, self.ten_second_limit // 10)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self._daily.get(portal_id, 0))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.ten_second_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.ten_second_limit - len(burst))),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - recent)),
        }

    def message(self, policy: str) -> str:
        if policy == DAILY:
            return "You have reached your daily limit."
        if policy == SECONDLY:
            return "You have reached your secondly limit."
        return "You have reached your ten_secondly_rolling limit."
