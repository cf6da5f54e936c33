"""`defs/history.py`: a step that fails after Dagster's retries leaves its cause (type and
message, scrubbed) in the job history, never only "Exceeded max_retries of 2"."""

import dagster as dg

from hubspot_assets.defs.history import failure_details
from hubspot_assets.defs.io_manager import MongoStreamError
from hubspot_assets.hubspot.errors import ServerError
from hubspot_assets.hubspot.secrets import remember
from hubspot_assets_tests.harness.run_history import record_job_history

TOKEN = "pat-na1-history-secret-0123456789"


def failing_asset(error: Exception):
    @dg.asset(name="flaky_stage", retry_policy=dg.RetryPolicy(max_retries=2, delay=0))
    def _asset():
        try:
            raise error
        except Exception as exc:  # as stage code does: a wrapper with the cause chained
            raise RuntimeError("stage flaky_stage failed") from exc
    return _asset


def test_retries_used_up_keep_the_innermost_cause_in_the_history(mongo_uri, mongo_database):
    remember(TOKEN)
    cause = ServerError(f"HubSpot server error 503: upstream said Bearer {TOKEN}",
                        status=503, endpoint="/crm/v3/objects/contacts", attempts=6)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([failing_asset(cause)], instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.event_specific_data.error.message.strip() == "Exceeded max_retries of 2"
    run_failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    assert failure_details(run_failure.event_specific_data.error)["message"].startswith(
        "ServerError: HubSpot server error 503")  # the run's failure carries it too

    history = record_job_history(instance, result.run_id, mongo_uri, mongo_database)
    [error] = [e for e in history["errors"] if e.get("fatal")]
    assert error["message"].startswith("ServerError: HubSpot server error 503")
    assert "status=503" in error["message"] and "attempts=6" in error["message"]
    assert error["retries_exhausted"] == "Exceeded max_retries of 2"
    assert error["causes"] == ["RuntimeError: stage flaky_stage failed", error["message"]]
    assert TOKEN not in str(history)


def test_a_failure_description_is_the_message_without_dagster_s_module_path(mongo_uri,
                                                                           mongo_database):
    @dg.asset(name="broken_stage")
    def _asset():
        raise dg.Failure(description="MongoDB configuration error: no server. Fix: check "
                                     "mongodb://user:hunter2-pw@db:27017/", allow_retries=False)

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([_asset], instance=instance, raise_on_error=False)
    history = record_job_history(instance, result.run_id, mongo_uri, mongo_database)
    [error] = [e for e in history["errors"] if e.get("fatal")]
    assert error["message"].startswith("Failure: MongoDB configuration error: no server")
    assert "hunter2-pw" not in str(history) and "retries_exhausted" not in error


def test_a_mongodb_error_after_retries_is_named(mongo_uri, mongo_database):
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([failing_asset(MongoStreamError("AutoReconnect: connection reset"))],
                            instance=instance, raise_on_error=False)
    history = record_job_history(instance, result.run_id, mongo_uri, mongo_database)
    [error] = [e for e in history["errors"] if e.get("fatal")]
    assert error["message"] == "MongoStreamError: AutoReconnect: connection reset"
