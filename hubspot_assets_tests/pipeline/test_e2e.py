"""End to end through Dagster's own processes: GraphQL backfills, daemon-launched runs.

One stack per session (see fixtures/services.py). The sandbox's ground truth
(`hubspot_assets_tests.sandbox.truth`, rebuilt here from the same account specs)
says what each source's stream collection must hold after a full sync.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from hubspot_assets_tests.fixtures.services import E2E_LIMITS, REVOKED_SOURCE
from hubspot_assets_tests.harness.instance import HUBSPOT_POOL
from hubspot_assets_tests.harness.sources_file import LocalSource
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import AccountSpec, truth

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: The six stages of docs/contracts.md; the backfills select the whole `hubspot` group.
STAGES = {"custom_object_schemas", "object_download_list", "object_records", "event_types",
          "events", "relationships"}
SYNCED = ["alpha", "beta", "gamma"]
SCOPED = "scoped"
# ~3 min on an idle 2-core machine; much more when other work shares the CPUs.
BACKFILL_TIMEOUT = float(os.environ.get("E2E_BACKFILL_TIMEOUT", "600"))
HISTORY_TIMEOUT = 150.0  # run status sensors tick every 30 s
SENSOR_TIMEOUT = 150.0


# -- expectations from the sandbox's ground truth ------------------------------------------

def sandbox_account(account: dict):
    """The account as the sandbox built it (same spec, same seed: same data)."""
    spec = AccountSpec(**{**account, "denied_types": frozenset(account.get("denied_types", ()))})
    return truth.account_from_spec(spec)


def stream_ids(mongo, source_id: str) -> list[str]:
    return sorted(d["_id"] for d in mongo[f"source_{source_id}_stream"].find({}, {"_id": 1}))


def assert_complete(mongo, source_id: str, account: dict) -> None:
    """Every record, archived record, event and association, each version exactly once."""
    result = compare_stream(mongo[f"source_{source_id}_stream"], sandbox_account(account))
    assert result.expected > 0
    assert result.complete, f"{source_id}: " + "; ".join(result.problems[:10])
    versions = Counter(
        (d["kind"], d.get("object_type"), d["hubspot_id"], d["data_hash"])
        for d in mongo[f"source_{source_id}_stream"].find(
            {}, {"kind": 1, "object_type": 1, "hubspot_id": 1, "data_hash": 1}))
    duplicates = [v for v, n in versions.items() if n > 1]
    assert not duplicates, f"{source_id}: versions stored more than once: {duplicates[:5]}"


def wait_history(mongo, run_ids: list[str], timeout: float = HISTORY_TIMEOUT) -> dict[str, dict]:
    """The job_history documents of `run_ids`, once all exist."""
    deadline = time.monotonic() + timeout
    while True:
        docs = {d["_id"]: d for d in mongo["job_history"].find({"_id": {"$in": run_ids}})}
        if len(docs) == len(run_ids) or time.monotonic() > deadline:
            missing = sorted(set(run_ids) - set(docs))
            assert not missing, f"no job_history document after {timeout:.0f}s for runs {missing}"
            return docs
        time.sleep(2)


def by_partition(runs: list[dict]) -> dict[str, dict]:
    return {run["tags"]["dagster/partition"]: run for run in runs}


# -- the backfills, launched together so their runs share the wall time ------------------

@pytest.fixture(scope="module")
def group_assets(e2e_stack) -> list[str]:
    """What the UI's "Materialize all" on the hubspot group page selects."""
    assets = e2e_stack.graphql.group_asset_keys("hubspot")
    assert STAGES <= set(assets), assets
    return assets


@pytest.fixture(scope="module")
def launched(e2e_stack, group_assets) -> dict[str, str]:
    gql = e2e_stack.graphql
    return {
        "main": gql.launch_partition_backfill(SYNCED, group_assets, title="e2e: three sources"),
        "edge": gql.launch_partition_backfill([SCOPED, REVOKED_SOURCE], group_assets,
                                              title="e2e: missing scope, bad token"),
    }


@pytest.fixture(scope="module")
def main_backfill(e2e_stack, launched):
    return e2e_stack.graphql.wait_backfill(launched["main"], timeout=BACKFILL_TIMEOUT)


@pytest.fixture(scope="module")
def edge_backfill(e2e_stack, launched):
    return e2e_stack.graphql.wait_backfill(launched["edge"], timeout=BACKFILL_TIMEOUT)


# -- tests ---------------------------------------------------------------------------------

def test_sources_sensor_adds_a_source_added_to_the_file(e2e_stack, launched):
    # First in the module: it waits for a sensor tick while the backfills run.
    base_url = e2e_stack.settings.sources[0].base_url
    added = LocalSource("delta", "e2e-delta-token", base_url=base_url, limits=E2E_LIMITS)
    e2e_stack.write_sources([*e2e_stack.settings.sources, added])
    deadline = time.monotonic() + SENSOR_TIMEOUT
    while added.id not in e2e_stack.graphql.partition_keys("custom_object_schemas"):
        assert time.monotonic() < deadline, (
            f"hubspot_sources_sensor did not add partition {added.id} in {SENSOR_TIMEOUT:.0f}s")
        time.sleep(2)
    # run_new_sources is false in the e2e file: a partition, but no run.
    assert e2e_stack.graphql.runs({"dagster/partition": added.id}) == []


