"""The daily budget spent in the middle of a run: the run stops cleanly, says when the
budget resets, the job history records it, and nothing already written is lost."""

from hubspot_assets_tests.harness.run_history import record_job_history
from hubspot_assets_tests.harness.verify import compare_stream
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN


def test_a_spent_daily_budget_stops_the_run_and_a_later_run_completes(pipeline,
                                                                       sandbox_factory):
    # Discovery takes ~45 calls (Sensitive Data listings included); the records stage
    # runs out in the middle.
    server = sandbox_factory(sizes={"contacts": 900, "companies": 20}, daily_limit=70)
    pipeline.add_source("budget", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("budget")
    assert not result.success

    history = record_job_history(pipeline.instance, result.run_id, pipeline.mongo_uri,
                                 pipeline.database)
    assert history["status"] == "FAILURE"
    fatal = [e for e in history["errors"] if e.get("fatal")]
    assert fatal, history["errors"]
    assert all("daily API limit" in e["message"] and "resets" in e["message"] for e in fatal)
    # Stopped at once, no retries spent: at most one DAILY 429 per request in flight
    # (6 per stage; records and events run side by side).
    assert server.stats()["rate_limited_by_policy"].get("DAILY", 0) <= 2 * 2 * 6

    collection = pipeline.stream("budget")
    account = server.account(DEMO_PORTAL_ID)
    partial = compare_stream(collection, account)
    assert partial.found > 0 and partial.missing > 0
    assert (partial.duplicates, partial.unexpected) == (0, 0)
    written = collection.count_documents({})

    server.update_settings(daily_limit=100_000)  # the next day
    assert pipeline.sync("budget").success
    assert collection.count_documents({}) >= written
    complete = compare_stream(collection, account)
    assert complete.complete, complete.problems
