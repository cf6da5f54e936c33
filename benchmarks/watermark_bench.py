"""What watermark checking and record stubbing cost.

    .venv/bin/python benchmarks/watermark_bench.py                 # stand-in, 50k records
    .venv/bin/python benchmarks/watermark_bench.py --records 200000
    MONGODB_URI=mongodb://... .venv/bin/python benchmarks/watermark_bench.py

Writes `--records` contacts as one full run and a tenth of them as an
incremental run, timing after each the evidence a commit records
(`stream_evidence`) and the check the next run makes (`stream_problem`); then
writes the same records again with one record in every 1,000 that BSON cannot
encode, against a clean pass, to show what stubbing costs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from hubspot_assets.mongo.connection import get_database  # noqa: E402
from hubspot_assets.mongo.writer import write_stream  # noqa: E402
from hubspot_assets.stream.records import OBJECT, StreamRecord  # noqa: E402
from hubspot_assets.sync.watermarks import WatermarkStore  # noqa: E402

SOURCE, STAGE = "bench", "object_records"


def contacts(count: int, version: str = "v1", bad_every: int = 0):
    for i in range(count):
        properties = {f"p{n}": f"{version}-{i}-{n}" for n in range(20)}
        if bad_every and i % bad_every == 0:
            properties["bad\x00name"] = "x"  # BSON refuses NUL in keys
        yield StreamRecord(OBJECT, "contacts", str(i), {
            "id": str(i), "properties": properties, "archived": False,
            "updatedAt": "2026-02-01T00:00:00.000Z"}, None)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI")
    if uri:
        standin = nullcontext(None)
    else:
        from hubspot_assets_tests.mongo_standin.process import StandinProcess
        standin = StandinProcess()
    with standin as server:
        db = get_database(uri or server.uri, f"bench_{uuid.uuid4().hex[:8]}")
        store = WatermarkStore(db)
        try:
            for run_id, count, version in (("full", args.records, "v1"),
                                           ("incremental", args.records // 10, "v2")):
                _, write_ms = timed(write_stream, db, SOURCE, STAGE, run_id,
                                    contacts(count, version))
                evidence, evidence_ms = timed(store.stream_evidence, SOURCE, STAGE, run_id)
                store.commit(SOURCE, STAGE, {"units": {}, "stream": evidence})
                problem, check_ms = timed(store.stream_problem, SOURCE, STAGE,
                                          store.load(SOURCE, STAGE))
                assert problem is None, problem
                print(f"{run_id:>11} run of {count:>7,} records: write {write_ms:8.0f} ms, "
                      f"commit evidence {evidence_ms:6.1f} ms, next run's check "
                      f"{check_ms:6.1f} ms")
            for label, bad_every in (("clean", 0), ("1 bad in 1,000", 1000)):
                summary, write_ms = timed(write_stream, db, SOURCE, STAGE, f"again-{bad_every}",
                                          contacts(args.records, "v3", bad_every))
                print(f"{label:>15}: {args.records:,} records written in {write_ms:.0f} ms, "
                      f"{len(summary.stubbed)} stubs")
        finally:
            db.client.drop_database(db.name)


if __name__ == "__main__":
    main()
