"""Throughput and writer memory of MongoStreamIOManager.

    .venv/bin/python benchmarks/mongo_bench.py                     # 200k and 1M, stand-in
    .venv/bin/python benchmarks/mongo_bench.py --sizes 50000 --rerun
    MONGODB_URI=mongodb://... .venv/bin/python benchmarks/mongo_bench.py

For each size a fresh writer process streams that many contact-like records
through `MongoStreamIOManager.handle_output` (so its peak RSS belongs to
that size alone); without MONGODB_URI each size also gets a fresh stand-in.
Prints a table and writes JSON: per pass the CPU seconds of the writer and
(stand-in only) of the server, which share the machine's cores with the
pipeline. Peak RSS should not grow with the count: the IO manager holds at
most two batches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


class ContactStream:
    """`count` HubSpot-contact-shaped records (~1 KB of JSON each), made lazily."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __iter__(self):
        from hubspot_assets.stream.records import OBJECT, StreamRecord

        for i in range(self.count):
            updated = f"2024-03-{1 + i % 28:02d}T10:00:00.000Z"
            properties = {f"custom_property_{j}": f"value {i} {j}" for j in range(12)}
            properties.update(email=f"user{i}@example.com", firstname=f"First{i}",
                              lastname=f"Last{i}", hs_object_id=str(i),
                              lastmodifieddate=updated, lifecyclestage="lead")
            data = {"id": str(i), "properties": properties, "createdAt": "2023-01-01T00:00:00Z",
                    "updatedAt": updated, "archived": False}
            yield StreamRecord(OBJECT, "contacts", str(i), data, updated)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU seconds a process has used so far (None: no process)."""
    if pid is None:
        return None
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def worker(uri: str, database: str, count: int, batch_size: int, rerun: bool,
           server_pid: int | None = None) -> dict:
    """Runs in the writer subprocess: one size, optionally written twice."""
    import dagster as dg

    from hubspot_assets.defs.io_manager import MongoStreamIOManager

    manager = MongoStreamIOManager(uri=uri, database=database, batch_size=batch_size)
    baseline = _peak_rss_mb()
    passes = []
    for attempt in ["write", "rerun"][: 2 if rerun else 1]:
        context = dg.build_output_context(asset_key="bench_records", partition_key="bench",
                                          run_id=f"{attempt}-{uuid.uuid4()}")
        started = time.perf_counter()
        cpu = time.process_time()
        server_cpu = process_cpu_seconds(server_pid)
        manager.handle_output(context, ContactStream(count))
        seconds = time.perf_counter() - started
        meta = {k: v.value for k, v in context.get_logged_metadata().items()}
        one = {"pass": attempt, "seconds": round(seconds, 2),
               "docs_per_second": round(count / seconds),
               "writer_cpu_seconds": round(time.process_time() - cpu, 2),
               "new": meta["new"], "unchanged": meta["unchanged"]}
        if server_pid is not None:
            # CPU is what a 2-core machine shares with the pipeline; wall time hides it.
            one["server_cpu_seconds"] = round(process_cpu_seconds(server_pid) - server_cpu, 2)
        passes.append(one)
    return {"count": count, "batch_size": batch_size, "passes": passes,
            "writer_peak_rss_mb": round(_peak_rss_mb(), 1),
            "writer_rss_after_imports_mb": round(baseline, 1)}


def run_size(count: int, args: argparse.Namespace) -> dict:
    from hubspot_assets_tests.mongo_standin.process import StandinProcess

    standin = None
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        standin = StandinProcess().start()
        uri = standin.uri
    database = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        command = [sys.executable, __file__, "--worker", "--uri", uri, "--database", database,
                   "--count", str(count), "--batch-size", str(args.batch_size)]
        if args.rerun:
            command.append("--rerun")
        if standin:
            command += ["--server-pid", str(standin.pid)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"writer for {count} failed:\n{done.stderr[-4000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["server"] = "stand-in" if standin else "MONGODB_URI"
        if standin:
            import psutil

            result["standin_rss_mb"] = round(psutil.Process(standin.pid).memory_info().rss
                                             / 2**20, 1)
        return result
    finally:
        import pymongo

        client = pymongo.MongoClient(uri)
        client.drop_database(database)
        client.close()
        if standin:
            standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rerun", action="store_true",
                        help="write each size twice (the second pass finds every document)")
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "mongo_bench.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.uri, args.database, args.count, args.batch_size,
                                args.rerun, args.server_pid)), flush=True)
        return 0

    results = []
    header = (f"{'documents':>10} {'pass':>6} {'docs/s':>8} {'seconds':>8} "
              f"{'writer CPU s':>13} {'server CPU s':>13} {'writer peak RSS MB':>19} "
              f"{'server RSS MB':>14}")
    print(header)
    print("-" * len(header))
    for count in args.sizes:
        result = run_size(count, args)
        results.append(result)
        for one in result["passes"]:
            print(f"{count:>10} {one['pass']:>6} {one['docs_per_second']:>8} "
                  f"{one['seconds']:>8} {one['writer_cpu_seconds']:>13} "
                  f"{one.get('server_cpu_seconds', '-'):>13} {result['writer_peak_rss_mb']:>19} "
                  f"{result.get('standin_rss_mb', '-'):>14}", flush=True)
    report = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "python": sys.version.split()[0], "cpus": os.cpu_count(), "results": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    peaks = [r["writer_peak_rss_mb"] for r in results]
    print(f"\nwriter peak RSS: {min(peaks)}..{max(peaks)} MB across sizes; JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
