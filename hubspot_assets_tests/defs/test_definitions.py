"""The code location loads as workspace.yaml declares it, with the shape the design card fixes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from hubspot_assets.defs.assets import CONSOLIDATION_ASSETS, STAGE_ASSETS
from hubspot_assets.defs.resources import settings_from_environment

ROOT = Path(__file__).resolve().parents[2]


def test_dagster_definitions_validate_passes_on_the_workspace():
    env = {**os.environ, "HUBSPOT_SOURCES_FILE": str(ROOT / "sources.example.yaml"),
           "MONGODB_URI": "mongodb://127.0.0.1:9"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
         "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_six_stage_assets_form_one_lineage_graph_with_the_house_settings():
    from hubspot_assets.defs.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {a.key for a in STAGE_ASSETS}
    assert len(keys) == 7
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in keys}
    assert parents == {
        "custom_object_schemas": set(),
        "object_download_list": {"custom_object_schemas"},
        "object_records": {"object_download_list"},
        "event_types": set(),
        # Beside the records: its per-object fallback waits for them.
        "events": {"event_types"},
        "relationships": {"object_download_list", "consolidated_objects"},
        "property_history": {"object_download_list", "object_records"},
    }
    for key in keys:
        node = graph.get(key)
        assert node.kinds == {"hubspot", "mongodb"}
        assert node.owners and node.group_name == "hubspot"
        assert node.code_version and node.description
        assert node.partitions_def.name == "hubspot_sources"
    consolidation = {a.key.to_user_string(): a for a in CONSOLIDATION_ASSETS}
    assert {k: {p.to_user_string() for p in graph.get(a.key).parent_keys}
            for k, a in consolidation.items()} == {
        "consolidated_objects": {"object_records"},
        "consolidated_relationships": {"relationships", "consolidated_objects"},
        "consolidated_reference": {"object_download_list", "object_records", "relationships",
                                   "property_history"},
        "consolidated_marketing": {"object_records", "events"},
    }
    for asset in CONSOLIDATION_ASSETS:
        node = graph.get(asset.key)
        assert node.kinds == {"mongodb"} and node.group_name == "hubspot"
        assert node.partitions_def.name == "hubspot_sources"
    checks = {k.name for k in graph.asset_check_keys}
    assert checks == {"units_complete", "fresh"}
    # Each stage check lives with its asset: one step per asset, not one more per check.
    for asset in STAGE_ASSETS:
        assert {k.name for k in asset.check_keys} == {"units_complete"}
    assert {k.asset_key.to_user_string() for k in graph.asset_check_keys if k.name == "fresh"} \
        == {"consolidated_objects", "consolidated_relationships", "consolidated_reference",
            "consolidated_marketing"}
    assert {j.name for j in defs.jobs} >= {"hubspot_sync", "hubspot_full_resync"}
    sensors = {s.name for s in defs.sensors}
    assert sensors == {"hubspot_sources_sensor", "hubspot_freshness_sensor",
                       "job_history_on_success", "job_history_on_failure",
                       "job_history_on_canceled"}
    assert [s.name for s in defs.schedules] == ["hubspot_sync_schedule"]
    for asset in STAGE_ASSETS:
        assert asset.op.pool == "hubspot_api"
        assert asset.op.retry_policy.max_retries == 2
    assert dg.Definitions.validate_loadable(defs) is None


def test_client_knobs_come_from_the_environment_and_bad_values_are_named():
    probe = ("from hubspot_assets.defs.definitions import defs; "
             "print(defs.resources['hubspot'].settings.two_ended_after_pages)")
    env = {**os.environ, "HUBSPOT_SOURCES_FILE": str(ROOT / "sources.example.yaml"),
           "MONGODB_URI": "mongodb://127.0.0.1:9"}

    def run(value: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                              text=True, timeout=120,
                              env={**env, "HUBSPOT_TWO_ENDED_AFTER_PAGES": value})

    assert run("0").stdout.strip().splitlines()[-1] == "0"
    assert run("").stdout.strip().splitlines()[-1] == "5"  # the client's default
    for value, problem in (("lots", "valid integer"), ("-1", "greater than or equal to 0")):
        bad = run(value)
        assert bad.returncode != 0
        assert f"HUBSPOT_TWO_ENDED_AFTER_PAGES={value!r}: " in bad.stderr
        assert problem in bad.stderr and "unset it for the default" in bad.stderr


@pytest.mark.parametrize("value, problem", [("0", "greater than or equal to 1"),
                                            ("-1", "greater than or equal to 1"),
                                            ("abc", "valid integer")])
def test_a_bad_max_in_flight_is_named_with_the_fix(value, problem):
    with pytest.raises(ValueError) as raised:
        settings_from_environment({"HUBSPOT_MAX_IN_FLIGHT": value})
    message = str(raised.value)
    assert f"HUBSPOT_MAX_IN_FLIGHT={value!r}: " in message and problem in message
    assert "fix the value or unset it for the default" in message


def test_a_bad_max_in_flight_fails_the_code_location_load_at_once_and_clearly():
    started = time.monotonic()
    loaded = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate",
         "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HUBSPOT_SOURCES_FILE": str(ROOT / "sources.example.yaml"),
             "MONGODB_URI": "mongodb://127.0.0.1:9", "HUBSPOT_MAX_IN_FLIGHT": "0"})
    assert loaded.returncode != 0 and time.monotonic() - started < 60
    output = loaded.stdout + loaded.stderr
    assert "HUBSPOT_MAX_IN_FLIGHT='0': Input should be greater than or equal to 1" in output
