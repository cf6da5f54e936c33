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


def test_a_server_echoing_the_token_in_every_form_leaks_it_nowhere(secret_pipeline, capfd,
                                                                   caplog):
    # Every answer is a 403 quoting the token raw, URL-encoded and base64 (of the token
    # and of its header), in the body and a header: the skips land in metadata and
    # MongoDB (the download list's reasons), the errors in the event log and history.
    from hubspot_assets_tests.hubspot.stub_server import Reply, StubServer
    from hubspot_assets_tests.hubspot.test_secrets import echo_body, echoed_forms

    caplog.set_level(logging.DEBUG)
    forms = echoed_forms(SECRET_TOKEN)
    body = {**echo_body(SECRET_TOKEN), "category": "MISSING_SCOPES"}
    server = StubServer(lambda call: Reply(403, body, headers={
        "X-HubSpot-Correlation-Id": forms[3]})).start()
    try:
        secret_pipeline.add_source("echoing", token=SECRET_TOKEN, base_url=server.url)
        result = secret_pipeline.sync("echoing")
    finally:
        server.stop()
    assert result.success  # every type skipped for its missing scope
    stream = secret_pipeline.stream("echoing")
    reasons = [d["data"]["reason"] for d in stream.find({"kind": "download_list_entry"})]
    assert reasons and all("<token>" in r for r in reasons)
    history = record_job_history(secret_pipeline.instance, result.run_id,
                                 secret_pipeline.mongo_uri, secret_pipeline.database)
    assert history["errors"]
    out, err = capfd.readouterr()
    leaks = find_leaks([*forms, MONGO_PASSWORD], instance=secret_pipeline.instance,
                       run_ids=[result.run_id],
                       database=get_database(secret_pipeline.mongo_uri,
                                             secret_pipeline.database),
                       texts={"logs": caplog.text, "stdout": out, "stderr": err})
    assert leaks == []
