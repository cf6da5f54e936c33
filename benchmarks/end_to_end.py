"""End to end: a sync's wall time from launch to its last consolidated write, beside the
API-bound minimum of the calls it made (`pipeline_bench.py --end-to-end`).

The API-bound minimum: for each budget, the calls the run made on it divided
by its rate — ten-second (every call but search), search (its own per-second
budget). A run cannot be faster than the larger. The daily budget is not a
rate within a run: a sync is held by it only once the day's calls run out, so
it is reported as the share of the day's calls the run used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
SEARCH_SUFFIX = "search"


#: The sandbox's name of each endpoint `pipeline_minimum` counts (search: the two-ended
#: read's pages, which stand in for list pages).
MINIMUM_ENDPOINTS = {
    "GET /crm/v3/schemas": "schemas.list", "GET /crm/v3/properties/{objectType}":
    "properties.list", "GET /crm/v3/objects/{objectType}": "objects.list",
    "POST /crm/v3/objects/{objectType}/batch/read": "objects.batch_read",
    "GET /crm/v3/owners/": "owners.list", "GET /crm/v3/pipelines/{objectType}": "pipelines.list",
    "GET /events/v3/events/event-types": "events.types", "GET /events/v3/events": "events.list",
    "POST /crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read":
    "associations.batch_read",
    "GET /crm/v4/associations/{fromObjectType}/{toObjectType}/labels": "associations.labels",
}
COVERED = {*MINIMUM_ENDPOINTS.values(), "objects.search"}


def calls_of(stats: dict) -> dict[str, int]:
    return {endpoint: sum(by_status.values()) for endpoint, by_status
            in stats["by_endpoint"].items()}


def against_minimum(stats: dict, minimum: dict[str, dict[str, int]]) -> dict:
    """The run's calls on the endpoints the minimum counts, over that minimum; the rest
    (marketing, property history, account details) listed beside it."""
    calls = calls_of(stats)
    covered = sum(n for endpoint, n in calls.items() if endpoint in COVERED)
    least = sum(sum(by_endpoint.values()) for by_endpoint in minimum.values())
    return {"covered_calls": covered, "minimum_calls": least,
            "calls_over_minimum": round(covered / least, 3) if least else None,
            "calls_outside_minimum": {e: n for e, n in sorted(calls.items()) if e not in COVERED}}


def api_bound(stats: dict, profile) -> dict:
    """Calls per budget (from the sandbox's counters) and the seconds each needs."""
    calls = calls_of(stats)
    searches = sum(n for endpoint, n in calls.items() if endpoint.endswith(SEARCH_SUFFIX))
    ten_second = sum(calls.values()) - searches
    bounds = {"ten_second": ten_second / profile.budget_per_second,
              "search": searches / profile.search_per_second}
    return {"calls": sum(calls.values()), "ten_second_calls": ten_second,
            "search_calls": searches, "daily_share": round(sum(calls.values()) / profile.daily, 5),
            "bound_seconds": {k: round(v, 2) for k, v in bounds.items()},
            "minimum_seconds": round(max(bounds.values()), 2),
            "bound_by": max(bounds, key=bounds.get), "http_429s": stats["rate_limited"]}


def timeline(run: dict) -> list[dict]:
    """Each step's start and end, in seconds since launch, in the order they started."""
    launched = run["launched"]
    rows = [{"step": name, "start": round(step["start"] - launched, 2),
             "end": round(step["end"] - launched, 2), "status": step.get("status"),
             "peak_rss_mb": step.get("peak_rss_mb"), "api_calls": step.get("api_calls"),
             **({"error": step["error"]} if "error" in step else {})}
            for name, step in run["steps"].items() if "start" in step and "end" in step]
    return sorted(rows, key=lambda r: r["start"])


def summarize(run: dict, profile, minimum: dict | None) -> dict:
    """The numbers the table prints and the JSON keeps, for one run."""
    bound = api_bound(run["sandbox_stats"], profile)
    wall = run["last_consolidated_write"] - run["launched"]
    steps = timeline(run)
    return {
        "mode": run["mode"], "success": run["success"], **bound,
        "end_to_end_seconds": round(wall, 2),
        "ratio": round(wall / bound["minimum_seconds"], 3) if bound["minimum_seconds"] else None,
        "job_returned_seconds": round(run["returned"] - run["launched"], 2),
        "first_step_started": steps[0]["start"] if steps else None,
        **(against_minimum(run["sandbox_stats"], minimum) if minimum else
           {"minimum_calls": None, "calls_over_minimum": None}),
        "sandbox_stats": run["sandbox_stats"],
        "peak_step_rss_mb": max((s["peak_rss_mb"] or 0 for s in steps), default=None),
        "coordinator_peak_rss_mb": run["coordinator_peak_rss_mb"],
        "worker_cpu_seconds": run["worker_cpu_seconds"],
        "timeline": steps,
    }


def run_worker(job: dict) -> dict:
    done = subprocess.run([sys.executable, str(HERE / "sync_worker.py"), json.dumps(job)],
                          capture_output=True, text=True, check=False)
    if os.environ.get("SYNC_WORKER_STDERR"):  # the worker's whole log, for a diagnosis
        Path(os.environ["SYNC_WORKER_STDERR"]).write_text(done.stderr)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"sync worker failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(lines[-1])
    if not all(r["success"] for r in result["runs"]):
        print(f"a sync failed; the worker's log:\n{done.stderr[-6000:]}", file=sys.stderr)
    return result


def bench(profile, url: str, mongo, workdir: Path, source_id: str, portal_id: int,
          minimum: dict, args, sandbox_pid: int) -> list[dict]:
    """A full sync, then an incremental one after `args.churn` of every type changed."""
    job = {"source_id": source_id, "portal_id": portal_id, "sandbox_url": url,
           "sources_file": str(workdir / "sources.yaml"), "mongo_uri": mongo.uri,
           "database": mongo.database, "max_in_flight": profile.max_in_flight,
           "limiter_dir": tempfile.mkdtemp(dir=workdir, prefix="limiter-"),
           "workdir": str(workdir), "modes": args.modes,
           "update_fraction": args.churn, "step_processes": args.step_processes}
    machine = CpuMeter(sandbox_pid, mongo)
    result = run_worker(job)
    cpu = machine.since()
    rows = [summarize(run, profile, minimum if run["mode"] == "full" else None)
            for run in result["runs"]]
    # CPU over the runs: what the 2-core machine had, and who used it.
    rows[-1]["machine_cpu"] = cpu
    for row in rows:
        print_row(profile, row)
    return rows


class CpuMeter:
    """CPU seconds used since it was made: the machine's busy time, the sandbox's and the
    MongoDB stand-in's (the test doubles share the cores with the sync)."""

    def __init__(self, sandbox_pid: int, mongo) -> None:
        self._sandbox, self._mongo = psutil.Process(sandbox_pid), mongo
        self._start = time.time()
        self._machine, self._sandbox_cpu = psutil.cpu_times(), self._cpu(self._sandbox)
        self._mongo_cpu = mongo.cpu_seconds()

    @staticmethod
    def _cpu(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    def since(self) -> dict:
        now, wall = psutil.cpu_times(), time.time() - self._start
        busy = ((sum(now) - now.idle - now.iowait)
                - (sum(self._machine) - self._machine.idle - self._machine.iowait))
        out = {"wall_seconds": round(wall, 1), "cpus": psutil.cpu_count(),
               "busy_fraction": round(busy / (wall * psutil.cpu_count()), 3),
               "sandbox_cpu_seconds": round(self._cpu(self._sandbox) - self._sandbox_cpu, 1)}
        if self._mongo_cpu is not None:
            out["mongo_standin_cpu_seconds"] = round(self._mongo.cpu_seconds() - self._mongo_cpu, 1)
        return out


def print_row(profile, row: dict) -> None:
    print(f"\n== end to end, {profile.contacts:,} contacts, {row['mode']} sync: launch to last "
          f"consolidated write {row['end_to_end_seconds']:.1f} s; API-bound minimum "
          f"{row['minimum_seconds']:.1f} s ({row['bound_by']}: {row['ten_second_calls']} calls "
          f"at {profile.budget_per_second:g}/s, search {row['search_calls']} at "
          f"{profile.search_per_second:g}/s); ratio {row['ratio']:.3f}; "
          f"{row['http_429s']} 429s; calls {row['calls']}"
          + (f" ({row['covered_calls']} on the minimum's endpoints = "
             f"{row['calls_over_minimum']:.3f} x its {row['minimum_calls']})"
             if row["minimum_calls"] else "")
          + (f" outside it: {row['calls_outside_minimum']}" if row.get("calls_outside_minimum")
             else "")
          + (f"; 429s by policy {row['sandbox_stats']['rate_limited_by_policy']}"
             if row["http_429s"] else "")
          + f"; daily budget used {row['daily_share']:.3%}; peak RSS of a step process "
          f"{row['peak_step_rss_mb']:.0f} MB (run coordinator {row['coordinator_peak_rss_mb']:.0f} MB)")
    width = max(row["end_to_end_seconds"], 1.0)
    print(f"{'step':<28}{'start s':>8}{'end s':>8}{'calls':>7}{'util':>6}{'RSS MB':>8}  timeline")
    for step in row["timeline"]:
        bar_from = int(step["start"] / width * 50)
        bar_to = max(bar_from + 1, int(step["end"] / width * 50))
        seconds = step["end"] - step["start"]
        calls = step.get("api_calls")
        util = (f"{calls / seconds / profile.budget_per_second:.2f}"
                if calls and seconds > 0 else "-")
        print(f"{step['step']:<28}{step['start']:>8.1f}{step['end']:>8.1f}"
              f"{calls if calls is not None else '-':>7}{util:>6}"
              f"{step['peak_rss_mb'] or 0:>8.0f}  {' ' * bar_from}{'#' * (bar_to - bar_from)}")
    for step in row["timeline"]:
        if step.get("error"):
            print(f"{step['step']} failed: {step['error'][:1500]}")
    print(f"run's own processes: {row['worker_cpu_seconds']:.0f} CPU s")
    if "machine_cpu" in row:
        cpu = row["machine_cpu"]
        print(f"machine over the runs: {cpu['cpus']} CPUs {cpu['busy_fraction']:.0%} busy for "
              f"{cpu['wall_seconds']:.0f} s; sandbox {cpu['sandbox_cpu_seconds']:.0f} CPU s, "
              f"MongoDB stand-in {cpu.get('mongo_standin_cpu_seconds', '-')} CPU s")