def test_backfill_over_three_sources_completes(e2e_stack, main_backfill):
    backfill, runs = main_backfill
    runs_by_partition = by_partition(runs)
    assert sorted(runs_by_partition) == sorted(SYNCED), "one run per partition"
    failures = {p: e2e_stack.graphql.run_failure_messages(r["runId"])
                for p, r in runs_by_partition.items() if r["status"] != "SUCCESS"}
    assert not failures, f"runs failed: {failures}"
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill


def test_hubspot_api_pool_is_limited(e2e_stack, main_backfill):
    # The limit the stack set at startup is the one in force once the stages have run.
    assert e2e_stack.graphql.pool_limit(HUBSPOT_POOL) == e2e_stack.settings.pool_limit


@pytest.mark.parametrize("source_id", SYNCED)
def test_stream_matches_ground_truth(e2e_mongo, e2e_accounts, main_backfill, source_id):
    assert_complete(e2e_mongo, source_id, e2e_accounts[source_id])


def test_job_history_has_one_document_per_run(e2e_mongo, main_backfill, group_assets):
    _, runs = main_backfill
    history = wait_history(e2e_mongo, [run["runId"] for run in runs])
    for run in runs:
        doc = history[run["runId"]]
        assert doc["status"] == "SUCCESS"
        assert doc["source_id"] == run["tags"]["dagster/partition"]
        assert set(doc["stages"]) == set(group_assets), doc["stages"].keys()
        assert doc["api_calls"] > 0


def test_rerunning_a_partition_adds_no_duplicate(e2e_stack, e2e_mongo, e2e_accounts,
                                                 main_backfill, group_assets):
    before = stream_ids(e2e_mongo, "alpha")
    gql = e2e_stack.graphql
    backfill_id = gql.launch_partition_backfill(["alpha"], group_assets, title="e2e: re-run alpha")
    _, runs = gql.wait_backfill(backfill_id, timeout=BACKFILL_TIMEOUT)
    assert [r["status"] for r in runs] == ["SUCCESS"], gql.run_failure_messages(runs[0]["runId"])
    assert stream_ids(e2e_mongo, "alpha") == before
    assert_complete(e2e_mongo, "alpha", e2e_accounts["alpha"])
    # The new run has its own history document; the first one is still there.
    history = wait_history(e2e_mongo, [runs[0]["runId"]])
    assert history[runs[0]["runId"]]["source_id"] == "alpha"
    # One document per finished run of alpha (the freshness sensor's check runs included).
    alpha_runs = [r["runId"] for r in gql.runs({"dagster/partition": "alpha"})
                  if r["status"] in ("SUCCESS", "FAILURE")]
    docs = wait_history(e2e_mongo, alpha_runs)
    assert {d["source_id"] for d in docs.values()} == {"alpha"} and len(docs) == len(alpha_runs)


def test_source_missing_a_scope_skips_that_type(e2e_stack, e2e_mongo, e2e_accounts,
                                                edge_backfill):
    _, runs = edge_backfill
    run = by_partition(runs)[SCOPED]
    assert run["status"] == "SUCCESS", e2e_stack.graphql.run_failure_messages(run["runId"])
    account = e2e_accounts[SCOPED]
    assert_complete(e2e_mongo, SCOPED, account)
    stream = e2e_mongo[f"source_{SCOPED}_stream"]
    for denied in account["denied_types"]:
        assert stream.count_documents({"kind": "object", "object_type": denied}) == 0
        entry = stream.find_one({"kind": "download_list_entry", "object_type": denied})
        assert entry and entry["data"]["status"] == "skipped", entry
        assert "scope" in entry["data"]["reason"].lower(), entry["data"]["reason"]
    history = wait_history(e2e_mongo, [run["runId"]])[run["runId"]]
    assert history["status"] == "SUCCESS"
    skipped = [e for e in history["errors"] if e.get("skipped")]
    assert {e["unit"] for e in skipped} >= set(account["denied_types"]), history["errors"]
    assert all("scope" in e["message"].lower() for e in skipped), skipped


def test_bad_token_fails_fast_naming_source_and_fix(e2e_stack, e2e_mongo, edge_backfill):
    _, runs = edge_backfill
    run = by_partition(runs)[REVOKED_SOURCE]
    assert run["status"] == "FAILURE"
    assert run["endTime"] - run["startTime"] < 90, "a rejected token must not be retried"
    messages = "\n".join(e2e_stack.graphql.run_failure_messages(run["runId"]))
    assert REVOKED_SOURCE in messages, messages
    assert "HUBSPOT_TOKEN_REVOKED" in messages, f"the fix names the token variable:\n{messages}"
    history = wait_history(e2e_mongo, [run["runId"]])[run["runId"]]
    assert history["status"] == "FAILURE"
    assert any(REVOKED_SOURCE in e.get("message", "") for e in history["errors"]), history


def test_every_finished_run_has_exactly_one_history_document(e2e_stack, e2e_mongo,
                                                             main_backfill, edge_backfill):
    runs = [r for r in e2e_stack.graphql.runs() if r["status"] in ("SUCCESS", "FAILURE")]
    history = wait_history(e2e_mongo, [r["runId"] for r in runs])
    assert len(history) == len(runs)
    # Nothing but runs: a document's _id is its run's id (a run that finished after the
    # listing above may have one too, so the count is of these runs' documents).
    known = {r["runId"] for r in e2e_stack.graphql.runs()}
    assert set(e2e_mongo["job_history"].distinct("_id")) <= known
