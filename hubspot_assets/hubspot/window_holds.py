"""Permits held until a window after the response: no 429 from scheduling delays.

A rate bucket stamps a request when it grants the permit, but HubSpot counts
it when it arrives. On a busy machine the gap between the two varies (a
thread waiting for the GIL, a connection from the pool), and enough of it lets
one more request into HubSpot's window than the bucket allowed. The request
reaches HubSpot after its permit and before its response, so a slot held from
the permit until `window` seconds after the response covers the moment HubSpot
counted it: with `limit` slots, no `window` of HubSpot's can hold more than
`limit` requests of those sharing the slots, whatever the delays. The cost is
one round trip per window (190 per 10.15 s at 150 ms), less than padding the
window.

The slots live where the limiter's bucket lives, so every process drawing on
one bucket shares them: `WindowHolds` in the process (``memory``),
`SQLiteWindowHolds` in a file beside the buckets (``sqlite``: the processes of
a host), `RedisWindowHolds` in a sorted set (``redis``: any host). A shared
slot also ends on its own `in_flight` seconds after its take (or `renew`)
while no response has come, so a process that dies holding slots gives them
back.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
import uuid
from collections import deque

logger = logging.getLogger(__name__)


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

    def renew(self) -> None:
        """Nothing to do: a slot of the process cannot outlive the process."""

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


# A take's request may wait this long for the buckets before it must `renew`
# its slot; the in-flight expiry allows twice that, so a slot renewed (or not
# needing it) still covers its request until the response.
RENEW_AFTER = 1.0


class _SharedHolds:
    """`WindowHolds` in a store other processes see; each slot is a row with an
    expiry, keyed by a random token. `release`/`cancel`/`renew` act on the
    calling thread's latest take (the transport takes and releases in one thread)."""

    # A waiting take looks again this often, or when the earliest slot ends if
    # sooner: a cancel in another process frees a slot without telling anyone.
    poll = 0.025
    _busy: tuple[type[BaseException], ...] = ()  # store errors a take outwaits

    def __init__(self, limit: int, window: float, request_seconds: float) -> None:
        self.limit, self.window = limit, window
        # An unreleased slot ends this long after its take or renew: the longest
        # request (`request_seconds`), the window HubSpot may count it in, and
        # the wait for the buckets before a renew is due.
        self.in_flight = request_seconds + window + 2 * RENEW_AFTER
        self._mine = threading.local()
        # One thread of the process polls the store at a time; the others wait
        # here, so the store sees one poll per process, not one per thread.
        self._polling = threading.Lock()

    def _stack(self) -> list[list]:
        """The calling thread's slots: [token, monotonic time of take or renew]."""
        stack = getattr(self._mine, "stack", None)
        if stack is None:
            stack = self._mine.stack = []
        return stack

    def take(self, deadline: float) -> bool:
        """Hold a slot, waiting until `deadline` (monotonic) at most; False if none came."""
        token = uuid.uuid4().hex
        if not self._polling.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            while True:
                try:
                    wait = self._try_take(token)
                except self._busy:
                    wait = self.poll
                if wait is None:
                    self._stack().append([token, time.monotonic()])
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Jitter keeps processes polling one store out of step.
                time.sleep(min(max(wait, 0.001), self.poll, left) + random.uniform(0, 0.003))
        finally:
            self._polling.release()

    def renew(self) -> None:
        """The request is about to be sent: if its slot was taken (or renewed)
        more than `RENEW_AFTER` ago, restart its in-flight expiry."""
        stack = self._stack()
        if stack and time.monotonic() - stack[-1][1] > RENEW_AFTER:
            self._expire(stack[-1][0], self.in_flight)
            stack[-1][1] = time.monotonic()

    def release(self) -> None:
        """The request's response came (or it failed): keep its slot one window more."""
        token = self._pop()
        try:
            self._expire(token, self.window)
        except Exception:  # the slot stays in flight, then ends on its own: safe, only slower
            logger.warning("releasing a window hold failed; it ends in %.0fs", self.in_flight,
                           exc_info=True)

    def cancel(self) -> None:
        """Give back a slot whose request was never sent."""
        token = self._pop()
        try:
            self._remove(token)
        except Exception:  # as in release
            logger.warning("cancelling a window hold failed; it ends in %.0fs", self.in_flight,
                           exc_info=True)

    def _pop(self) -> str:
        stack = self._stack()
        if not stack:
            raise RuntimeError("release or cancel of a window hold this thread did not take")
        return stack.pop()[0]

    def _try_take(self, token: str) -> float | None:
        """Hold a slot as `token` if one is free (None), else the seconds until the
        earliest slot ends."""
        raise NotImplementedError

    def _expire(self, token: str, seconds: float) -> None:
        """End `token`'s slot `seconds` from now (if it still exists)."""
        raise NotImplementedError

    def _remove(self, token: str) -> None:
        raise NotImplementedError


