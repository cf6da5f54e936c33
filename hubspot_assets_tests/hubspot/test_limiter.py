"""The proactive limiter: budgets hold, waits are bounded, stores are shared."""

import threading
import time
import uuid

import pytest
import redis

from hubspot_assets.hubspot.config import RateBudget
from hubspot_assets.hubspot.errors import LimiterTimeout, RateLimitExhausted
from hubspot_assets.hubspot.limiter import SEARCH, STANDARD, RequestLimiter, app_key

from .workers import run_workers

# The pad (as in production) absorbs the delay between a grant and the moment the
# test's thread notes it, like the delay between a grant and HubSpot's count.
SMALL = RateBudget(ten_second=5, window_seconds=1.0, window_pad_seconds=0.1, daily=1000,
                   search_per_second=2, search_window_seconds=0.5)


def _key():
    return f"test-{uuid.uuid4().hex[:8]}"


def _grant_times(limiter, n, lane=STANDARD):
    start = time.monotonic()
    times = []
    for _ in range(n):
        limiter.acquire(lane)
        times.append(time.monotonic() - start)
        limiter.release(lane)  # as the transport does when the response is in
    return times


def _max_in_window(times, window):
    times = sorted(times)
    return max(sum(1 for t in times if s <= t < s + window) for s in times)


def test_memory_budget_holds_and_reports_wait():
    limiter = RequestLimiter(SMALL, _key(), backend="memory", max_wait=10)
    times = _grant_times(limiter, 12)
    assert _max_in_window(times, 1.0) <= 5
    assert times[-1] >= 2.0  # 12 permits at 5 per window need two full windows of waiting


def test_search_lane_has_its_own_budget():
    limiter = RequestLimiter(SMALL, _key(), backend="memory", max_wait=10)
    _grant_times(limiter, 5)  # standard budget spent
    started = time.monotonic()
    limiter.acquire(SEARCH)  # search is exempt from the ten-second budget
    limiter.release(SEARCH)
    assert time.monotonic() - started < 0.2


def test_wait_is_bounded():
    limiter = RequestLimiter(SMALL, _key(), backend="memory", max_wait=0.3)
    _grant_times(limiter, 5)
    started = time.monotonic()
    with pytest.raises(LimiterTimeout, match="max_limiter_wait"):
        limiter.acquire(STANDARD)
    assert time.monotonic() - started < 1.0


def test_daily_budget_refuses_at_once():
    budget = RateBudget(ten_second=100, daily=3, window_seconds=1.0)
    limiter = RequestLimiter(budget, _key(), backend="memory", max_wait=10)
    _grant_times(limiter, 3)
    started = time.monotonic()
    with pytest.raises(RateLimitExhausted, match="daily budget"):
        limiter.acquire(STANDARD)
    assert time.monotonic() - started < 0.5


def test_memory_limiters_share_a_key_within_the_process():
    key = _key()
    a = RequestLimiter(SMALL, key, backend="memory")
    b = RequestLimiter(SMALL, key, backend="memory")
    times = []
    start = time.monotonic()
    for limiter in (a, b) * 5:
        limiter.acquire(STANDARD)
        times.append(time.monotonic() - start)
        limiter.release(STANDARD)
    assert _max_in_window(times, 1.0) <= 5


