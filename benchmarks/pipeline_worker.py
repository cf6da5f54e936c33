"""One pipeline run in this process: every asset for one source, timed per stage.

Started by `pipeline_bench.py` as a child process so that its peak RSS is the
pipeline's alone. Reads a JSON job on the command line, prints one JSON line:
per-stage wall time, Dagster metadata (counts, API usage) and time spent in
MongoDB bulk writes; the process's peak RSS and an RSS timeline (with malloc's
in-use and free-but-kept memory and CPU seconds; see `RssSampler` for the
tracemalloc and sampling-interval environment variables).

    pipeline_worker.py '{"sources_file": ..., "source_id": ..., "sink": "mongo"|"counting", ...}'

Benchmark-only instrumentation: MongoDB write time is measured by wrapping
`mongo.writer._flush` in this process.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys
import threading
import time
import tracemalloc
from collections import defaultdict

import dagster as dg
import psutil
from counting_sink import CountingSinkIOManager, SpilledStream, spill_path

from hubspot_assets.defs import assets, jobs
from hubspot_assets.defs.assets.stage import STREAM_IO_MANAGER
from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource, HubSpotSettings, MongoResource
from hubspot_assets.extract.relationships import association_pairs, relationship_records
from hubspot_assets.extract.units import StageReport
from hubspot_assets.mongo import writer
from hubspot_assets.runtime import tune_process
from hubspot_assets.stream.records import OBJECT

# Seconds spent inside MongoDB bulk writes, per stage (the writer's helper thread).
_WRITE_SECONDS: dict[str, float] = defaultdict(float)


def _timed_flush(original):
    def flush(collection, batch, summary):
        started = time.perf_counter()
        try:
            return original(collection, batch, summary)
        finally:
            _WRITE_SECONDS[summary.stage] += time.perf_counter() - started
    return flush


def _malloc_info():
    """glibc's `mallinfo2` (bytes in use, free inside the heap), or None off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    mallinfo2.restype = MallInfo2

    def read() -> tuple[float, float]:
        info = mallinfo2()
        return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20
    return read


