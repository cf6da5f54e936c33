"""Configuration mistakes fail the run at once (well under 10 s), without retries, with a
message naming the setting and the fix, and the underlying cause; no secret is shown."""

import dataclasses
import os
import time
from urllib.parse import urlsplit

import pytest

from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.sandbox import DEMO_TOKEN

FAST = 10.0  # seconds: a configuration mistake is reported well within this
WRONG_PASSWORD = "wr0ng-pass-word"


def timed_failure(pipeline, source_id, selection=None):
    """The first step failure's message, after asserting the run failed fast and unretried."""
    started = time.monotonic()
    result = pipeline.sync(source_id, selection=selection)
    elapsed = time.monotonic() - started
    assert not result.success
    assert elapsed < FAST, f"took {elapsed:.1f}s"
    kinds = [e.event_type_value for e in result.all_events]
    assert "STEP_UP_FOR_RETRY" not in kinds  # retrying cannot fix configuration
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failures[0].event_specific_data.error.message, result


def with_mongo_uri(pipeline, uri):
    return dataclasses.replace(pipeline, mongo_uri=uri)


def netloc(uri):
    return urlsplit(uri).netloc.rsplit("@", 1)[-1]


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="builds URIs on the stand-in")
@pytest.mark.parametrize("mistake, uri, expected", [
    ("malformed", "mongodb://hsuser:p@ss-w0rd@{netloc}/", "escaped according to RFC 3986"),
    ("closed port", "mongodb://hsuser:" + WRONG_PASSWORD + "@127.0.0.1:1/", "Connection refused"),
    ("wrong password", "mongodb://hsuser:" + WRONG_PASSWORD + "@{netloc}/?authSource=admin",
     "Authentication failed"),
    ("bad scheme", "mongo://{netloc}/", "Invalid URI scheme"),
])
def test_a_mongodb_mistake_fails_at_once_naming_mongodb_uri(pipeline, sandbox, mistake, uri,
                                                            expected):
    bad = with_mongo_uri(pipeline, uri.format(netloc=netloc(pipeline.mongo_uri)))
    bad.add_source("acme", token=DEMO_TOKEN, base_url=sandbox.url)
    message, _ = timed_failure(bad, "acme")
    assert "MongoDB configuration error" in message and "MONGODB_URI" in message
    assert "Fix:" in message and expected in message  # the cause travels
    assert WRONG_PASSWORD not in message and "ss-w0rd" not in message
    assert sandbox.stats()["total"] == 0  # checked before any HubSpot call


def registry_failure(pipeline, sandbox, extra="", base_url=None, source_id="acme"):
    pipeline.add_source(source_id, token=DEMO_TOKEN, base_url=base_url or sandbox.url,
                        extra=extra)
    message, result = timed_failure(pipeline, source_id, selection=["custom_object_schemas"])
    assert sandbox.stats()["total"] == 0
    return message


def test_a_base_url_with_a_path_is_rejected_with_the_fix(pipeline, sandbox):
    message = registry_failure(pipeline, sandbox, base_url="https://api.hubapi.com/crm")
    assert "base_url" in message and "'https://api.hubapi.com/crm'" in message
    assert "no credentials, path or query" in message
    assert "use e.g. https://api.hubapi.com" in message


def test_include_together_with_exclude_is_rejected(pipeline, sandbox):
    message = registry_failure(pipeline, sandbox,
                               extra="    include: [contacts]\n    exclude: [quotes]\n")
    assert "include and exclude are both set" in message and "keep one" in message


@pytest.mark.parametrize("extra, named", [
    ("    limits: fast\n", "limits must be a mapping"),
    ("    limits: {ten_second: -5}\n", "limits.ten_second must be a positive number"),
    ("    tier: 5\n", "tier 5"),
    ("    include: contacts\n", "include must be a list of object type names"),
    ("    colour: blue\n", "unknown key(s) ['colour']"),
])
def test_corrupted_registry_fields_are_named(pipeline, sandbox, extra, named):
    assert named in registry_failure(pipeline, sandbox, extra=extra)


@pytest.mark.parametrize("token", [DEMO_TOKEN + "\n", " " + DEMO_TOKEN,
                                   DEMO_TOKEN[:6] + "\n" + DEMO_TOKEN[6:]])
def test_a_token_with_whitespace_is_rejected_without_showing_it(pipeline, sandbox, monkeypatch,
                                                                 token):
    pipeline.add_source("acme", token=DEMO_TOKEN, base_url=sandbox.url)
    monkeypatch.setenv("HUBSPOT_TOKEN_ACME", token)
    message, result = timed_failure(pipeline, "acme", selection=["custom_object_schemas"])
    assert "HUBSPOT_TOKEN_ACME" in message and "whitespace or a newline" in message
    assert DEMO_TOKEN not in str([str(e) for e in result.all_events])
    assert sandbox.stats()["total"] == 0


def test_a_source_id_with_whitespace_is_rejected(pipeline, sandbox):
    pipeline.add_source("good", token=DEMO_TOKEN, base_url=sandbox.url)
    pipeline.sources_file.write_text(pipeline.sources_file.read_text()
                                     + "  - id: \"acme\\n\"\n    token_env: HUBSPOT_TOKEN_GOOD\n")
    pipeline.instance.add_dynamic_partitions("hubspot_sources", ["acme\n"])
    message, _ = timed_failure(pipeline, "acme\n", selection=["custom_object_schemas"])
    assert "not a valid source id" in message and "a newline" in message


@pytest.mark.parametrize("extra, named", [
    ("    include: [contact, companies]\n", "include names unknown object type(s) ['contact']"),
    ("    exclude: [quote]\n", "exclude names unknown object type(s) ['quote']"),
])
def test_an_unknown_type_in_include_or_exclude_fails_discovery_naming_it(pipeline, sandbox,
                                                                         extra, named):
    pipeline.add_source("acme", token=DEMO_TOKEN, base_url=sandbox.url, extra=extra)
    message, result = timed_failure(pipeline, "acme")
    assert named in message
    assert "Standard types: contacts, companies" in message and "pets" in message
    assert not pipeline.stream("acme").count_documents({"kind": "object"})
    assert "custom_object_schemas" in stage_metadata(result)  # discovery itself ran
