"""Credentials in MongoDB URIs never reach logs, errors or metadata."""

import logging

import dagster as dg
import pytest

from hubspot_assets.defs.io_manager import MongoStreamIOManager
from hubspot_assets.mongo.redaction import redact_text, redact_uri, uri_secrets
from hubspot_assets_tests.mongo.streams import ContactStream, stream_asset

SECRET = "s3cr3t-P%40ss"
DECODED_SECRET = "s3cr3t-P@ss"


@pytest.mark.parametrize("uri, expected", [
    ("mongodb://user:pw@host:27017/db", "mongodb://***@host:27017/db"),
    ("mongodb+srv://u:p%40ss@cluster0.example.net/?retryWrites=true",
     "mongodb+srv://***@cluster0.example.net/?retryWrites=true"),
    ("mongodb://user@host", "mongodb://***@host"),
    ("mongodb://h1:1,h2:2/db", "mongodb://h1:1,h2:2/db"),
    ("mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:abc&x=1",
     "mongodb://h/?authMechanismProperties=***&x=1"),
    ("mongodb://h/?tlsCertificateKeyFilePassword=abc",
     "mongodb://h/?tlsCertificateKeyFilePassword=***"),
])
def test_redact_uri(uri, expected):
    assert redact_uri(uri) == expected


def test_redact_text_scrubs_embedded_uris_and_bare_secrets():
    uri = f"mongodb://admin:{SECRET}@db.internal:27017"
    text = f"could not reach {uri}; password {DECODED_SECRET} rejected"
    cleaned = redact_text(text, *uri_secrets(uri))
    assert SECRET not in cleaned and DECODED_SECRET not in cleaned
    assert "mongodb://***@db.internal:27017" in cleaned


def test_io_manager_repr_hides_the_password():
    manager = MongoStreamIOManager(uri=f"mongodb://admin:{SECRET}@localhost:1/")
    assert SECRET not in repr(manager) and SECRET not in str(manager)


def test_connection_errors_and_run_logs_hide_the_password(caplog, capsys):
    # Port 1 on loopback refuses connections: the failure message names the host.
    uri = f"mongodb://admin:{SECRET}@127.0.0.1:1/?serverSelectionTimeoutMS=300"
    parts = dg.StaticPartitionsDefinition(["acme"])
    asset = stream_asset("secret_stage", parts, lambda: ContactStream(3))
    caplog.set_level(logging.DEBUG)
    result = dg.materialize(
        [asset], partition_key="acme",
        resources={"io_manager": MongoStreamIOManager(uri=uri, database="redaction")},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures
    error = failures[0].step_failure_data.error
    rendered = error.to_string()
    assert "MongoDB configuration error" in rendered and "MONGODB_URI" in rendered
    everything = "\n".join(
        [rendered, caplog.text, *capsys.readouterr()]
        + [str(e.message) for e in result.all_events]
    )
    assert SECRET not in everything and DECODED_SECRET not in everything


def test_handle_output_error_is_redacted_directly():
    uri = f"mongodb://admin:{SECRET}@127.0.0.1:1/?serverSelectionTimeoutMS=200"
    manager = MongoStreamIOManager(uri=uri, database="redaction")
    context = dg.build_output_context(asset_key="stage", partition_key="acme", run_id="r1")
    with pytest.raises(dg.Failure) as info:  # first use: a configuration failure
        manager.handle_output(context, ContactStream(2))
    assert not info.value.allow_retries and "Connection refused" in info.value.description
    assert SECRET not in str(info.value) and info.value.__cause__ is None
    assert info.value.__suppress_context__
