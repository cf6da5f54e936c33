"""Window holds: at most `limit` at any instant across every process sharing
the store; a dead holder's slots come back; cancel and deadlines as in-process."""

import json
import multiprocessing
import sqlite3
import time
import uuid

import pytest
import redis

from hubspot_assets.hubspot.config import RateBudget
from hubspot_assets.hubspot.limiter import STANDARD, RequestLimiter
from hubspot_assets.hubspot.window_holds import RENEW_AFTER

from . import workers

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT, WINDOW = 5, 0.5


def _spec(backend, tmp_path, request_seconds=30.0):
    if backend == "redis":
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except redis.RedisError:
            pytest.skip("no Redis at 127.0.0.1:6379")
    # A store of this test alone: Redis outlives the test.
    return dict(backend=backend, limit=LIMIT, window=WINDOW, request_seconds=request_seconds,
                path=str(tmp_path / f"holds-{uuid.uuid4().hex[:8]}.sqlite"), url=REDIS_URL,
                key=f"hubspot_assets:holds:test-{uuid.uuid4().hex}")


def _most_at_once(intervals):
    """The most intervals [start, end) covering one instant."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, step in edges:  # at one instant an end (-1) sorts before a start
        now += step
        most = max(most, now)
    return most


def _run_processes(spec, tmp_path, processes=4, threads=2, holds_each=4):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    outs = [tmp_path / f"intervals-{i}.json" for i in range(processes)]
    procs = [ctx.Process(target=workers.hold_intervals,
                         args=(spec, str(out), threads, holds_each, barrier)) for out in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    intervals = [tuple(i) for out in outs for i in json.loads(out.read_text())]
    assert len(intervals) == processes * threads * holds_each
    return intervals


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_processes_sharing_the_store_never_hold_more_than_the_limit(tmp_path, backend):
    """Four processes, two threads each, on 5 slots of 0.5 s: no instant is
    covered by more than 5 (take, release + window) intervals."""
    intervals = _run_processes(_spec(backend, tmp_path), tmp_path)
    assert _most_at_once(intervals) == LIMIT  # reached, never passed


def test_holds_of_each_process_alone_let_processes_pass_the_limit(tmp_path):
    """The control: in-process holds bound each process, not their sum; the
    same check sees it (as with the holds before they were shared)."""
    intervals = _run_processes(_spec("memory", tmp_path), tmp_path)
    assert _most_at_once(intervals) > LIMIT


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_dead_holders_slots_come_back_after_the_in_flight_expiry(tmp_path, backend):
    spec = _spec(backend, tmp_path, request_seconds=0.0)
    in_flight = WINDOW + 2 * RENEW_AFTER  # 2.5 s: the request's 0 s, the window, the renew allowance
    out = tmp_path / "died.json"
    proc = multiprocessing.get_context("spawn").Process(
        target=workers.take_and_die, args=(spec, str(out), LIMIT))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 3
    before, after = json.loads(out.read_text())
    holds = workers.open_holds(spec)
    assert holds.in_flight == pytest.approx(in_flight)
    assert not holds.take(time.monotonic() + 0.2)  # the dead process still holds all 5
    assert holds.take(time.monotonic() + 10)
    back = time.time()
    assert before + in_flight <= back <= after + in_flight + 0.5


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
def test_cancel_frees_a_slot_at_once_and_release_a_window_later(tmp_path, backend):
    holds = workers.open_holds(_spec(backend, tmp_path))
    for _ in range(LIMIT):
        assert holds.take(time.monotonic() + 1)
    started = time.monotonic()
    assert not holds.take(started + 0.2)  # full: waits out its deadline, no longer
    assert 0.2 <= time.monotonic() - started < 0.4
    holds.cancel()
    started = time.monotonic()
    assert holds.take(started + 1)
    assert time.monotonic() - started < 0.1
    holds.release()
    started = time.monotonic()
    assert not holds.take(started + WINDOW / 2)  # the released slot is held one window
    assert holds.take(started + 2)
    assert WINDOW - 0.05 <= time.monotonic() - started < WINDOW + 0.2


def test_a_hold_that_waited_for_the_buckets_is_renewed(tmp_path):
    """A take followed by a long bucket wait restarts its in-flight expiry, so
    it cannot end on its own before the request is even sent."""
    # The bucket (0.5 s + 1.5 s pad) outlasts the holds (0.5 s): the third
    # permit's hold is free at once, then it waits ~1.5 s for the bucket.
    budget = RateBudget(ten_second=2, window_seconds=0.5, window_pad_seconds=1.5, daily=1000)
    limiter = RequestLimiter(budget, f"test-{uuid.uuid4().hex[:8]}", backend="sqlite",
                             directory=str(tmp_path), max_wait=10, request_deadline=0.0)
    holds = limiter._holds["ten_second"]
    for _ in range(2):
        limiter.acquire(STANDARD)
        limiter.release(STANDARD)
    time.sleep(WINDOW + 0.1)
    assert limiter.acquire(STANDARD) > 1.0
    token = holds._stack()[-1][0]
    (until,) = sqlite3.connect(holds.path).execute(
        "SELECT until FROM holds WHERE token = ?", (token,)).fetchone()
    # Taken ~1.4 s ago with a 2.5 s expiry: without the renew ~1.1 s would be left.
    assert until - time.time() > holds.in_flight - 0.3
    limiter.release(STANDARD)
