"""Whole-pipeline benchmark: every asset for one source against the sandbox.

    .venv/bin/python benchmarks/pipeline_bench.py --contacts 10000
    .venv/bin/python benchmarks/pipeline_bench.py --contacts 100000 --sinks counting
    .venv/bin/python benchmarks/pipeline_bench.py --quick          # smoke run, ~30 s

The sandbox runs in its own process with 150 ms +- 50 ms latency per call and
the other types scaled with the contacts (the sandbox's default proportions).
Up to 100,000 contacts the sandbox and the client share Professional limits
(190 per 10 s); above that both are raised together (`--raised-ten-second`) to
test memory and call counts without an hour's wait. Each size runs the
pipeline once per sink: MongoDB (the stand-in, or $MONGODB_URI; the stand-in
holds everything in memory, ~3.5 GB at 100,000 contacts) and a counting sink,
each in a fresh worker process (`pipeline_worker.py`) whose peak RSS is
the pipeline's alone. Prints per stage: wall time, items per second, API calls
against the minimum (`pipeline_minimum.py`), request rate against the budget,
429s, retries, limiter waits, peak RSS and MongoDB write time; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import end_to_end
import psutil
import requests
from mongo_bench import process_cpu_seconds  # sibling modules: benchmarks/ is on sys.path
from pipeline_minimum import minimum_calls

from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file
from hubspot_assets_tests.sandbox import SandboxProcess, truth
from hubspot_assets_tests.sandbox.config import DEFAULT_SIZES, SandboxConfig

HERE = Path(__file__).resolve().parent

SOURCE_ID = "bench"
PORTAL_ID = 7_000_001
TOKEN = "bench-pipeline-token"
# The count each stage produces (its rate is the one worth printing).
ITEMS = {"object_records": "records", "events": "events", "relationships": "relationships"}
BASE_CONTACTS = DEFAULT_SIZES["contacts"]
BASE_EVENTS_PER_TYPE = 40  # AccountSpec's default, with DEFAULT_SIZES' 60 contacts
PROFESSIONAL_MAX_CONTACTS = 100_000
SEARCH_SUFFIX = "search"  # the client's ".../search" and the sandbox's "objects.search"
SEARCH_PER_WINDOW = 5  # HubSpot's search limit, the sandbox's default
WRITE_SLACK = 1.05  # MongoDB stage may be at most 5% slower than the counting-sink stage


@dataclass
class Profile:
    """How one size runs: data, latency, limits (sandbox's and client's alike)."""

    contacts: int
    ten_second: int
    window_seconds: float
    daily: int
    max_in_flight: int
    latency_ms: float
    jitter_ms: float

    @property
    def budget_per_second(self) -> float:
        return self.ten_second / self.window_seconds

    @property
    def search_window_seconds(self) -> float:
        """The sandbox scales search's one-second window with its ten-second one."""
        return self.window_seconds / 10

    @property
    def search_per_second(self) -> float:
        return SEARCH_PER_WINDOW / self.search_window_seconds

    def sizes(self) -> dict[str, int]:
        """Every type the sandbox sizes by default, scaled with the contacts."""
        return {t: max(1, round(n * self.contacts / BASE_CONTACTS))
                for t, n in DEFAULT_SIZES.items()}

    def events_per_type(self) -> int:
        return max(1, round(BASE_EVENTS_PER_TYPE * self.contacts / BASE_CONTACTS))

    def sandbox_spec(self) -> dict:
        return {"settings": {"ten_second_limit": self.ten_second, "daily_limit": self.daily,
                             "window_seconds": self.window_seconds,
                             "latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms},
                "accounts": [{"portal_id": PORTAL_ID, "token": TOKEN, "sizes": self.sizes(),
                              "events_per_type": self.events_per_type()}]}


def profile_for(contacts: int, args: argparse.Namespace) -> Profile:
    if args.quick:
        # Same 19 requests per second as Professional, in a 1 s window; little latency.
        return Profile(contacts, 19, 1.0, 10_000_000, 8, 20, 5)
    raised = contacts > PROFESSIONAL_MAX_CONTACTS
    return Profile(
        contacts,
        args.ten_second or (args.raised_ten_second if raised else 190),
        10.0,
        100_000_000 if raised else 625_000,
        args.max_in_flight or (args.raised_max_in_flight if raised else 8),
        args.latency_ms, args.jitter_ms)


# -- running ------------------------------------------------------------------------

class MongoTarget:
    """$MONGODB_URI, or a fresh stand-in process per run (its memory starts empty)."""

    def __init__(self) -> None:
        self.standin = None
        self.uri = os.environ.get("MONGODB_URI")
        self.database = f"bench_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> "MongoTarget":
        if not self.uri:
            from hubspot_assets_tests.mongo_standin.process import StandinProcess

            self.standin = StandinProcess().start()
            self.uri = self.standin.uri
        return self

    def rss_mb(self) -> float | None:
        return _rss_mb(self.standin.pid) if self.standin else None

    def cpu_seconds(self) -> float | None:
        """CPU the stand-in has used so far: what it takes from the pipeline's cores."""
        return process_cpu_seconds(self.standin.pid) if self.standin else None

    def __exit__(self, *exc) -> None:
        if self.standin:
            self.standin.stop()
        else:
            import pymongo

            with pymongo.MongoClient(self.uri) as client:
                client.drop_database(self.database)


def _rss_mb(pid: int) -> float:
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1)


