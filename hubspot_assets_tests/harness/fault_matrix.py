"""The fault matrix: sync a source through a faulty sandbox, then check nothing was lost,
duplicated or leaked.

Each row runs the six stages in process (`dg.materialize`) against a sandbox
that injects one kind of API fault at a rate, writes the job history with the
real sensors, and compares the stream collection with the sandbox's ground
truth (`verify.compare_stream`). The token and the MongoDB password are
recognizable fakes, searched for in the run's event log, the captured logs and
every MongoDB document.

    python -m hubspot_assets_tests.harness.fault_matrix [--rates 0.01,0.05,0.2] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dagster as dg

from hubspot_assets.defs.assets import ALL_ASSETS
from hubspot_assets.defs.assets.stage import STREAM_IO_MANAGER
from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource, HubSpotSettings, MongoResource
from hubspot_assets.mongo.connection import get_database
from hubspot_assets.mongo.redaction import uri_secrets
from hubspot_assets_tests.harness.leaks import LogCapture, find_leaks
from hubspot_assets_tests.harness.run_history import record_job_history
from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import ALL_FAULT_KINDS, AccountSpec, SandboxConfig, SandboxServer

#: Obviously fake secrets: a leak of either is unmistakable in any text.
SECRET_TOKEN = "sandbox-secret-token-XYZ"
MONGO_USER, MONGO_PASSWORD = "hsuser", "s3cr3t-pw"

PORTAL_ID = 4_242_777
SOURCE_ID = "faulty"
# Several pages of records, events and association batches per unit.
SIZES = {"contacts": 600, "companies": 30, "deals": 40, "tickets": 12}
EVENTS_PER_TYPE = 120

# The client settings of the test source: a short read timeout so that slow
# responses time out, few attempts so that errors past the retries happen,
# short pauses so that the matrix runs in minutes.
CLIENT = {"read_timeout": 2.0, "max_attempts": 4, "backoff_max": 1.0}
SLOW_MS = 3_000        # > read_timeout: a "slow" fault is a timeout
CURSOR_FAILURES = 6    # > max_attempts: a failing cursor outlasts the client's retries

FAULTS: dict[str, tuple[str, ...]] = {
    "5xx": ("500", "502", "503"),
    "429 without headers": ("429",),
    "timeout": ("slow",),
    "dropped connection": ("drop",),
    "truncated body": ("truncate",),
    "non-JSON body": ("nonjson",),
    "HTML error page": ("html",),
    "cursor fails mid-paging": ("cursor",),
    "all mixed": (*ALL_FAULT_KINDS, "cursor"),
}
RATES = (0.01, 0.05, 0.20)


@dataclasses.dataclass
class RowResult:
    """One row of the matrix."""

    fault: str
    rate: float
    expected: int
    found: int
    missing: int
    duplicates: int
    unexpected: int
    injected: int
    errors_recorded: int
    units_retried: int
    leaks: int
    run_success: bool
    seconds: float
    problems: list[str]

    @property
    def verdict(self) -> str:
        complete = not (self.missing or self.duplicates or self.unexpected)
        return "complete" if complete and self.run_success and not self.leaks else "FAILED"


def credentialed(uri: str) -> str:
    """The stand-in's URI with a fake user and password (PLAIN: the stand-in takes any)."""
    parts = urlsplit(uri)
    if "@" in parts.netloc:
        return uri  # a real server's own credentials
    query = "&".join(q for q in (parts.query, "authMechanism=PLAIN&authSource=%24external") if q)
    netloc = f"{MONGO_USER}:{MONGO_PASSWORD}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, parts.fragment))


def sandbox_config(kinds: tuple[str, ...], rate: float, seed: int = 11) -> SandboxConfig:
    account = AccountSpec(PORTAL_ID, SECRET_TOKEN, sizes=SIZES, events_per_type=EVENTS_PER_TYPE)
    return SandboxConfig(accounts=[account], window_seconds=1.0, fault_rate=rate,
                         fault_kinds=kinds, fault_seed=seed, slow_ms=SLOW_MS,
                         cursor_failures=CURSOR_FAILURES)


