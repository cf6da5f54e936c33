"""Consolidation throughput (documents per second): MongoDB against a counting sink.

    .venv/bin/python benchmarks/consolidation_bench.py                   # 20,000 objects
    .venv/bin/python benchmarks/consolidation_bench.py --objects 2000
    MONGODB_URI=mongodb://... .venv/bin/python benchmarks/consolidation_bench.py

Fills one source's stream collection (the stand-in, or $MONGODB_URI) through
the product's own writer: the object records of a sandbox account (every type
scaled from the sandbox's default proportions, live and archived, rendered as
the API renders them and wrapped by the object_records stage's `as_records`),
then one association sweep (`relationship_records` over that account's
associations, committed with the stage's checkpoint). Then runs
`consolidate_objects` and `consolidate_relationships` twice over that same
stream: first with the consolidated collections replaced by a counting sink
(writes counted and dropped, reads find nothing, as from the empty collection
a first consolidation starts with), then into MongoDB. Stream reads go to the
same server both times. Prints per consolidation the documents, seconds,
docs/s, the benchmark's and the stand-in's CPU seconds and the MongoDB/counting
ratio of seconds: near 1, the stream reads and the Python work bound
consolidation; well above 1, the target's writes do. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pymongo
from mongo_bench import process_cpu_seconds  # sibling modules: benchmarks/ is on sys.path
from pipeline_bench import MongoTarget
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.database import Database

from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.consolidate.relationships import consolidate_relationships
from hubspot_assets.extract.records import as_records
from hubspot_assets.extract.relationships import relationship_records
from hubspot_assets.extract.units import StageReport
from hubspot_assets.mongo.collections import forget_indexes, stream_collection
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.naming import OBJECT_RECORDS, RELATIONSHIPS, SourceNames
from hubspot_assets.stream.records import OBJECT, RELATIONSHIP
from hubspot_assets.sync.checkpoint import Checkpoint
from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.sync.watermarks import WatermarkStore
from hubspot_assets_tests.sandbox import truth
from hubspot_assets_tests.sandbox.config import DEFAULT_SIZES, AccountSpec

HERE = Path(__file__).resolve().parent
SOURCE_ID = "bench"
PORTAL_ID = 7_000_002


# -- filling the stream ---------------------------------------------------------------

def account_for(objects: int):
    """A sandbox account of about `objects` records, in the sandbox's default proportions."""
    scale = objects / sum(DEFAULT_SIZES.values())
    sizes = {t: max(1, round(n * scale)) for t, n in DEFAULT_SIZES.items()}
    return truth.account_from_spec(AccountSpec(PORTAL_ID, "bench-token", sizes=sizes))


class TruthClient:
    """The two client calls the association sweep makes, answered from the account's
    truth in-process (no HTTP: this benchmark times consolidation, not the API)."""

    def __init__(self, account) -> None:
        self.account = account
        self._by_pair: dict[tuple[str, str], dict[str, list[dict]]] = {}
        self._lock = threading.Lock()

    def association_labels(self, from_type: str, to_type: str) -> list[dict]:
        pair, forward = self.account.pair(from_type, to_type)
        return pair.label_specs(forward) if pair else []

    def iter_associations(self, from_type: str, to_type: str, ids):
        with self._lock:  # the sweep's workers ask concurrently
            by_id = self._by_pair.get((from_type, to_type))
            if by_id is None:  # indexed once per pair: the sweep asks 1,000 ids at a time
                by_id = self._by_pair[(from_type, to_type)] = {}
                for from_id, target in truth.iter_associations(self.account, from_type,
                                                               to_type):
                    by_id.setdefault(from_id, []).append(target)
        for from_id in ids:
            for target in by_id.get(from_id, ()):
                yield from_id, target


def object_stream(account, report: StageReport):
    """Every record of every type, live then archived, as the object_records stage yields them."""
    for object_type in truth.object_types(account):
        for listing, archived in (("live", False), ("archived", True)):
            yield from as_records(partial(truth.iter_records, account, object_type, archived),
                                  object_type, ("records",), report, listing, False)


