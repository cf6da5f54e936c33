"""The HubSpot calls of an incremental run with 1 % churn, by purpose, beside a full sync's.

    .venv/bin/python benchmarks/churn_bench.py                    # 10,000 contacts
    .venv/bin/python benchmarks/churn_bench.py --contacts 100000  # (minutes of CPU)

Runs the real `hubspot_sync` job in process (Dagster's in-process executor)
against a local sandbox and a MongoDB stand-in (or `$MONGODB_URI`): a full
sync, then one sandbox step that changes 1 % of every type's records (updates,
creates, archives, restores, merges, permanent deletes, association churn) and
an incremental run with reconciliation due (`reconcile_every_hours: 0`). Every
request the client sends is classified by what it is for:

- changes: CRM search for records modified since the watermark (and batch reads
  of their properties);
- archive: the archived listing (`archived=true`), read in full every run;
- reconciliation: the live id listing (`properties=hs_object_id`, 100 ids a call);
- records: the full listing of live records (list pages, batch reads, the
  two-ended read's search pages), full syncs only;
- association sweep: v4 association batch reads;
- events: event listings;
- discovery: schemas, properties, event types, account details.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pytest  # noqa: E402  (its MonkeyPatch restores the environment afterwards)

from hubspot_assets.hubspot.transport import Transport  # noqa: E402
from hubspot_assets_tests.fixtures.pipeline import PipelineHarness  # noqa: E402
from hubspot_assets_tests.sandbox import (  # noqa: E402
    DEMO_PORTAL_ID,
    DEMO_TOKEN,
    AccountSpec,
    SandboxConfig,
    SandboxServer,
)

PURPOSES = ("changes", "archive", "reconciliation", "records", "association sweep", "events",
            "discovery")


class CallLog:
    """Classifies every request the client sends (retries not counted: calls, not attempts)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.incremental = False
        self._original = Transport.request

    def purpose(self, method: str, path: str, params, body) -> str:
        params = params or {}
        if "/associations/" in path:
            return "association sweep"
        if path.startswith("/events/v3/events") and "event-types" not in path:
            return "events"
        if path.startswith("/crm/v3/objects/"):
            if str(params.get("archived")) == "true":
                return "archive"
            if method == "GET" and params.get("properties") == "hs_object_id":
                return "reconciliation"
            if self.incremental and (path.endswith("/search") or path.endswith("/batch/read")):
                return "changes"
            return "records"
        return "discovery"

    def __enter__(self) -> CallLog:
        log, original = self, self._original

        def request(transport, method, path, **kwargs):
            log.counts[log.purpose(method, path, kwargs.get("params"),
                                   kwargs.get("json_body"))] += 1
            return original(transport, method, path, **kwargs)

        Transport.request = request
        return self

    def __exit__(self, *exc) -> None:
        Transport.request = self._original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--churn", type=float, default=0.01)
    args = parser.parse_args(argv)
    n = args.contacts
    sizes = {"contacts": n, "companies": n // 10, "deals": n // 10, "tickets": n // 20}
    spec = AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN, sizes=sizes, events_per_type=n // 100,
                       removals=True, archive_retention_days=90.0)
    server = SandboxServer(SandboxConfig(accounts=[spec], ten_second_limit=100_000,
                                         search_per_second=10_000, window_seconds=1.0)).start()
    uri = os.environ.get("MONGODB_URI")
    if uri:
        standin = nullcontext(None)
    else:
        from hubspot_assets_tests.mongo_standin.process import StandinProcess
        standin = StandinProcess()
    monkeypatch = pytest.MonkeyPatch()
    try:
        with standin as mongo, tempfile.TemporaryDirectory() as tmp:
            harness = PipelineHarness(Path(tmp), uri or mongo.uri, f"churn_{os.getpid()}",
                                      monkeypatch)
            harness.add_source("demo", token=DEMO_TOKEN, base_url=server.url,
                               extra="    reconcile_every_hours: 0\n", window_seconds=1.0)
            rows = {}
            with CallLog() as log:
                started = time.perf_counter()
                assert harness.sync("demo").success
                rows["full sync"] = (dict(log.counts), time.perf_counter() - started)
                # One step: archives, creates, merges, deletes, restores, association
                # churn, and updates of `--churn` of every type's live records.
                server.advance(DEMO_PORTAL_ID, update_fraction=args.churn)
                log.counts.clear()
                log.incremental = True
                started = time.perf_counter()
                assert harness.sync("demo").success
                rows["incremental"] = (dict(log.counts), time.perf_counter() - started)
            print(f"\n{n:,} contacts ({sum(sizes.values()):,} records of the four main types), "
                  f"{args.churn:.0%} churn: HubSpot calls by purpose")
            print(f"{'purpose':<20}{'full sync':>12}{'incremental':>14}")
            for purpose in PURPOSES:
                print(f"{purpose:<20}{rows['full sync'][0].get(purpose, 0):>12,}"
                      f"{rows['incremental'][0].get(purpose, 0):>14,}")
            print(f"{'total':<20}{sum(rows['full sync'][0].values()):>12,}"
                  f"{sum(rows['incremental'][0].values()):>14,}")
            print(f"{'seconds':<20}{rows['full sync'][1]:>12.1f}{rows['incremental'][1]:>14.1f}")
    finally:
        monkeypatch.undo()
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
