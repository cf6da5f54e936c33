"""The proactive rate limiter: every request takes a permit here first.

Budgets are keyed by what HubSpot limits, and live in a store every process
using them can see. HubSpot's usage guidelines
(https://developers.hubspot.com/docs/guides/apps/api-usage/usage-details) set
the ten-second limit per app and the daily limit per account; CRM search's
per-second limit is per account too. So the ten-second budget is keyed by the
private app (`app_key`: a digest of its token, never the token) and the search
and daily budgets by the account (`account_key`: its portal id, learned by
`accounts.account_key_for`). Two sources sharing a token share every budget;
two apps on one account share the search and daily ones. Stores:

- ``sqlite``: one SQLite file per budget under a shared directory, guarded by a
  file lock, and one of its window holds (all processes on one host);
- ``redis``: a sorted set per budget, and one of its window holds (processes
  on any host);
- ``memory``: per process, shared by the clients of that process (unit tests).

Three budgets exist: the rolling ten-second one (per app), the search one (per
second) and the daily one (both per account). A request draws from the budgets
of its *lane*. The store also keeps small notes (`recall`/`remember`) that
every process may reuse, such as which account an app reads.
Waits are bounded: past `max_wait` a `LimiterTimeout` is raised, and a spent
daily budget raises `RateLimitExhausted` at once (it cannot be waited out).
A permit is also held until a window after its response (`window_holds`), in
slots kept where the buckets are, so every process sharing a bucket shares
them: delays between permit and arrival cannot cause a 429.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass

from pyrate_limiter import (
    Duration,
    InMemoryBucket,
    Limiter,
    Rate,
    RateItem,
    RedisBucket,
    SQLiteBucket,
)
from pyrate_limiter.buckets.redis_bucket import LuaScript

from hubspot_assets.timestamps import utcnow

from .config import RateBudget
from .errors import LimiterTimeout, RateLimitExhausted
from .window_holds import holds_for, redis_holds, sqlite_holds

logger = logging.getLogger(__name__)

STANDARD = "standard"
SEARCH = "search"
ASSOCIATIONS = "associations"


@dataclass(frozen=True)
class _BudgetSpec:
    name: str
    limit: int
    interval_ms: int

    @property
    def rate(self) -> Rate:
        return Rate(self.limit, self.interval_ms)


def _budget_specs(budget: RateBudget) -> dict[str, _BudgetSpec]:
    pad_ms = round(budget.window_pad_seconds * 1000)
    return {
        "ten_second": _BudgetSpec("ten_second", budget.usable_ten_second,
                                  round(budget.window_seconds * 1000) + pad_ms),
        "search": _BudgetSpec("search", budget.usable_search_per_second,
                              round(budget.search_window_seconds * 1000) + pad_ms),
        "daily": _BudgetSpec("daily", budget.usable_daily, int(Duration.DAY)),
    }


def _lane_budgets(budget: RateBudget) -> dict[str, tuple[str, ...]]:
    """Which waitable budgets each lane draws from (the daily one always applies)."""
    search = ("search", "ten_second") if budget.search_counts_toward_ten_second else ("search",)
    assoc = ("ten_second",) if budget.associations_count_toward_ten_second else ()
    return {STANDARD: ("ten_second",), SEARCH: search, ASSOCIATIONS: assoc}


def app_key(token: str) -> str:
    """The limiter key of a private app: a truncated SHA-256 of its token.

    One-way, so bucket names, Redis keys and file names never reveal the token;
    64 bits keep distinct tokens apart.
    """
    return "app-" + hashlib.sha256(token.encode()).hexdigest()[:16]


def account_key(portal_id: int | str) -> str:
    """The limiter key of a HubSpot account (portal)."""
    return f"account-{portal_id}"


# The budgets charged to the account rather than to the app.
_ACCOUNT_BUDGETS = ("search", "daily")


def _safe_key(key: str) -> str:
    """A file/Redis-safe, collision-free rendering of the limiter key."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:64]
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"{cleaned}-{digest}"


# In-memory limiters are shared by every client of the process with the same key,
# so two clients for one source in one process still respect one budget.
_MEMORY_LIMITERS: dict[tuple[str, _BudgetSpec], Limiter] = {}
_MEMORY_LOCK = threading.Lock()


