"""The pipeline benchmark's quick mode runs end to end and reports sane numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_bench.py"
STAGES = {"custom_object_schemas", "object_download_list", "object_records", "event_types",
          "events", "relationships"}


def test_quick_mode_reports_every_stage_at_or_above_the_minimum(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert {run["sink"] for run in result["runs"]} == {"mongo", "counting"}
    for run in result["runs"]:
        assert run["success"]
        assert run["sandbox_stats"]["rate_limited"] == 0
        assert run["peak_rss_mb"] > 0
        rows = {row["stage"]: row for row in run["rows"]}
        assert set(rows) >= STAGES | {"total"}  # plus consolidation, where the job has it
        for name in STAGES:
            row = rows[name]
            assert row["status"] == "success" and row["errors"] == 0
            assert row["http_429s"] == 0
            assert row["seconds"] > 0 and row["items"] > 0
            for endpoint, minimum in row["minimum_by_endpoint"].items():
                assert row["calls_by_endpoint"].get(endpoint, 0) >= minimum, (name, endpoint)
        total = rows["total"]
        assert total["calls"] == run["sandbox_stats"]["total"]
        assert total["calls"] >= total["minimum_calls"] > 0
        assert 0 < total["utilization"]
    mongo = next(run for run in result["runs"] if run["sink"] == "mongo")
    assert {row["stage"]: row["written"] for row in mongo["rows"]}["object_records"] > 0
    assert {c["stage"] for c in result["sink_comparison"]} >= STAGES


def test_end_to_end_mode_times_launch_to_last_consolidated_write(tmp_path):
    out = tmp_path / "e2e.json"
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--end-to-end", "--out",
                           str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.read_text())["results"]
    full, incremental = result["end_to_end"]
    assert (full["mode"], incremental["mode"]) == ("full", "incremental")
    for row in (full, incremental):
        assert row["success"] and row["http_429s"] == 0
        steps = {step["step"]: step for step in row["timeline"]}
        assert STAGES <= set(steps) and "consolidated_relationships" in steps
        last = max(step["end"] for name, step in steps.items() if name.startswith("consolidated_"))
        assert row["end_to_end_seconds"] == pytest.approx(last, abs=0.02)
        # The minimum is the larger budget's seconds; the run cannot beat it by much
        # (a rolling window lets the first window's calls go at once).
        bound = row["bound_seconds"]
        assert row["minimum_seconds"] == max(bound.values()) > 0
        assert row["ratio"] == pytest.approx(row["end_to_end_seconds"] / row["minimum_seconds"],
                                             abs=0.01)
        assert row["ratio"] > 0.5
        assert row["calls"] == row["ten_second_calls"] + row["search_calls"]
        # Stages overlap: events beside object_records, in processes of their own.
        assert steps["events"]["start"] < steps["object_records"]["end"]
        assert all(step["peak_rss_mb"] > 0 for step in steps.values())
    assert full["covered_calls"] >= full["minimum_calls"] > 0
    assert incremental["calls"] < full["calls"]
    assert incremental["machine_cpu"]["sandbox_cpu_seconds"] > 0
