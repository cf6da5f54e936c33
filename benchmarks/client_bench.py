"""Client throughput benchmark: how much of HubSpot's burst budget the client uses.

Starts the sandbox in its own process with HubSpot Professional's limits
(190 requests per rolling 10 s) and 200 ms latency per call, then streams many
object types at once through one client whose limiter has the same budget.
Reports requests/second in the steady state (after a warm-up, so the first
window's free burst does not flatter the number) against the budget, and 429s.
A serial client (max_in_flight=1) runs first for comparison.

    .venv/bin/python benchmarks/client_bench.py [--seconds 40] [--warmup 10] [--out FILE]

Targets: ratio >= 0.95, zero 429s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid

import requests

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hubspot_assets.hubspot import ClientConfig, HubSpotClient, RateBudget  # noqa: E402
from hubspot_assets_tests.sandbox import SandboxProcess  # noqa: E402

TOKEN = "bench-token"
TYPES = ["contacts", "companies", "deals", "tickets", "products", "line_items", "notes",
         "calls", "tasks", "emails", "meetings"]
SIZE = 200_000  # plenty: the run stops on time, not when data runs out


def run(url: str, budget: RateBudget, max_in_flight: int, seconds: float, warmup: float,
        limiter_dir: str) -> dict:
    """Stream every type at once until `seconds` pass; measure after `warmup`."""
    requests.post(f"{url}/_sandbox/stats/reset")
    config = ClientConfig(token=TOKEN, base_url=url, budget=budget, limiter_backend="sqlite",
                          limiter_dir=limiter_dir, max_in_flight=max_in_flight)
    marks: dict[str, tuple[float, int]] = {}
    with HubSpotClient(config, limiter_key=f"bench-{uuid.uuid4().hex[:8]}") as client:
        started = time.monotonic()

        def sample() -> None:
            time.sleep(warmup)
            marks["from"] = (time.monotonic(), client.stats.total_calls)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stream = client.iter_concurrent(
            lambda t: client.iter_objects(t, properties=["hs_object_id", "createdate"]), TYPES,
            max_workers=len(TYPES))
        records = 0
        for _ in stream:
            records += 1
            if time.monotonic() - started >= seconds:
                marks["to"] = (time.monotonic(), client.stats.total_calls)
                break
        stream.close()
        sampler.join()
        snap = client.stats.snapshot()
    (t0, c0), (t1, c1) = marks["from"], marks["to"]
    server = requests.get(f"{url}/_sandbox/stats").json()
    budget_rate = budget.ten_second / budget.window_seconds
    achieved = (c1 - c0) / (t1 - t0)
    return {
        "max_in_flight": max_in_flight,
        "seconds": round(t1 - started, 2),
        "measured_seconds": round(t1 - t0, 2),
        "records": records,
        "calls": snap["calls_total"],
        "budget_per_second": budget_rate,
        "achieved_per_second": round(achieved, 3),
        "ratio": round(achieved / budget_rate, 4),
        "client_429s": snap["rate_limited_429s"],
        "server_429s": server["rate_limited"],
        "server_peak_window_requests": server["peak_window_requests"].get(TOKEN, 0),
        "limiter_wait_seconds": snap["limiter_wait_seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds excluded from the rate (the first window's burst)")
    parser.add_argument("--serial-seconds", type=float, default=12.0)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--max-in-flight", type=int, default=16)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "client_bench.json"))
    args = parser.parse_args()

    budget = RateBudget()  # Professional: 190 per 10 s, 625,000 a day, 5 searches/s
    sizes = [arg for t in TYPES for arg in ("--size", f"{t}={SIZE}")]
    sandbox = SandboxProcess(["--account", f"1:{TOKEN}", "--latency-ms", str(args.latency_ms),
                              "--ten-second-limit", str(budget.ten_second),
                              "--window", str(budget.window_seconds), *sizes])
    url = sandbox.start()
    try:
        with tempfile.TemporaryDirectory() as limiter_dir:
            serial = run(url, budget, 1, args.serial_seconds, min(2.0, args.serial_seconds / 4),
                         limiter_dir)
            print(f"serial: {serial['achieved_per_second']}/s = {serial['ratio']:.2%} of "
                  f"{serial['budget_per_second']}/s", flush=True)
            pooled = run(url, budget, args.max_in_flight, args.seconds, args.warmup, limiter_dir)
    finally:
        sandbox.stop()
    result = {"latency_ms": args.latency_ms, "budget": {"ten_second": budget.ten_second,
                                                        "window_seconds": budget.window_seconds,
                                                        "window_pad_seconds":
                                                            budget.window_pad_seconds},
              "serial": serial, "pooled": pooled,
              "targets": {"ratio": 0.95, "429s": 0},
              "met": pooled["ratio"] >= 0.95 and pooled["server_429s"] == 0}
    print(f"pooled (max_in_flight={args.max_in_flight}): {pooled['achieved_per_second']}/s = "
          f"{pooled['ratio']:.2%} of {pooled['budget_per_second']}/s budget; "
          f"429s: {pooled['server_429s']}; peak in one window: "
          f"{pooled['server_peak_window_requests']}/{budget.ten_second}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