def run_worker(job: dict) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "pipeline_worker.py"), json.dumps(job)],
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"pipeline worker failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(lines[-1])
    if not result.get("success"):  # a failed stage: keep the worker's log for the diagnosis
        result["worker_log_tail"] = done.stderr[-20_000:]
        print(f"pipeline worker reported a failure; its log:\n{done.stderr[-4000:]}",
              file=sys.stderr)
    return result


def run_once(profile: Profile, url: str, sink: str, mongo: MongoTarget, workdir: Path,
             after_mongo_run: bool) -> dict:
    """One pipeline run into `sink`, with fresh sandbox counters and rate windows.

    The MongoDB run materializes every asset, as `hubspot_sync` does. The
    counting-sink run re-runs the HubSpot stages in full, reading its inputs
    from that MongoDB run (`after_mongo_run`) or from its own spill files (then
    the relationships stage's logic runs outside Dagster over the spilled ids).
    """
    requests.post(f"{url}/_sandbox/stats/reset").raise_for_status()
    job = {"source_id": SOURCE_ID, "sink": sink, "max_in_flight": profile.max_in_flight,
           "sources_file": str(workdir / "sources.yaml"), "limiter_backend": "sqlite",
           "limiter_dir": tempfile.mkdtemp(dir=workdir, prefix="limiter-"),
           "spill_dir": tempfile.mkdtemp(dir=workdir, prefix="spill-"),
           "mongo_uri": mongo.uri, "database": mongo.database,
           "assets": "all" if sink == "mongo" else "stages", "read_mongo": after_mongo_run,
           # Alone, the counting sink has no MongoDB to hand relationships its ids.
           "relationships_direct": sink == "counting" and not after_mongo_run}
    cpu_before, load_before = psutil.cpu_times(), os.getloadavg()
    standin_cpu_before = mongo.cpu_seconds()
    with RequestTimeline(url) as timeline:
        result = run_worker(job)
    result["request_timeline"] = timeline.samples
    cpu_after = psutil.cpu_times()
    busy = ((sum(cpu_after) - cpu_after.idle - cpu_after.iowait)
            - (sum(cpu_before) - cpu_before.idle - cpu_before.iowait))
    total = sum(cpu_after) - sum(cpu_before)
    result["machine"] = {"cpus": psutil.cpu_count(), "loadavg_before": load_before,
                         "loadavg_after": os.getloadavg(),
                         "cpu_busy_fraction": round(busy / total, 3) if total else None}
    result["sandbox_stats"] = requests.get(f"{url}/_sandbox/stats").json()
    result["mongo_server_rss_mb"] = mongo.rss_mb()
    if standin_cpu_before is not None:
        result["mongo_server_cpu_seconds"] = round(mongo.cpu_seconds() - standin_cpu_before, 1)
    result["sink"] = sink
    return result


class RequestTimeline(threading.Thread):
    """The sandbox's request counters once a second: `(epoch, requests, searches)`,
    to show when inside a stage the budget went unused."""

    def __init__(self, url: str, interval: float = 1.0) -> None:
        super().__init__(daemon=True, name="request-timeline")
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, int, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                stats = requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()
            except requests.RequestException:
                continue
            searches = sum(sum(by_status.values()) for endpoint, by_status
                           in stats["by_endpoint"].items() if endpoint.endswith(SEARCH_SUFFIX))
            self.samples.append((round(time.time(), 2), stats["total"], searches))

    def __enter__(self) -> "RequestTimeline":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._halt.set()
        self.join()


def window_rates(samples: list, start: float, end: float, profile: Profile,
                 window: float = 10.0) -> list[float]:
    """Ten-second-budget utilization of each whole `window` inside [start, end]."""
    inside = [s for s in samples if start <= s[0] <= end]
    out = []
    i = 0
    for j, sample in enumerate(inside):
        if sample[0] - inside[i][0] >= window:
            general = (sample[1] - sample[2]) - (inside[i][1] - inside[i][2])
            out.append(round(general / (sample[0] - inside[i][0]) / profile.budget_per_second, 2))
            i = j
    return out