def _guard_of(bucket) -> threading.Lock:
    """The thread lock of a bucket object: its put and decision must not interleave
    between threads (buckets keep the last decision on the instance)."""
    with _MEMORY_LOCK:
        guard = getattr(bucket, "_hubspot_assets_guard", None)
        if guard is None:
            guard = threading.Lock()
            bucket._hubspot_assets_guard = guard
        return guard


class _SharedRedisBucket(RedisBucket):
    """RedisBucket that counts every entry since the window start.

    The stock script counts entries up to the caller's own clock reading. With
    several processes, another one may insert an entry stamped a moment *after*
    our reading but before our script runs; the stock count misses it and both
    requests pass (measured: a few 429s per run with four processes).
    """

    _ZCOUNT = "redis.call('ZCOUNT', bucket, window_start, now)"

    @classmethod
    def init(cls, rates, redis, bucket_key, algorithm=None):
        script = LuaScript.PUT_ITEM.replace(cls._ZCOUNT,
                                            "redis.call('ZCOUNT', bucket, window_start, '+inf')")
        if script == LuaScript.PUT_ITEM:  # pyrate-limiter changed its script: fail loudly
            raise RuntimeError("unexpected pyrate-limiter Redis script; review _SharedRedisBucket")
        return cls(rates, redis, bucket_key, redis.script_load(script), algorithm)