def fill_stream(db: Database, account) -> dict[str, int]:
    """Write the account's object records and one association sweep; returns the counts."""
    listing = StageReport(OBJECT_RECORDS, SOURCE_ID)
    objects = write_stream(db, SOURCE_ID, OBJECT_RECORDS, f"fill-{uuid.uuid4()}",
                           object_stream(account, listing))
    # The sweep goes over each type's live ids, which the stage reads from the
    # consolidated objects; the truth's live records are the same ids.
    pairs = list(account.pairs)
    plan = SyncPlan.full("association sweep: full every run")
    report = StageReport(RELATIONSHIPS, SOURCE_ID)
    run_id = f"fill-{uuid.uuid4()}"
    checkpoint = Checkpoint(plan, WatermarkStore(db), SOURCE_ID, RELATIONSHIPS)

    def ids_of(object_type: str):
        store = account.store(object_type)
        return (str(store.record_id(i)) for i in store.iter_live())

    sweep = write_stream(db, SOURCE_ID, RELATIONSHIPS, run_id, relationship_records(
        TruthClient(account), pairs, ids_of, report, max_workers=2, plan=plan))
    checkpoint.commit(run_id)  # the pairs it completed: the removal pass runs over them
    if listing.errors or report.errors:  # the stage's reports swallow errors; a bench must not
        raise RuntimeError(f"filling the stream failed: {(listing.errors + report.errors)[:3]}")
    stream = stream_collection(db, SOURCE_ID)
    return {"object_documents": stream.count_documents({"kind": OBJECT}),
            "relationship_documents": stream.count_documents({"kind": RELATIONSHIP}),
            "sweep_documents": sweep.count, "records_written": objects.count}


# -- the counting sink ----------------------------------------------------------------

class _Nothing:
    """The cursor of a read from the sink: it holds nothing."""

    def __iter__(self):
        return iter(())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


class _Result:
    """A bulk write's answer as an empty collection gives it: every upsert inserts."""

    def __init__(self, upserted_ids: dict[int, Any]) -> None:
        self.upserted_ids = upserted_ids
        self.upserted_count = len(upserted_ids)
        self.modified_count = self.matched_count = 0


class CountingCollection:
    """A consolidated collection whose writes are counted and dropped.

    Only the calls consolidation makes exist: anything else raises, so a new
    write path cannot silently reach the real collection.
    """

    def __init__(self, real, tally: Counter) -> None:
        self.name, self.full_name = real.name, real.full_name
        self.tally = tally
        self.upserted: set[Any] = set()  # ids an empty store would now hold

    def bulk_write(self, operations, ordered: bool = True):
        upserted = {}
        for i, op in enumerate(operations):
            self.tally[type(op).__name__] += 1
            if isinstance(op, (UpdateOne, ReplaceOne)) and op._upsert:
                upserted[i] = op._filter["_id"]
            elif isinstance(op, InsertOne):
                upserted[i] = op._doc.get("_id")
        self.upserted.update(upserted.values())
        self.tally["bulk_writes"] += 1
        return _Result(upserted)

    def find(self, *args, **kwargs):
        self.tally["reads"] += 1
        return _Nothing()

    def find_one(self, *args, **kwargs):
        self.tally["reads"] += 1
        return None

    def estimated_document_count(self, *args, **kwargs) -> int:
        return len(self.upserted)

    def count_documents(self, *args, **kwargs) -> int:
        return len(self.upserted)

    def create_indexes(self, indexes, *args, **kwargs) -> list[str]:
        return [index.document["name"] for index in indexes]


class CountingDatabase:
    """`db` with some collections replaced by counting sinks, and the documents each
    stream read returns counted (in both runs, so both pay the same for it)."""

    def __init__(self, db: Database, sinks: set[str]) -> None:
        self.real, self._names = db, sinks
        self.sinks: dict[str, CountingCollection] = {}
        self.tally: Counter = Counter()
        self.stream_reads = 0
        self._stream = SourceNames(SOURCE_ID).stream

    def __getitem__(self, name: str):
        if name in self._names:
            return self.sinks.setdefault(name, CountingCollection(self.real[name], self.tally))
        if name == self._stream:
            return _ReadCounting(self.real[name], self)
        return self.real[name]

    get_collection = __getitem__

    def __getattr__(self, name: str):
        return getattr(self.real, name)  # name, client: what the index cache keys on


class _ReadCounting:
    """A stream collection whose `find` cursors count the documents they return."""

    def __init__(self, real, owner: CountingDatabase) -> None:
        self._real, self._owner = real, owner

    def find(self, *args, **kwargs):
        return _CountedCursor(self._real.find(*args, **kwargs), self._owner)

    def __getattr__(self, name: str):
        return getattr(self._real, name)


class _CountedCursor:
    def __init__(self, cursor, owner: CountingDatabase) -> None:
        self._cursor, self._owner = cursor, owner

    def __iter__(self):
        for document in self._cursor:
            self._owner.stream_reads += 1
            yield document

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._cursor.close()


# -- timing ---------------------------------------------------------------------------