# -- reading the results ------------------------------------------------------------

def stage_rows(run: dict, minimum: dict, profile: Profile) -> list[dict]:
    """One row per stage plus a total: the numbers the tables print and the JSON keeps."""
    rows = []
    ran = sorted(run["stages"], key=lambda n: run["stages"][n].get("start", 0))
    for name in ran:
        stage = run["stages"][name]
        meta = stage.get("metadata", {})
        usage = meta.get("api_usage") or {}
        calls = {endpoint: sum(statuses.values())
                 for endpoint, statuses in (usage.get("calls") or {}).items()}
        seconds = stage.get("seconds") or 0.0
        items = int(meta.get(ITEMS.get(name, ""), meta.get("dagster/partition_row_count", 0)))
        total_calls = sum(calls.values())
        searches = sum(n for endpoint, n in calls.items() if endpoint.endswith(SEARCH_SUFFIX))
        write = stage.get("write_seconds", 0.0)
        rows.append({
            "stage": name, "status": stage.get("status"), "seconds": seconds,
            "items": items, "items_per_second": round(items / seconds, 1) if seconds else None,
            "calls": total_calls, "calls_by_endpoint": calls,
            "minimum_calls": sum(minimum.get(name, {}).values()),
            "minimum_by_endpoint": minimum.get(name, {}),
            "requests_per_second": round(total_calls / seconds, 2) if seconds else None,
            # Search draws on its own per-second budget, not the ten-second one.
            "utilization": (round((total_calls - searches) / seconds / profile.budget_per_second,
                                  3) if seconds else None),
            "search_calls": searches,
            "search_utilization": (round(searches / seconds / profile.search_per_second, 3)
                                   if seconds and searches else None),
            "window_utilization": window_rates(run.get("request_timeline") or [],
                                               stage.get("start", 0), stage.get("end", 0),
                                               profile, profile.window_seconds),
            # Only stages spanning several windows can show the sustained rate.
            "rate_bound": total_calls >= 3 * profile.ten_second,
            "http_429s": int(meta.get("http_429s", 0)), "retries": int(meta.get("retries", 0)),
            # Summed over the stage's workers (the stage metadata's name says so).
            "limiter_wait_seconds": float(meta.get("limiter_wait_seconds_summed_over_workers",
                                                   meta.get("limiter_wait_seconds", 0.0))),
            "peak_rss_mb": stage.get("peak_rss_mb"),
            "written": int(meta.get("dagster/partition_row_count", 0)),
            "write_seconds": write,
            "writes_per_second": (round(int(meta.get("dagster/partition_row_count", 0)) / write)
                                  if write else None),
            "errors": int(meta.get("errors", 0)),
            "outside_dagster": bool(stage.get("direct")),
        })
    seconds = run["wall_seconds"]
    calls = sum(r["calls"] for r in rows)
    searches = sum(r["search_calls"] for r in rows)
    rows.append({
        "stage": "total", "status": "success" if run["success"] else "failure",
        "seconds": seconds, "items": sum(r["items"] for r in rows if r["stage"] in ITEMS),
        "items_per_second": None, "calls": calls,
        "minimum_calls": sum(r["minimum_calls"] for r in rows),
        "requests_per_second": round(calls / seconds, 2),
        "utilization": round((calls - searches) / seconds / profile.budget_per_second, 3),
        "search_calls": searches,
        "search_utilization": round(searches / seconds / profile.search_per_second, 3),
        "rate_bound": False,
        "http_429s": sum(r["http_429s"] for r in rows), "retries": sum(r["retries"] for r in rows),
        "limiter_wait_seconds": round(sum(r["limiter_wait_seconds"] for r in rows), 1),
        "peak_rss_mb": run["peak_rss_mb"], "written": sum(r["written"] for r in rows),
        "write_seconds": round(sum(r["write_seconds"] for r in rows), 1),
        "writes_per_second": None, "errors": sum(r["errors"] for r in rows),
    })
    return rows


