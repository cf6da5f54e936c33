"""Code run in child processes by the shared-budget tests (must be importable),
and `run_workers`, which starts them."""

from __future__ import annotations

import json
import sys
import time

from hubspot_assets.hubspot import ClientConfig, HubSpotClient, RateBudget
from hubspot_assets.hubspot.limiter import STANDARD, RequestLimiter


def fetch_properties(config_json: str, label: str, calls: int, start_at: float) -> dict:
    """Make `calls` requests through one client (of source `label`) from `start_at`
    (epoch seconds) on, so every process starts together, after its imports;
    return its counters and the keys of its budgets."""
    config = ClientConfig.from_values(json.loads(config_json))
    with HubSpotClient(config, limiter_key=label) as client:
        time.sleep(max(0.0, start_at - time.time()))
        list(client.map_concurrent(lambda _: client.list_properties("companies"), range(calls)))
        return {**client.stats.snapshot(), "app_key": client.limiter.key,
                "account_key": client.limiter.account_key}


def grant_times(spec_json: str, key: str, calls: int, start_at: float) -> dict:
    """Take `calls` permits of `key` from one RequestLimiter (3 threads) from
    `start_at` on; return their epoch times (comparable across processes)."""
    import threading

    spec = json.loads(spec_json)
    limiter = RequestLimiter(RateBudget(**spec["budget"]), key, backend=spec["backend"],
                             directory=spec.get("directory"), redis_url=spec.get("redis_url"),
                             max_wait=60)
    times, lock = [], threading.Lock()
    left = iter(range(calls))
    time.sleep(max(0.0, start_at - time.time()))

    def run():
        while True:
            with lock:
                if next(left, None) is None:
                    return
            limiter.acquire(STANDARD)
            with lock:
                times.append(time.time())
            limiter.release(STANDARD)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    limiter.close()
    return {"times": times}


def open_holds(spec: dict):
    """The window holds `spec` names: backend, limit, window, request_seconds and
    the store's path (sqlite) or url and key (redis)."""
    from hubspot_assets.hubspot import window_holds as wh

    args = (spec["limit"], spec["window"])
    if spec["backend"] == "sqlite":
        return wh.SQLiteWindowHolds(spec["path"], *args, spec["request_seconds"])
    if spec["backend"] == "redis":
        return wh.RedisWindowHolds(spec["url"], spec["key"], *args, spec["request_seconds"])
    return wh.WindowHolds(*args)


def hold_intervals(spec: dict, out_path: str, threads: int, holds_each: int, barrier) -> None:
    """Take and release `holds_each` holds in each of `threads` threads, all
    processes starting at `barrier`; write the (take, release + window) epoch
    intervals to `out_path`. Each is noted inside its hold (after the take,
    before the release), so it lies within the span the store held it."""
    import random
    import threading

    holds = open_holds(spec)
    intervals, lock = [], threading.Lock()
    barrier.wait(timeout=60)

    def run():
        for _ in range(holds_each):
            assert holds.take(time.monotonic() + 30)
            taken = time.time()
            time.sleep(random.uniform(0.0, 0.03))  # the request's round trip
            released = time.time()
            holds.release()
            with lock:
                intervals.append((taken, released + spec["window"]))

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(intervals, f)


def take_and_die(spec: dict, out_path: str, count: int) -> None:
    """Take `count` holds, note (before the first take, after the last) in
    `out_path`, and die without releasing them."""
    import os

    holds = open_holds(spec)
    before = time.time()
    for _ in range(count):
        assert holds.take(time.monotonic() + 10)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump([before, time.time()], f)
    os._exit(3)  # no cleanup of any kind: as a killed step process


def run_workers(task: str, payload: dict, keys: list[str], calls: int) -> list[dict]:
    """Run `task` ("client" or "limiter") in one child process per key, all
    starting at once; return what each printed."""
    import subprocess

    start_at = time.time() + 2.5  # after every child's imports
    mode = ["limiter"] if task == "limiter" else []
    procs = [subprocess.Popen([sys.executable, "-m", __name__, *mode, json.dumps(payload), key,
                               str(calls), str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key in keys]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


if __name__ == "__main__":  # python -m ...workers [limiter] JSON KEY CALLS START_AT
    args = sys.argv[1:]
    task = fetch_properties
    if args[0] == "limiter":
        task, args = grant_times, args[1:]
    print(json.dumps(task(args[0], args[1], int(args[2]), float(args[3]))))