class RequestLimiter:
    """Grants permits across the ten-second budget of an app (`key`) and the
    search and daily budgets of its account (`account_key`).

    `account_key=None`: one key for all three budgets. `account_pending=True`:
    the account is not known yet (the client learns it with its first request,
    then calls `bind_account`); until then daily permits are counted, and
    charged to the account's budget once it is bound. `request_deadline`: the
    longest a request may run after its permit (`ClientConfig.request_deadline`);
    a shared hold whose process died ends on its own after it, a window and 2 s.
    """

    def __init__(self, budget: RateBudget, key: str, *, account_key: str | None = None,
                 account_pending: bool = False, backend: str = "memory", directory: str | None = None,
                 redis_url: str | None = None, max_wait: float = 300.0,
                 request_deadline: float = 120.0) -> None:
        self.budget = budget
        self.key = key
        self.account_key: str | None = None
        self.backend = backend
        self.max_wait = max_wait
        self.request_deadline = request_deadline
        self._directory, self._redis_url = directory, redis_url
        self._specs = _budget_specs(budget)
        self._lanes = _lane_budgets(budget)
        self._owned: list[Limiter] = []
        self._redis = None
        self._bind_lock = threading.Lock()
        self._unbound_daily = 0  # daily permits granted before the account was known
        self._buckets: dict = {}
        self._guards: dict[str, threading.Lock] = {}
        self._holds: dict = {}
        self._add_budgets(key, ("ten_second",))
        if not account_pending:
            self.bind_account(account_key or key)

    def _add_budgets(self, key: str, names: tuple[str, ...]) -> None:
        windows = {"ten_second": self.budget.window_seconds,
                   "search": self.budget.search_window_seconds}
        for name in names:
            spec = self._specs[name]
            # The Limiter objects only schedule leaking; permits go straight to the buckets.
            bucket = self._build(key, spec).bucket_factory.bucket
            self._guards[name] = _guard_of(bucket)
            if name in windows:
                self._holds[name] = self._holds_of(key, spec, windows[name])
            self._buckets[name] = bucket  # last: `acquire` reads it unlocked

    def _holds_of(self, key: str, spec: _BudgetSpec, window: float):
        """The window holds of budget `spec` of `key`, in the store of its bucket."""
        safe = _safe_key(key)
        if self.backend == "sqlite":  # `_build` made the directory
            path = os.path.join(self._directory, f"{safe}.{spec.name}.holds.sqlite")
            return sqlite_holds(path, spec.limit, window, self.request_deadline)
        if self.backend == "redis":
            return redis_holds(self._redis_url, f"hubspot_assets:holds:{safe}:{spec.name}",
                               spec.limit, window, self.request_deadline)
        return holds_for(key, spec.name, spec.limit, window)

    def bind_account(self, account_key: str) -> None:
        """Charge the search and daily budgets to `account_key` from now on, and
        the daily permits granted before it was known to it now (at most the few
        requests that learned the account)."""
        with self._bind_lock:
            if self.account_key is not None:
                if self.account_key != account_key:
                    raise ValueError(f"limiter of {self.key!r} is bound to {self.account_key!r}")
                return
            self._add_budgets(account_key, _ACCOUNT_BUDGETS)
            self.account_key = account_key
            owed, self._unbound_daily = self._unbound_daily, 0
        for _ in range(owed):
            self._take("daily", STANDARD, None)

    def _account_bound(self, lane: str) -> bool:
        """Whether the account budgets apply; binds them to the app's key if a
        search comes before the account is known (not done by the client)."""
        if self.account_key is not None:
            return True
        if "search" in self._lanes[lane]:
            logger.warning("search before the account of %s was known: its search and daily "
                           "budgets are keyed by the app", self.key)
            self.bind_account(self.key)
            return True
        return False

    def _owe_daily(self) -> bool:
        """Count a daily permit for the account not known yet (`bind_account`
        charges it); False if the account became known meanwhile."""
        with self._bind_lock:
            if self.account_key is not None:
                return False
            self._unbound_daily += 1
            return True

    def _build(self, key: str, spec: _BudgetSpec) -> Limiter:
        safe = _safe_key(key)
        directory = self._directory
        if self.backend == "memory":
            with _MEMORY_LOCK:
                limiter = _MEMORY_LIMITERS.get((key, spec))
                if limiter is None:
                    limiter = Limiter(InMemoryBucket([spec.rate]))
                    _MEMORY_LIMITERS[(key, spec)] = limiter
                return limiter
        if self.backend == "sqlite":
            assert directory, "sqlite backend needs a directory"
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, f"{safe}.{spec.name}.sqlite")
            bucket = SQLiteBucket.init_from_file([spec.rate], table=f"rl_{spec.name}",
                                                 db_path=path, use_file_lock=True)
        elif self.backend == "redis":
            bucket = _SharedRedisBucket.init([spec.rate], self._redis_client(),
                                             f"hubspot_assets:ratelimit:{safe}:{spec.name}")
        else:
            raise ValueError(f"unknown limiter backend {self.backend!r}")
        limiter = Limiter(bucket)
        self._owned.append(limiter)
        return limiter

    def recall(self, name: str) -> str | None:
        """A note stored next to the buckets under `name` (None if absent or the
        store is per process): facts every process may reuse, such as the
        account of an app."""
        try:
            if self.backend == "sqlite":
                with open(self._note_path(name), encoding="utf-8") as f:
                    return f.read().strip() or None
            if self.backend == "redis":
                value = self._redis_client().get(f"hubspot_assets:note:{_safe_key(name)}")
                return value.decode() if value else None
        except (OSError, UnicodeDecodeError):
            return None
        except Exception:  # a note is an optimisation: a store failure must not stop a sync
            logger.debug("reading note %s failed", name, exc_info=True)
        return None

    def remember(self, name: str, value: str, ttl_seconds: int = 30 * 86_400) -> None:
        """Store a note for `recall` (a no-op for the per-process store)."""
        try:
            if self.backend == "sqlite":
                path = self._note_path(name)
                partial = f"{path}.{os.getpid()}.{threading.get_ident()}"
                with open(partial, "w", encoding="utf-8") as f:
                    f.write(value)
                os.replace(partial, path)  # readers never see half a note
            elif self.backend == "redis":
                self._redis_client().set(f"hubspot_assets:note:{_safe_key(name)}", value,
                                         ex=ttl_seconds)
        except Exception:  # as in recall: the next process asks HubSpot again
            logger.debug("storing note %s failed", name, exc_info=True)

    def _note_path(self, name: str) -> str:
        return os.path.join(self._directory, f"{_safe_key(name)}.note")

    def _redis_client(self):
        if self._redis is None:
            import redis  # imported lazily: only this backend needs it

            self._redis = redis.Redis.from_url(self._redis_url)
        return self._redis

    def acquire(self, lane: str = STANDARD) -> float:
        """Block until `lane` may send one request; returns the seconds waited.

        Every permit must be followed by `release(lane)` once the request ends.
        """
        started = time.monotonic()
        deadline = started + self.max_wait
        held: list[str] = []
        bound = self._account_bound(lane)
        try:
            for name in self._lanes[lane]:
                if not self._holds[name].take(deadline):
                    raise self._timeout(name)
                held.append(name)
            for name in self._lanes[lane]:
                self._take(name, lane, deadline)
            if bound or not self._owe_daily():
                self._take("daily", lane, None)
            for name in held:  # a long wait for the buckets must not outlast a shared hold
                self._holds[name].renew()
        except BaseException:
            for name in held:
                self._holds[name].cancel()
            raise
        return time.monotonic() - started

    def release(self, lane: str = STANDARD) -> None:
        """The request behind a permit of `lane` has ended (response or failure)."""
        for name in self._lanes[lane]:
            self._holds[name].release()

    def _take(self, name: str, lane: str, deadline: float | None) -> None:
        """Put one item into budget `name`, sleeping as the store says until it fits.

        pyrate-limiter's own blocking loop re-puts an item stamped with its
        *first* attempt's time plus the planned sleep; when other threads or
        processes share the store, that stamp lags real time and lets a shared
        window over-admit. So each attempt here is a fresh, atomic check-and-put
        (`put_decision`) stamped with the store's clock under the store's lock.
        `deadline=None` means: do not wait at all (the daily budget).
        """
        bucket = self._buckets[name]
        while True:
            with self._locked(name, deadline):
                decision = bucket.put_decision(RateItem(lane, bucket.now()))
            if decision.allowed:
                return
            wait = (decision.retry_after_ms or 20) / 1000 + random.uniform(0.002, 0.01)
            if deadline is None:
                self._refuse_daily(wait)
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._timeout(name)
            time.sleep(min(wait, left))

    @contextlib.contextmanager
    def _locked(self, name: str, deadline: float | None):
        """The bucket's thread guard plus its store lock (SQLite's file lock),
        both waited for no longer than the deadline allows."""
        bucket = self._buckets[name]
        store_lock = bucket.limiter_lock()
        limit = (deadline if deadline is not None else time.monotonic() + self.max_wait)
        if not self._guards[name].acquire(timeout=max(0.0, limit - time.monotonic())):
            raise self._timeout(name)
        try:
            if store_lock is not None:
                try:
                    store_lock.acquire(timeout=max(0.0, limit - time.monotonic()))
                except TimeoutError:  # filelock.Timeout: another process holds the file
                    raise self._timeout(name) from None
            try:
                yield
            finally:
                if store_lock is not None:
                    store_lock.release()
        finally:
            self._guards[name].release()

    def _timeout(self, name: str) -> LimiterTimeout:
        spec = self._specs[name]
        return LimiterTimeout(
            f"Waited {self.max_wait:.0f}s for the shared '{name}' rate budget "
            f"({spec.limit} per {spec.interval_ms / 1000:g}s) of limiter key "
            f"'{self.account_key if name in _ACCOUNT_BUDGETS else self.key}'",
            hint="Other runs with the same HubSpot app or account are using the budget (or "
                 "hold its lock); lower their concurrency or raise max_limiter_wait")

    def _refuse_daily(self, wait: float) -> None:
        resets = (utcnow() + dt.timedelta(seconds=wait)).isoformat(timespec="seconds")
        raise RateLimitExhausted(
            f"The local daily budget of {self._specs['daily'].limit} requests for limiter key "
            f"'{self.account_key}' is used up (rolling 24 h)", resets_at=resets,
            hint=f"The next request fits at {resets}; resume the sync then, "
                 "or raise RateBudget.daily if the account has a larger allowance")

    def close(self) -> None:
        """Release this client's buckets (shared in-memory ones stay for other clients)."""
        for limiter in self._owned:
            try:
                limiter.close()
            except Exception:  # closing must not mask the caller's own error
                logger.debug("closing limiter failed", exc_info=True)
        self._owned.clear()
        if self._redis is not None:
            self._redis.close()
            self._redis = None
