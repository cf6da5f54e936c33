"""Whole failing runs with a recognizable token and MongoDB password: neither appears in
the event log (messages, errors, stack traces, metadata), the logs, stdout/stderr, the
job history or any MongoDB document. (Errors past the retries, with the same secrets,
are scanned in every fault-matrix row; an unreachable MongoDB's error is scrubbed:
hubspot_assets_tests/mongo/test_redaction.py.)"""

import dataclasses
import logging
import os

import pytest

from hubspot_assets.mongo.connection import get_database
from hubspot_assets_tests.harness.fault_matrix import MONGO_PASSWORD, SECRET_TOKEN, credentialed
from hubspot_assets_tests.harness.leaks import find_leaks
from hubspot_assets_tests.harness.run_history import record_job_history

pytestmark = pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")),
                                reason="needs the stand-in (any password is accepted)")


@pytest.fixture
def secret_pipeline(pipeline):
    return dataclasses.replace(pipeline, mongo_uri=credentialed(pipeline.mongo_uri))


def assert_no_leaks(harness, result, capfd, caplog):
    history = record_job_history(harness.instance, result.run_id, harness.mongo_uri,
                                 harness.database)
    assert history["status"] == "FAILURE" and history["errors"]
    out, err = capfd.readouterr()
    leaks = find_leaks([SECRET_TOKEN, MONGO_PASSWORD], instance=harness.instance,
                       run_ids=[result.run_id],
                       database=get_database(harness.mongo_uri, harness.database),
                       texts={"logs": caplog.text, "stdout": out, "stderr": err})
    assert leaks == []
    return history


def test_a_rejected_token_fails_the_run_and_leaks_nothing(secret_pipeline, sandbox_factory,
                                                          capfd, caplog):
    caplog.set_level(logging.DEBUG)
    server = sandbox_factory(sizes={"contacts": 5})  # does not know SECRET_TOKEN: 401
    secret_pipeline.add_source("rejected", token=SECRET_TOKEN, base_url=server.url)
    result = secret_pipeline.sync("rejected")
    assert not result.success
    history = assert_no_leaks(secret_pipeline, result, capfd, caplog)
    assert any("HUBSPOT_TOKEN_REJECTED" in e["message"] for e in history["errors"])
