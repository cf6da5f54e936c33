"""The code location's own `hubspot_sync` job, run as a deployment runs it, timed end to end.

Started by `pipeline_bench.py --end-to-end` as a child process. Runs the job
with the executor the code location declares (step processes forked from a
preloaded server, every one under the shared limiter) on a persistent Dagster
instance: a full sync, then, for each later mode, one sandbox step that
changes `update_fraction` of every type's records and an incremental sync.
Prints one JSON line: per run the launch time, every step's start and end,
the last consolidated write, the sandbox's counters, and the peak RSS of
each step process (the processes doing the work).

    sync_worker.py '{"sources_file": ..., "source_id": ..., "mongo_uri": ..., ...}'
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

CONSOLIDATION_PREFIX = "consolidated_"


class ProcessTreeSampler(threading.Thread):
    """Peak RSS of this process and of every descendant (the step processes), by pid."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True, name="process-tree-sampler")
        self.interval = interval
        self.peaks: dict[int, float] = {}
        self.cpu: dict[int, float] = {}  # CPU seconds of each process, last seen
        self._halt = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._halt.is_set():
            for process in [me, *me.children(recursive=True)]:
                try:
                    rss = process.memory_info().rss / 2**20
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self.peaks[process.pid] = max(rss, self.peaks.get(process.pid, 0.0))
                self.cpu[process.pid] = times.user + times.system
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _environment(job: dict) -> None:
    """What a deployment sets, before the code location is imported."""
    os.environ.update({
        "MONGODB_URI": job["mongo_uri"], "MONGODB_DATABASE": job["database"],
        "HUBSPOT_SOURCES_FILE": job["sources_file"], "HUBSPOT_LIMITER_BACKEND": "sqlite",
        "HUBSPOT_LIMITER_DIR": job["limiter_dir"],
        "HUBSPOT_MAX_IN_FLIGHT": str(job["max_in_flight"]),
    })
    if job.get("step_processes"):
        os.environ["HUBSPOT_STEP_PROCESSES"] = str(job["step_processes"])


def hubspot_sync():
    """The job as the code location defines it (a module-level function: Dagster
    reconstructs it by name in every step process)."""
    from hubspot_assets.defs.definitions import defs

    return defs.resolve_job_def("hubspot_sync")


def run_sync(instance, job: dict, mode: str, sampler: ProcessTreeSampler) -> dict:
    import dagster as dg

    from hubspot_assets_tests.harness.cli_run import step_timeline

    url = job["sandbox_url"]
    requests.post(f"{url}/_sandbox/stats/reset").raise_for_status()
    sampler.peaks.clear()
    cpu_before = dict(sampler.cpu)
    launched = time.time()
    result = dg.execute_job(dg.reconstructable(hubspot_sync), instance=instance,
                            tags={"dagster/partition": job["source_id"]})
    returned = time.time()
    steps = step_timeline(instance, result.run_id)
    if os.environ.get("SYNC_WORKER_EVENTS"):  # every event, for a diagnosis
        with open(os.environ["SYNC_WORKER_EVENTS"], "a") as out:
            for entry in instance.all_logs(result.run_id):
                kind = entry.dagster_event.event_type_value if entry.dagster_event else "log"
                out.write(f"{entry.timestamp - launched:8.3f} {entry.step_key or '-':<30} "
                          f"{kind:<28} {(entry.user_message or '')[:90]}\n")
    for step in steps.values():
        step["peak_rss_mb"] = round(sampler.peaks.get(step.get("pid"), 0.0), 1)
    consolidated = [s["end"] for name, s in steps.items()
                    if name.startswith(CONSOLIDATION_PREFIX) and "end" in s]
    return {
        "mode": mode, "success": result.success, "launched": launched, "returned": returned,
        "last_consolidated_write": max(consolidated) if consolidated else None,
        "steps": steps, "sandbox_stats": requests.get(f"{url}/_sandbox/stats").json(),
        "coordinator_peak_rss_mb": round(sampler.peaks.get(os.getpid(), 0.0), 1),
        # This run's CPU in the run's processes (coordinator, fork server, steps).
        "worker_cpu_seconds": round(sum(cpu - cpu_before.get(pid, 0.0)
                                        for pid, cpu in sampler.cpu.items()), 1),
    }


def main(job: dict) -> dict:
    _environment(job)
    import dagster as dg

    from hubspot_assets.defs.partitions import source_partitions
    from hubspot_assets.runtime import tune_process

    tune_process()  # as the code location does when it loads
    sampler = ProcessTreeSampler()
    sampler.start()
    runs = []
    with tempfile.TemporaryDirectory(dir=job.get("workdir")) as home, \
            dg.instance_for_test(temp_dir=home) as instance:
        instance.add_dynamic_partitions(source_partitions.name, [job["source_id"]])
        for mode in job["modes"]:
            if mode != "full":
                requests.post(f"{job['sandbox_url']}/_sandbox/advance/{job['portal_id']}",
                              json={"update_fraction": job["update_fraction"]}
                              ).raise_for_status()
            runs.append(run_sync(instance, job, mode, sampler))
            if not runs[-1]["success"]:
                break
    sampler.stop()
    return {"runs": runs}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