def _threads_share(make):
    """Two limiters (as two processes would have) on one key, 3 threads each."""
    key = _key()
    limiters = [make(key), make(key)]
    times, lock = [], threading.Lock()
    start = time.monotonic()

    def run(limiter):
        for _ in range(3):
            limiter.acquire(STANDARD)
            with lock:
                times.append(time.monotonic() - start)
            limiter.release(STANDARD)

    threads = [threading.Thread(target=run, args=(lim,)) for lim in limiters for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for limiter in limiters:
        limiter.close()
    assert len(times) == 18
    assert _max_in_window(times, 1.0) <= 5


def test_sqlite_store_is_shared(tmp_path):
    _threads_share(lambda key: RequestLimiter(SMALL, key, backend="sqlite",
                                              directory=str(tmp_path), max_wait=20))


def test_redis_store_is_shared():
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    _threads_share(lambda key: RequestLimiter(SMALL, key, backend="redis",
                                              redis_url="redis://127.0.0.1:6379/0", max_wait=20))


def test_held_permits_bound_what_hubspot_counts_despite_late_arrivals():
    """Requests reach HubSpot some time after their permit; a slot held until a
    window after the response keeps every window of *arrivals* within the limit."""
    budget = RateBudget(ten_second=5, window_seconds=0.5, window_pad_seconds=0.0, daily=10_000)
    limiter = RequestLimiter(budget, _key(), backend="memory", max_wait=30)
    arrivals, lock = [], threading.Lock()
    start = time.monotonic()
    delays = iter([0.0, 0.3] * 20)  # every other request is held up before it is sent

    def request():
        limiter.acquire(STANDARD)
        with lock:
            delay = next(delays)
        time.sleep(delay)
        with lock:
            arrivals.append(time.monotonic() - start)
        time.sleep(0.02)  # the round trip
        limiter.release(STANDARD)

    threads = [threading.Thread(target=lambda: [request() for _ in range(5)]) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(arrivals) == 30
    assert _max_in_window(arrivals, 0.5) <= 5


def test_a_permit_given_up_while_waiting_frees_its_slot():
    budget = RateBudget(ten_second=2, window_seconds=5.0, daily=10_000)
    limiter = RequestLimiter(budget, _key(), backend="memory", max_wait=0.2)
    limiter.acquire(STANDARD)
    limiter.acquire(STANDARD)
    with pytest.raises(LimiterTimeout):
        limiter.acquire(STANDARD)  # both slots are in flight
    limiter.release(STANDARD)
    limiter.release(STANDARD)
    holds = limiter._holds["ten_second"]
    assert holds._in_flight == 0 and len(holds._held_until) == 2


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_share_one_app_budget_exactly(tmp_path, backend):
    """The same test for both shared stores: four processes (three threads each)
    take permits of one app key; no window of grants holds more than the budget."""
    if backend == "redis":
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except redis.RedisError:
            pytest.skip("no Redis at 127.0.0.1:6379")
    # The pad absorbs the delay between a grant and the child noting its time
    # on two busy cores (the client's tests pad the same way).
    budget = dict(ten_second=5, window_seconds=1.0, window_pad_seconds=0.3, daily=10_000)
    spec = dict(budget=budget, backend=backend, directory=str(tmp_path), redis_url=REDIS_URL)
    key = app_key(f"pat-na1-limiter-{uuid.uuid4().hex}")
    results = run_workers("limiter", spec, [key] * 4, 5)
    times = [t for r in results for t in r["times"]]
    assert len(times) == 20
    assert _max_in_window(times, 1.0) <= 5
    assert max(times) - min(times) >= 3 * 1.0  # 20 permits at 5 per window: held back


def test_apps_of_one_account_share_its_daily_budget():
    budget = RateBudget(ten_second=100, daily=3, window_seconds=1.0)
    account = f"account-{uuid.uuid4().int % 10**9}"
    a = RequestLimiter(budget, _key(), account_key=account, backend="memory")
    b = RequestLimiter(budget, _key(), account_key=account, backend="memory")
    for limiter in (a, b, a):
        limiter.acquire(STANDARD)
        limiter.release(STANDARD)
    with pytest.raises(RateLimitExhausted, match=account):
        b.acquire(STANDARD)


def test_permits_before_the_account_is_known_are_charged_to_it():
    budget = RateBudget(ten_second=100, daily=3, window_seconds=1.0)
    account = f"account-{uuid.uuid4().int % 10**9}"
    learner = RequestLimiter(budget, _key(), account_pending=True, backend="memory")
    learner.acquire(STANDARD)  # e.g. the account-details call
    learner.release(STANDARD)
    assert learner.account_key is None
    learner.bind_account(account)
    other = RequestLimiter(budget, _key(), account_key=account, backend="memory")
    _grant_times(other, 2)
    with pytest.raises(RateLimitExhausted):
        learner.acquire(STANDARD)


def test_app_key_is_a_digest_of_the_token():
    token = "pat-na1-0123456789abcdef"
    key = app_key(token)
    assert key == app_key(token) != app_key(token + "x")
    assert token not in key and "0123456789" not in key and len(key) == len("app-") + 16