def _fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def print_run(profile: Profile, run: dict, rows: list[dict]) -> None:
    machine = run["machine"]
    print(f"\n== {profile.contacts:,} contacts, sink={run['sink']}, budget "
          f"{profile.ten_second}/{profile.window_seconds:g}s, max_in_flight="
          f"{profile.max_in_flight}, latency {profile.latency_ms:g}+-{profile.jitter_ms:g} ms; "
          f"machine {machine['cpus']} CPUs, {machine['cpu_busy_fraction']:.0%} busy, "
          f"load {machine['loadavg_before'][0]:.1f}->{machine['loadavg_after'][0]:.1f}")
    header = (f"{'stage':<27}{'s':>8}{'items':>10}{'items/s':>9}{'calls':>7}{'min':>7}"
              f"{'x min':>7}{'req/s':>7}{'util':>6}{'s-util':>7}{'429':>5}{'retry':>6}{'lim wait s':>11}"
              f"{'RSS MB':>8}{'write s':>8}{'writes/s':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["calls"] / r["minimum_calls"] if r["minimum_calls"] else None
        util = _fmt(r["utilization"], ".2f") + ("*" if r["rate_bound"] else " ")
        print(f"{r['stage']:<27}{r['seconds']:>8.1f}{r['items']:>10}"
              f"{_fmt(r['items_per_second'], '.0f'):>9}{r['calls']:>7}{r['minimum_calls']:>7}"
              f"{_fmt(ratio, '.3f'):>7}{_fmt(r['requests_per_second'], '.1f'):>7}{util:>6}"
              f"{_fmt(r['search_utilization'], '.2f'):>7}"
              f"{r['http_429s']:>5}{r['retries']:>6}{r['limiter_wait_seconds']:>11.1f}"
              f"{_fmt(r['peak_rss_mb'], '.0f'):>8}{r['write_seconds']:>8.1f}"
              f"{_fmt(r['writes_per_second'], '.0f'):>9}")
    server = run["sandbox_stats"]
    print(f"(* rate-bound stage) sandbox: {server['total']} requests, {server['rate_limited']} "
          f"429s, peak {server['peak_window_requests'].get(TOKEN, 0)} in one "
          f"{server['window_seconds']:g}s window (limit {profile.ten_second}); worker peak RSS "
          f"{run['peak_rss_mb']:.0f} MB"
          + (f"; MongoDB stand-in RSS {run['mongo_server_rss_mb']:.0f} MB, "
             f"{run.get('mongo_server_cpu_seconds', 0):.0f} CPU s in this run"
             if run.get("mongo_server_rss_mb") else ""))
    if any(r.get("outside_dagster") for r in rows):
        print("relationships: the stage's extract logic run outside Dagster over the counting "
              "sink's spilled ids (no MongoDB to read them from)")
    for r in rows:
        if len(r.get("window_utilization") or []) > 1:
            print(f"{r['stage']}: utilization per {profile.window_seconds:g}s window: "
                  + " ".join(f"{u:.2f}" for u in r["window_utilization"]))
    print("calls by endpoint (actual / minimum):")
    for r in rows[:-1]:
        for endpoint in sorted(set(r["calls_by_endpoint"]) | set(r["minimum_by_endpoint"])):
            print(f"  {r['stage']:<27}{endpoint:<72}{r['calls_by_endpoint'].get(endpoint, 0):>7}"
                  f" / {r['minimum_by_endpoint'].get(endpoint, 0)}")


def compare_sinks(by_sink: dict[str, list[dict]]) -> list[dict]:
    """Per stage: MongoDB run time over counting-sink run time."""
    if not {"mongo", "counting"} <= set(by_sink):
        return []
    out = []
    counted = {row["stage"]: row for row in by_sink["counting"] if row["stage"] != "total"}
    stages = [row for row in by_sink["mongo"] if row["stage"] in counted]  # not consolidation
    both = [(row, counted[row["stage"]]) for row in stages]
    both.append(({"stage": "total (these stages)", "seconds": sum(r["seconds"] for r in stages)},
                 {"seconds": sum(r["seconds"] for r in counted.values())}))
    for mongo, counting in both:
        ratio = mongo["seconds"] / counting["seconds"] if counting["seconds"] else None
        out.append({"stage": mongo["stage"], "mongo_seconds": mongo["seconds"],
                    "counting_seconds": counting["seconds"],
                    "ratio": round(ratio, 3) if ratio else None,
                    "within_target": ratio is not None and ratio <= WRITE_SLACK})
    print("\nMongoDB vs counting sink (stage seconds; target ratio <= "
          f"{WRITE_SLACK:.2f}, short stages are noise):")
    for c in out:
        print(f"  {c['stage']:<27}{c['mongo_seconds']:>8.1f}{c['counting_seconds']:>8.1f}"
              f"{_fmt(c['ratio'], '.3f'):>8}")
    return out


def bench_size(contacts: int, args: argparse.Namespace, workdir: Path) -> dict:
    profile = profile_for(contacts, args)
    spec = profile.sandbox_spec()
    config_file = workdir / f"sandbox-{contacts}.json"
    config_file.write_text(json.dumps(spec))
    sandbox = SandboxProcess(["--config", str(config_file)])
    url = sandbox.start()
    try:
        os.environ[LocalSource(SOURCE_ID, TOKEN).token_env] = TOKEN  # the worker inherits it
        write_sources_file(workdir / "sources.yaml", [LocalSource(
            SOURCE_ID, TOKEN, base_url=url,
            limits={"ten_second": profile.ten_second, "daily": profile.daily,
                    "window_seconds": profile.window_seconds,
                    "search_per_second": SEARCH_PER_WINDOW,
                    "search_window_seconds": profile.search_window_seconds})])
        config = SandboxConfig.from_dict(spec)
        minimum = minimum_calls(truth.account_from_spec(config.accounts[0]), url,
                                config.association_page_size)
        if args.end_to_end:
            with MongoTarget() as mongo:
                rows = end_to_end.bench(profile, url, mongo, workdir, SOURCE_ID, PORTAL_ID,
                                        minimum, args, sandbox.pid)
            return {"contacts": contacts, "profile": profile.__dict__, "sizes": profile.sizes(),
                    "minimum": minimum, "end_to_end": rows}
        runs, by_sink = [], {}
        with MongoTarget() as mongo:
            for sink in sorted(args.sinks, key=lambda s: s != "mongo"):  # MongoDB first
                run = run_once(profile, url, sink, mongo, workdir, "mongo" in by_sink)
                run["sandbox_rss_mb"] = _rss_mb(sandbox.pid)
                rows = stage_rows(run, minimum, profile)
                print_run(profile, run, rows)
                run["rows"] = rows
                by_sink[sink] = rows
                runs.append(run)
        return {"contacts": contacts, "profile": profile.__dict__, "sizes": profile.sizes(),
                "events_per_type": profile.events_per_type(), "minimum": minimum, "runs": runs,
                "sink_comparison": compare_sinks(by_sink)}
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, action="append",
                        help="contacts (other types scaled alike); repeatable; default 10000")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 contacts, 1 s windows, 20 ms latency")
    parser.add_argument("--sinks", default="mongo,counting",
                        help="comma-separated: mongo, counting (default both)")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--jitter-ms", type=float, default=50.0)
    parser.add_argument("--ten-second", type=int, default=None,
                        help="budget per 10 s for sandbox and client (default 190; raised above "
                             f"{PROFESSIONAL_MAX_CONTACTS:,} contacts)")
    parser.add_argument("--raised-ten-second", type=int, default=3000)
    parser.add_argument("--max-in-flight", type=int, default=None)
    parser.add_argument("--raised-max-in-flight", type=int, default=48)
    parser.add_argument("--end-to-end", action="store_true",
                        help="run the code location's hubspot_sync job (its own executor) into "
                        "MongoDB: a full sync, then an incremental one after --churn; print "
                        "launch to last consolidated write beside the API-bound minimum")
    parser.add_argument("--churn", type=float, default=0.01,
                        help="share of every type's records changed before the incremental "
                        "sync (--end-to-end; default 0.01)")
    parser.add_argument("--modes", default="full,incremental",
                        help="--end-to-end: the syncs to run in turn (default full,incremental)")
    parser.add_argument("--step-processes", type=int, default=None,
                        help="HUBSPOT_STEP_PROCESSES for --end-to-end (default: the code "
                        "location's)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default "
                        "benchmarks/results/pipeline_bench-<time>.json)")
    args = parser.parse_args(argv)
    args.sinks = [s for s in args.sinks.split(",") if s]
    args.modes = [m for m in args.modes.split(",") if m]
    if not args.modes or args.modes[0] != "full" or set(args.modes) - {"full", "incremental"}:
        parser.error("--modes: full first, then incremental ones (e.g. full,incremental)")
    if set(args.sinks) - {"mongo", "counting"}:
        parser.error("--sinks takes mongo and/or counting")
    sizes = args.contacts or ([300] if args.quick else [10_000])
    out = args.out or HERE / "results" / f"pipeline_bench-{time.strftime('%Y%m%dT%H%M%S')}.json"
    report = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "python": sys.version.split()[0], "cpus": psutil.cpu_count(),
              "quick": args.quick, "results": []}
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        for contacts in sizes:
            report["results"].append(bench_size(contacts, args, Path(tmp)))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")  # after each size: partial results survive
    print(f"\nJSON: {out}")
    ok = all(run["success"] for result in report["results"]
             for run in result.get("runs", []) + result.get("end_to_end", []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
