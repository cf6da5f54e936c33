"""Source ids are checked before they become collection names."""

import pytest

from hubspot_assets.mongo.naming import (
    InvalidDatabaseName, InvalidSourceId, max_source_id_bytes, stream_collection_name,
    validate_database_name, validate_source_id,
)

BAD_IDS = [
    ("", "empty"),
    ("acme.eu", "'.'"),
    ("acme$", "'$'"),
    ("$cmd", "'$'"),
    ("a/b", "'/'"),
    ("a\\b", "'\\\\'"),
    ("a b", "a space"),
    (" acme", "whitespace"),
    ("acme\n", "whitespace"),
    ("ac\x00me", "NUL"),
    ("..", "'..'"),
    ("a..b", "'..'"),
    ("acme:1", "':'"),
    ("acme*", "'*'"),
    ("ünïcode", "'ü'"),
    ("a\tb", "a tab"),
    ("x" * 300, "bytes"),
]


@pytest.mark.parametrize("source_id, mentions", BAD_IDS)
def test_bad_source_ids_are_rejected_with_the_problem_and_the_fix(source_id, mentions):
    with pytest.raises(InvalidSourceId) as info:
        validate_source_id(source_id)
    message = str(info.value)
    assert mentions in message
    assert "source" in message and ("letters" in message or "shorter" in message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("source_id", [None, 42, b"acme"])
def test_non_strings_are_rejected(source_id):
    with pytest.raises(InvalidSourceId, match="must be a string"):
        validate_source_id(source_id)


@pytest.mark.parametrize("source_id", ["acme", "ACME_eu-2", "1", "a" * 200, "portal_12345"])
def test_good_source_ids_pass_unchanged(source_id):
    assert validate_source_id(source_id) == source_id
    assert stream_collection_name(source_id) == f"source_{source_id}_stream"


def test_length_bound_is_the_255_byte_namespace():
    database = "hubspot"
    limit = max_source_id_bytes(database)
    assert len(f"{database}.source_{'x' * limit}_stream".encode()) == 255
    validate_source_id("x" * limit, database)
    with pytest.raises(InvalidSourceId, match="at most"):
        validate_source_id("x" * (limit + 1), database)
    # A longer database name leaves less room.
    with pytest.raises(InvalidSourceId):
        validate_source_id("x" * limit, database + "_longer")


@pytest.mark.parametrize("name", ["", "a.b", "a/b", "a b", "a$b", "a\x00", "x" * 64])
def test_bad_database_names(name):
    with pytest.raises(InvalidDatabaseName):
        validate_database_name(name)
