"""The consolidation benchmark runs at a tiny size and its numbers add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "consolidation_bench.py"


def test_counting_sink_and_mongodb_consolidate_the_same_stream(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--objects", "400", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())["result"]
    stream = result["stream"]
    assert stream["object_documents"] > 0 and stream["relationship_documents"] > 0
    rows = {(r["consolidation"], r["store"]): r for r in result["rows"]}
    assert set(rows) == {(c, s) for c in ("objects", "relationships")
                         for s in ("counting", "mongo")}
    held = {"objects": stream["object_documents"],
            "relationships": stream["relationship_documents"]}
    read = {"objects": stream["object_documents"], "relationships": stream["sweep_documents"]}
    for name in ("objects", "relationships"):
        counting, mongo = rows[(name, "counting")], rows[(name, "mongo")]
        # Every version is new to an empty target: one upsert each, one document each.
        assert counting["written"] == mongo["written"] == held[name]
        assert counting["sink_operations"]["UpdateOne"] == held[name]
        assert counting["documents"] == mongo["documents"] == read[name]
        assert counting["stream_reads"] == read[name]
        assert counting["docs_per_second"] > 0 and mongo["docs_per_second"] > 0
        assert mongo["standin_cpu_seconds"] >= 0
        assert result["ratios"][name] > 0
    # Objects read the stream alike; relationships into MongoDB also look up, in the
    # stream, each edge its removal pass reads back from the target.
    assert rows[("objects", "mongo")]["stream_reads"] == read["objects"]
    assert rows[("relationships", "mongo")]["stream_reads"] == (read["relationships"]
                                                                + held["relationships"])
    assert "mongo/counting" in done.stdout
