"""What the progress total costs: one CRM search call per long full listing.

    .venv/bin/python benchmarks/progress_total.py                  # 20,000 contacts
    .venv/bin/python benchmarks/progress_total.py --contacts 50000 --interval 5

Lists every type of a sandbox account (default limits, 1 s window) twice with the
real client and stage code: once as shipped (a unit still running after one
progress interval asks HubSpot for its total), once with the count call turned
off. Prints calls, search calls, seconds and the progress lines of each pass.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hubspot_assets.defs.resources import HubSpotResource, HubSpotSettings  # noqa: E402
from hubspot_assets.extract.discovery import download_list_records  # noqa: E402
from hubspot_assets.extract.records import object_records  # noqa: E402
from hubspot_assets.extract.units import StageReport  # noqa: E402
from hubspot_assets.hubspot.client import HubSpotClient  # noqa: E402
from hubspot_assets_tests.fixtures.sandbox import make_sandbox_config  # noqa: E402
from hubspot_assets_tests.sandbox import DEMO_TOKEN, SandboxServer  # noqa: E402

SEARCH = "POST /crm/v3/objects/{objectType}/search"


def one_pass(resource: HubSpotResource, interval: float, label: str) -> None:
    source = resource.source("bench")
    client = resource.open_client(source)
    try:
        listing = StageReport("object_download_list", source.id)
        entries = [r.data for r in download_list_records(client, source, [], listing,
                                                         max_workers=8)]
        before = client.stats.snapshot()
        lines: list[str] = []
        report = StageReport("object_records", source.id, interval=interval)
        report.queue_to(lambda level, message: lines.append(message))
        started, records, next_flush = time.monotonic(), 0, time.monotonic() + 1
        for _ in object_records(client, entries, report, max_workers=8):
            records += 1
            if time.monotonic() >= next_flush:
                report.flush()
                next_flush = time.monotonic() + 1
        report.flush()
        seconds = time.monotonic() - started
        after = client.stats.snapshot()
    finally:
        client.close()
    calls = after["calls_total"] - before["calls_total"]
    search = (sum(after["calls"].get(SEARCH, {}).values())
              - sum(before["calls"].get(SEARCH, {}).values()))
    print(f"{label}: {records:,} records, {calls} calls ({search} search), {seconds:.1f} s")
    for line in lines:
        print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    server = SandboxServer(make_sandbox_config(sizes={"contacts": args.contacts})).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            registry = Path(tmp) / "sources.yaml"
            registry.write_text(
                f"sources:\n  - id: bench\n    token_env: BENCH_TOKEN\n"
                f"    base_url: {server.url}\n    limits: {{window_seconds: 1.0}}\n")
            os.environ["BENCH_TOKEN"] = DEMO_TOKEN
            resource = HubSpotResource(sources_file=str(registry), settings=HubSpotSettings(
                limiter_backend="memory"))
            one_pass(resource, args.interval, "with the total")
            shipped = HubSpotClient.count_objects
            HubSpotClient.count_objects = lambda self, object_type: None
            try:
                one_pass(resource, args.interval, "without it")
            finally:
                HubSpotClient.count_objects = shipped
    finally:
        server.stop()


if __name__ == "__main__":
    main()