def timed(name: str, store: str, run, db: CountingDatabase, target: str,
          server_pid: int | None) -> dict:
    """One consolidation: wall and CPU seconds, documents read and written."""
    reads, server = db.stream_reads, process_cpu_seconds(server_pid)
    cpu, started = time.process_time(), time.perf_counter()
    summary = run(db)
    seconds = time.perf_counter() - started
    if store == "counting":
        written = len(db.sinks[target].upserted)
    else:
        written = db.real[target].count_documents({})
    row = {"consolidation": name, "store": store, "documents": summary.read,
           "written": written, "stream_reads": db.stream_reads - reads,
           "seconds": round(seconds, 3), "docs_per_second": round(summary.read / seconds),
           "bench_cpu_seconds": round(time.process_time() - cpu, 2),
           "summary": summary.metadata()}
    if server is not None:
        row["standin_cpu_seconds"] = round(process_cpu_seconds(server_pid) - server, 2)
    return row


def bench(objects: int) -> dict:
    names = SourceNames(SOURCE_ID)
    targets = {"objects": names.objects, "relationships": names.relationships}
    with MongoTarget() as mongo:
        client = pymongo.MongoClient(mongo.uri)
        try:
            db = client[mongo.database]
            account = account_for(objects)
            started = time.perf_counter()
            filled = fill_stream(db, account)
            filled["fill_seconds"] = round(time.perf_counter() - started, 1)
            pid = mongo.standin.pid if mongo.standin else None
            runs = {
                # full_refresh: the two runs share the watermarks collection.
                "objects": lambda d: consolidate_objects(d, SOURCE_ID, f"bench-{uuid.uuid4()}",
                                                         full_refresh=True),
                "relationships": lambda d: consolidate_relationships(
                    d, SOURCE_ID, f"bench-{uuid.uuid4()}"),
            }
            rows = []
            # Counting first: it leaves the real targets empty, so both runs start from
            # nothing stored (a first consolidation) and fold the same work.
            for store in ("counting", "mongo"):
                # The counting run "ensured" the targets' indexes on the sinks.
                forget_indexes(db)
                wrapped = CountingDatabase(db, set(targets.values()) if store == "counting"
                                           else set())
                for name, run in runs.items():
                    rows.append(timed(name, store, run, wrapped, targets[name], pid))
                    if store == "counting":
                        rows[-1]["sink_operations"] = dict(wrapped.tally)
                        wrapped.tally.clear()
            standin_rss = (round(psutil.Process(pid).memory_info().rss / 2**20, 1)
                           if pid else None)
        finally:
            client.close()
    return {"objects": objects, "server": "stand-in" if pid else "MONGODB_URI",
            "stream": filled, "rows": rows, "ratios": ratios(rows),
            "standin_rss_mb": standin_rss}


def ratios(rows: list[dict]) -> dict[str, float]:
    """Per consolidation: MongoDB seconds over counting-sink seconds."""
    by = {(r["consolidation"], r["store"]): r for r in rows}
    return {name: round(by[(name, "mongo")]["seconds"] / by[(name, "counting")]["seconds"], 2)
            for name, store in by if store == "mongo"}


def print_report(result: dict) -> None:
    stream = result["stream"]
    print(f"stream: {stream['object_documents']:,} object documents, "
          f"{stream['sweep_documents']:,} sweep documents "
          f"({stream['relationship_documents']:,} edges), filled in {stream['fill_seconds']} s; "
          f"server: {result['server']}")
    header = (f"{'consolidation':<15}{'store':<10}{'documents':>10}{'written':>9}{'reads':>8}"
              f"{'seconds':>9}{'docs/s':>9}{'bench CPU s':>12}{'stand-in CPU s':>15}"
              f"{'mongo/counting':>15}")
    print(header)
    print("-" * len(header))
    for r in result["rows"]:
        ratio = result["ratios"][r["consolidation"]] if r["store"] == "mongo" else ""
        print(f"{r['consolidation']:<15}{r['store']:<10}{r['documents']:>10}{r['written']:>9}"
              f"{r['stream_reads']:>8}"
              f"{r['seconds']:>9.2f}{r['docs_per_second']:>9}{r['bench_cpu_seconds']:>12}"
              f"{r.get('standin_cpu_seconds', '-'):>15}{ratio:>15}")
    print("documents: the consolidation's documents read (relationships: the whole sweep, "
          "labels included), the docs/s basis; written: documents in the target afterwards; "
          "reads: stream documents returned to it (relationships into MongoDB: plus one "
          "look-up per edge the removal pass reads back, which the empty sink cannot "
          "return). Stand-in CPU includes serving the stream reads. mongo/counting: seconds.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=20_000,
                        help="records in the account, every type scaled alike (default 20000)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default "
                        "benchmarks/results/consolidation_bench-<time>.json)")
    args = parser.parse_args(argv)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = args.out or HERE / "results" / f"consolidation_bench-{stamp}.json"
    result = bench(args.objects)
    print_report(result)
    report = {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "python": sys.version.split()[0], "cpus": os.cpu_count(), "result": result}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