class RssSampler(threading.Thread):
    """RSS of this process every `interval` seconds, for per-stage peaks.

    Beside RSS each sample holds what malloc has handed out and what it keeps
    free inside its heaps (RSS far above the former means fragmentation or
    memory outside malloc), and, with $PIPELINE_WORKER_TRACEMALLOC=<frames>,
    the memory Python traces; a tracemalloc snapshot is then taken every
    $PIPELINE_WORKER_SNAPSHOT_SECONDS (default 20) to name the largest owners.
    $PIPELINE_WORKER_RSS_INTERVAL sets the sampling interval (default 0.5 s).
    """

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        # (time, RSS MB, malloc in use MB, malloc free MB, traced MB, CPU seconds)
        self.samples: list[tuple] = []
        self.snapshots: list[tuple[float, float, list[str]]] = []
        self._halt = threading.Event()
        self._process = psutil.Process()
        self._malloc = _malloc_info()
        self._snapshot_every = float(os.environ.get("PIPELINE_WORKER_SNAPSHOT_SECONDS", 20))

    def run(self) -> None:
        next_snapshot = time.time() + self._snapshot_every
        while not self._halt.is_set():
            now = time.time()
            used, free = self._malloc() if self._malloc else (None, None)
            traced = (tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing()
                      else None)
            cpu = self._process.cpu_times()
            self.samples.append((now, self._process.memory_info().rss / 2**20, used, free, traced,
                                 cpu.user + cpu.system))
            if traced is not None and now >= next_snapshot:
                self.snapshots.append((now, traced, _top_allocations(tracemalloc.take_snapshot())))
                next_snapshot = time.time() + self._snapshot_every
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak_between(self, start: float, end: float) -> float | None:
        inside = [s[1] for s in self.samples if start <= s[0] <= end]
        return round(max(inside), 1) if inside else None

    def memory_between(self, start: float, end: float) -> dict:
        """Malloc and tracemalloc figures at the stage's RSS peak, its CPU seconds, and
        the largest traced owners in its snapshot with the most traced memory."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return {}
        peak = max(inside, key=lambda s: s[1])
        out = {"malloc_used_mb": _round(peak[2]), "malloc_free_mb": _round(peak[3]),
               "traced_mb": _round(peak[4]), "cpu_seconds": _round(inside[-1][5] - inside[0][5])}
        snapshots = [s for s in self.snapshots if start <= s[0] <= end]
        if snapshots:
            _, traced, top = max(snapshots, key=lambda s: s[1])
            out["snapshot_traced_mb"] = _round(traced)
            out["top_allocations"] = top
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _top_allocations(snapshot, limit: int = 25) -> list[str]:
    group_by = "traceback" if tracemalloc.get_traceback_limit() > 1 else "lineno"
    stats = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    return [f"{s.size / 2**20:.1f} MB in {s.count} blocks: "
            + " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in s.traceback)
            for s in stats.statistics(group_by)[:limit]]


def _plain(value):
    """Dagster metadata values as JSON-able data."""
    value = getattr(value, "value", value)
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    return str(value)


def _selection(job: dict) -> tuple[list, list | None, dict]:
    """The assets, the selection to run and its run config.

    `all`: every asset of the code location (stages and, where present,
    consolidation), as `hubspot_sync` runs them. `stages`: only the HubSpot
    stages, in full (`full_refresh` wherever the code location offers it).
    """
    every = list(getattr(assets, "ALL_ASSETS", assets.STAGE_ASSETS))
    if job["assets"] == "all":
        return every, None, {}
    stages = [a.key for a in assets.STAGE_ASSETS
              if not (job["relationships_direct"] and a.key.path[-1] == "relationships")]
    names = {key.to_user_string() for key in stages}
    incremental = [n for n in getattr(jobs, "INCREMENTAL_ASSETS", ()) if n in names]
    return every, stages, {"ops": {n: {"config": {"full_refresh": True}} for n in incremental}}


def relationships_direct(job: dict, hubspot: HubSpotResource) -> dict:
    """The relationships stage's own logic, outside Dagster, over the spilled object ids.

    For counting-sink runs without MongoDB: where the relationships asset reads
    its ids from MongoDB (the consolidated objects), the ids come from the
    sink's spill of object_records instead; API calls and memory are the same.
    """
    source = hubspot.source(job["source_id"])
    client = hubspot.open_client(source)
    report = StageReport("relationships", source.id)

    def spilled(asset: str) -> SpilledStream:
        return SpilledStream(spill_path(job["spill_dir"], dg.AssetKey(asset), source.id))

    def ids_of(object_type: str):
        documents = spilled("object_records").filter(kind=OBJECT, object_type=object_type)
        return (d["hubspot_id"] for d in documents if not d["data"]["archived"])

    started = time.time()
    try:
        pairs = association_pairs(d["data"] for d in spilled("object_download_list"))
        count = sum(1 for _ in relationship_records(client, pairs, ids_of, report,
                                                    max_workers=job["max_in_flight"]))
    finally:
        client.close()
    stats = client.stats.snapshot()
    return {"start": started, "end": time.time(), "status": "success", "direct": True,
            "metadata": {"relationships": count, "dagster/partition_row_count": count,
                         "api_calls": stats["calls_total"], "http_429s": stats["rate_limited_429s"],
                         "retries": stats["retries"],
                         "limiter_wait_seconds": stats["limiter_wait_seconds"],
                         "errors": report.error_count, "api_usage": stats}}


def run(job: dict) -> dict:
    database = job.get("database", "hubspot")
    if job["sink"] == "mongo":
        sink = MongoStreamIOManager(uri=job["mongo_uri"], database=database)
        writer._flush = _timed_flush(writer._flush)
    else:
        sink = CountingSinkIOManager(spill_dir=job["spill_dir"], read_database=database,
                                     read_uri=job["mongo_uri"] if job["read_mongo"] else None)
    resources = {
        "hubspot": HubSpotResource(sources_file=job["sources_file"], settings=HubSpotSettings(
            limiter_backend=job["limiter_backend"], limiter_dir=job["limiter_dir"],
            max_in_flight=job["max_in_flight"])),
        STREAM_IO_MANAGER: sink,
        "mongo": MongoResource(uri=job["mongo_uri"], database=database),
    }
    every, selection, run_config = _selection(job)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(source_partitions.name, [job["source_id"]])
    frames = int(os.environ.get("PIPELINE_WORKER_TRACEMALLOC", 0))
    if frames:
        tracemalloc.start(frames)
    sampler = RssSampler(float(os.environ.get("PIPELINE_WORKER_RSS_INTERVAL", 0.5)))
    sampler.start()
    started = time.time()
    result = dg.materialize(every, selection=selection, partition_key=job["source_id"],
                            resources=resources, instance=instance, run_config=run_config,
                            raise_on_error=False)
    direct = relationships_direct(job, resources["hubspot"]) if job["relationships_direct"] else None
    wall = time.time() - started
    sampler.stop()

    stages: dict[str, dict] = defaultdict(dict)
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        stage = stages[event.step_key]
        kind = event.event_type_value
        if kind == "STEP_START":
            stage["start"] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            stage["end"] = entry.timestamp
            stage["status"] = "success" if kind == "STEP_SUCCESS" else "failure"
            if kind == "STEP_FAILURE":
                stage["error"] = str(event.event_specific_data.error.message)[:2000]
        elif kind == "ASSET_MATERIALIZATION":
            metadata = event.event_specific_data.materialization.metadata
            stage["metadata"] = {k: _plain(v) for k, v in metadata.items()}
    if direct:
        stages["relationships"] = direct
    for name, stage in stages.items():
        if "start" in stage and "end" in stage:
            stage["seconds"] = round(stage["end"] - stage["start"], 3)
            stage["peak_rss_mb"] = sampler.peak_between(stage["start"], stage["end"])
            stage["memory"] = sampler.memory_between(stage["start"], stage["end"])
        stage["write_seconds"] = round(_WRITE_SECONDS.get(name, 0.0), 3)
    return {
        "success": result.success,
        "wall_seconds": round(wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stages": stages,
        # (seconds since start, RSS MB, malloc in use MB, malloc free MB, traced MB, CPU s)
        "rss_timeline": [(round(t - started, 1), *(_round(v) for v in rest))
                         for t, *rest in sampler.samples],
    }


if __name__ == "__main__":
    tune_process()  # as the code location does when it loads
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
