"""What the marketing reads add to a sync: calls and time of every marketing reader.

    .venv/bin/python benchmarks/marketing_bench.py --contacts 10000

Runs the product's own readers (`extract/marketing.py`: the records stage's
lists with filter definitions, forms, marketing emails and campaigns; the
events stage's membership sweeps, form submissions and email events) through
the real client against an in-process sandbox with 150 ms +- 50 ms latency and
Professional limits (190 calls per 10 s), once in full and once incrementally
after one `advance` (10-minute overlap, as a scheduled sync). Prints, per run,
the calls by endpoint, the records read and the wall time; writes JSON.
The other types are scaled with the contacts as the sandbox's defaults are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hubspot_assets.extract.marketing import (  # noqa: E402
    campaign_records,
    email_event_records,
    email_records,
    form_records,
    list_records,
    membership_records,
    submission_records,
)
from hubspot_assets.extract.units import StageReport  # noqa: E402
from hubspot_assets.hubspot import ClientConfig, HubSpotClient, RateBudget  # noqa: E402
from hubspot_assets.sync.plan import SyncPlan, SyncPolicy  # noqa: E402
from hubspot_assets_tests.sandbox import AccountSpec, SandboxConfig, SandboxServer  # noqa: E402
from hubspot_assets_tests.sandbox.config import DEFAULT_SIZES  # noqa: E402

TOKEN = "bench-marketing-token"
PORTAL_ID = 7_000_017


def run(url: str, plan: SyncPlan, max_in_flight: int) -> dict:
    """Both readers once under ``plan``; calls by endpoint, counts and seconds."""
    config = ClientConfig(token=TOKEN, base_url=url, budget=RateBudget(),
                          limiter_backend="memory", max_in_flight=max_in_flight)
    kinds: Counter[str] = Counter()
    started = time.monotonic()
    with HubSpotClient(config, limiter_key=f"bench-{uuid.uuid4().hex[:8]}") as client:
        records = StageReport("object_records", "bench")
        events = StageReport("events", "bench")
        for stream in (list_records(client, records, plan=plan),
                       form_records(client, records),
                       email_records(client, records, plan=plan),
                       campaign_records(client, records),
                       membership_records(client, events, max_workers=max_in_flight, plan=plan),
                       submission_records(client, events, max_workers=max_in_flight, plan=plan),
                       email_event_records(client, events, plan=plan)):
            for record in stream:
                kinds[record.kind] += 1
        stats = client.stats.snapshot()
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 2), "calls": stats.get("calls_total", 0),
            "calls_by_endpoint": {ep: sum(by_status.values())
                                  for ep, by_status in stats.get("calls", {}).items()},
            "http_429s": stats.get("rate_limited_429s", 0), "records": dict(kinds),
            "errors": records.error_count + events.error_count,
            "watermark": plan.watermark_document("bench")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--jitter-ms", type=float, default=50.0)
    parser.add_argument("--max-in-flight", type=int, default=8)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "marketing_bench.json"))
    args = parser.parse_args(argv)
    scale = args.contacts / DEFAULT_SIZES["contacts"]
    sizes = {name: max(1, round(n * scale)) for name, n in DEFAULT_SIZES.items()}
    server = SandboxServer(SandboxConfig(
        accounts=[AccountSpec(portal_id=PORTAL_ID, token=TOKEN, sizes=sizes)],
        latency_ms=args.latency_ms, jitter_ms=args.jitter_ms)).start()
    try:
        full = run(server.url, SyncPlan.full(), args.max_in_flight)
        server.advance(PORTAL_ID)
        # `advance` dates each change one millisecond after the last, so its clock may run
        # ahead of the wall clock: a sync starting earlier would leave the step's email
        # events to the next run's window (as it would with HubSpot's clock ahead of ours).
        while time.time() * 1000 <= server.account(PORTAL_ID).clock_ms:
            time.sleep(0.05)
        plan = SyncPlan(full.pop("watermark"), SyncPolicy())
        incremental = run(server.url, plan, args.max_in_flight)
        incremental.pop("watermark")
    finally:
        server.stop()
    result = {"contacts": args.contacts, "latency_ms": args.latency_ms,
              "max_in_flight": args.max_in_flight, "full": full, "incremental": incremental}
    for name in ("full", "incremental"):
        r = result[name]
        print(f"{name:12s} {r['calls']:5d} calls  {r['seconds']:7.2f} s  429s {r['http_429s']}  "
              f"errors {r['errors']}  records {r['records']}")
        for endpoint, n in sorted(r["calls_by_endpoint"].items()):
            print(f"{'':12s} {n:5d}  {endpoint}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(result, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