def run_row(fault: str, rate: float, mongo_uri: str, database: str, workdir: Path) -> RowResult:
    """Sync the test source once through a sandbox injecting `fault` at `rate`."""
    started = time.monotonic()
    with SandboxServer(sandbox_config(FAULTS[fault], rate)) as server:
        source = LocalSource(SOURCE_ID, SECRET_TOKEN, base_url=server.url,
                             limits={"window_seconds": 1.0})
        sources_file = write_sources_file(workdir / "sources.yaml", [source])
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(source_partitions.name, [SOURCE_ID])
        resources = {
            "hubspot": HubSpotResource(sources_file=str(sources_file), settings=HubSpotSettings(
                limiter_backend="memory", max_in_flight=6, **CLIENT)),
            STREAM_IO_MANAGER: MongoStreamIOManager(uri=mongo_uri, database=database),
            "mongo": MongoResource(uri=mongo_uri, database=database),
        }
        previous = os.environ.get(source.token_env)
        os.environ[source.token_env] = SECRET_TOKEN
        try:
            with LogCapture() as logs:
                result = dg.materialize(ALL_ASSETS, partition_key=SOURCE_ID,
                                        resources=resources, instance=instance,
                                        raise_on_error=False)
                history = record_job_history(instance, result.run_id, mongo_uri, database)
        finally:
            if previous is None:
                os.environ.pop(source.token_env, None)
            else:
                os.environ[source.token_env] = previous
        db = get_database(mongo_uri, database)
        comparison = compare_stream(db[f"source_{SOURCE_ID}_stream"], server.account(PORTAL_ID))
        injected = sum(server.stats().get("faults", {}).values())
    leaks = find_leaks([SECRET_TOKEN, *uri_secrets(mongo_uri)], instance=instance,
                       run_ids=[result.run_id], database=db, texts={"logs": logs.text})
    problems = comparison.problems + leaks
    if not result.success:
        problems += [e["message"][:300] for e in history["errors"] if e.get("fatal")]
    return RowResult(
        fault=fault, rate=rate, expected=comparison.expected, found=comparison.found,
        missing=comparison.missing, duplicates=comparison.duplicates,
        unexpected=comparison.unexpected, injected=injected,
        errors_recorded=history["error_count"],
        units_retried=sum(s.get("units_retried", 0) for s in history["stages"].values()),
        leaks=len(leaks), run_success=result.success,
        seconds=round(time.monotonic() - started, 1), problems=problems[:10])


def run_matrix(faults: list[str], rates: list[float], mongo_uri: str,
               progress=None) -> list[RowResult]:
    """Every (fault, rate) row, each in a fresh database that is dropped afterwards."""
    rows = []
    for rate in rates:
        for fault in faults:
            database = f"fault_matrix_{len(rows)}_{os.getpid()}"
            with tempfile.TemporaryDirectory() as workdir:
                try:
                    rows.append(run_row(fault, rate, mongo_uri, database, Path(workdir)))
                finally:
                    get_database(mongo_uri, database).client.drop_database(database)
            if progress:
                progress(rows[-1])
    return rows


COLUMNS = [("fault", 24), ("rate", 5), ("expected", 8), ("found", 8), ("missing", 7),
           ("duplicates", 10), ("injected", 8), ("errors recorded", 15), ("leaks", 5),
           ("verdict", 8)]


def table_row(row: RowResult) -> str:
    values = [row.fault, f"{row.rate:.0%}", row.expected, row.found, row.missing,
              row.duplicates, row.injected, row.errors_recorded, row.leaks, row.verdict]
    return "  ".join(str(v).ljust(w) for v, (_, w) in zip(values, COLUMNS)).rstrip()


def table_header() -> str:
    header = "  ".join(name.ljust(w) for name, w in COLUMNS).rstrip()
    return f"{header}\n{'-' * len(header)}"


def row_json(row: RowResult) -> dict[str, Any]:
    return {**dataclasses.asdict(row), "verdict": row.verdict}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=",".join(str(r) for r in RATES),
                        help="comma-separated fault rates (default %(default)s)")
    parser.add_argument("--faults", default=",".join(FAULTS),
                        help=f"comma-separated rows among: {', '.join(FAULTS)}")
    parser.add_argument("--mongo-uri", default=os.environ.get("MONGODB_URI"),
                        help="a MongoDB to use (default $MONGODB_URI, else a stand-in)")
    parser.add_argument("--json", default="benchmarks/fault_matrix.json",
                        help="where to write the rows as JSON (default %(default)s)")
    args = parser.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}")
    rates = [float(r) for r in args.rates.split(",") if r]

    print(table_header(), flush=True)
    progress = lambda row: print(table_row(row), flush=True)  # noqa: E731
    if args.mongo_uri:
        rows = run_matrix(faults, rates, args.mongo_uri, progress)
    else:
        from hubspot_assets_tests.mongo_standin.process import StandinProcess

        with StandinProcess() as standin:
            rows = run_matrix(faults, rates, credentialed(standin.uri), progress)
    Path(args.json).write_text(json.dumps([row_json(r) for r in rows], indent=2) + "\n")
    failed = [r for r in rows if r.verdict != "complete"]
    for row in failed:
        print(f"\n{row.fault} at {row.rate:.0%}:", *row.problems, sep="\n  ")
    print(f"\n{len(rows) - len(failed)}/{len(rows)} rows complete; rows written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