class SQLiteWindowHolds(_SharedHolds):
    """The slots as rows of a SQLite file: shared by the processes of one host
    (their wall clock is one clock)."""

    _busy = (sqlite3.OperationalError,)  # "database is locked" past the busy timeout

    def __init__(self, path: str, limit: int, window: float, request_seconds: float) -> None:
        super().__init__(limit, window, request_seconds)
        self.path = path
        # isolation_level=None: transactions are ours, so BEGIN IMMEDIATE takes
        # the write lock before the count and check-and-insert is atomic.
        self._db = sqlite3.connect(path, timeout=5.0, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()  # one connection per process, used by its threads
        with self._lock:
            # WAL: no journal file per commit; NORMAL: no fsync per commit (the
            # slots mean nothing after a reboot).
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS holds "
                             "(token TEXT PRIMARY KEY, until REAL NOT NULL)")

    def _try_take(self, token: str) -> float | None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()  # read under the lock: no stale clock decides
                self._db.execute("DELETE FROM holds WHERE until <= ?", (now,))
                count, soonest = self._db.execute(
                    "SELECT COUNT(*), MIN(until) FROM holds").fetchone()
                if count < self.limit:
                    self._db.execute("INSERT INTO holds VALUES (?, ?)",
                                     (token, now + self.in_flight))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return None if count < self.limit else soonest - now

    def _expire(self, token: str, seconds: float) -> None:
        with self._lock:
            self._db.execute("UPDATE holds SET until = ? WHERE token = ?",
                             (time.time() + seconds, token))

    def _remove(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM holds WHERE token = ?", (token,))


# Scores are expiries in ms of Redis's own clock (TIME), so hosts with skewed
# clocks agree. The key itself expires once its last slot has.
_REDIS_NOW = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function keep(ms)
  if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
end
"""
_REDIS_TAKE = _REDIS_NOW + """
local limit, token, ms = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + ms, token)
  keep(ms)
  return -1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(first[2]) - now
"""
# `now` is TIME rounded down to the ms: the release's expiry adds the ms back, so a
# slot is never freed before a whole window has passed since the release.
_REDIS_EXPIRE = _REDIS_NOW + """
local token, ms = ARGV[1], tonumber(ARGV[2])
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + 1 + ms, token) == 1 then keep(ms + 1) end
"""


class RedisWindowHolds(_SharedHolds):
    """The slots as members of a Redis sorted set (score: expiry): shared by
    every process on any host."""

    def __init__(self, url: str, key: str, limit: int, window: float,
                 request_seconds: float) -> None:
        super().__init__(limit, window, request_seconds)
        import redis  # imported lazily: only this store needs it

        self._redis = redis.Redis.from_url(url)
        self._key = key
        self._take_script = self._redis.register_script(_REDIS_TAKE)
        self._expire_script = self._redis.register_script(_REDIS_EXPIRE)

    def _try_take(self, token: str) -> float | None:
        wait_ms = self._take_script(keys=[self._key],
                                    args=[self.limit, token, _ms(self.in_flight)])
        return None if wait_ms < 0 else wait_ms / 1000

    def _expire(self, token: str, seconds: float) -> None:
        self._expire_script(keys=[self._key], args=[token, _ms(seconds)])

    def _remove(self, token: str) -> None:
        self._redis.zrem(self._key, token)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


_REGISTRY: dict[tuple, object] = {}
_REGISTRY_LOCK = threading.Lock()


def _one_per_process(name: tuple, make):
    # The pid: a forked child opens its own connection rather than its parent's.
    with _REGISTRY_LOCK:
        holds = _REGISTRY.get((os.getpid(), *name))
        if holds is None:
            holds = _REGISTRY[(os.getpid(), *name)] = make()
        return holds


def holds_for(key: str, budget: str, limit: int, window: float) -> WindowHolds:
    """The in-process holds of one budget of one limiter key, shared by the process's clients."""
    return _one_per_process(("memory", key, budget, limit, window),
                            lambda: WindowHolds(limit, window))


def sqlite_holds(path: str, limit: int, window: float, request_seconds: float) -> SQLiteWindowHolds:
    """The holds in SQLite file `path`, one object per process."""
    return _one_per_process(("sqlite", path, limit, window, request_seconds),
                            lambda: SQLiteWindowHolds(path, limit, window, request_seconds))


def redis_holds(url: str, key: str, limit: int, window: float,
                request_seconds: float) -> RedisWindowHolds:
    """The holds in Redis sorted set `key`, one object per process."""
    return _one_per_process(("redis", url, key, limit, window, request_seconds),
                            lambda: RedisWindowHolds(url, key, limit, window, request_seconds))
