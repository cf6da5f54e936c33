"""A source's names: the id is checked by one rule before it becomes collection names."""

import pytest

from hubspot_assets.stream.naming import (
    MAX_SOURCE_ID_LENGTH,
    InvalidDatabaseName,
    InvalidSourceId,
    SourceNames,
    stage_name,
    validate_database_name,
    validate_source_id,
)

BAD_IDS = [
    ("", "empty"),
    ("acme.eu", "'.'"),
    ("acme$", "'$'"),
    ("$cmd", "'$'"),
    ("a/b", "'/'"),
    ("a\\b", "'\\\\'"),
    ("a b", "a space"),
    (" acme", "a space"),
    ("acme\n", "a newline"),
    ("ac\x00me", "NUL"),
    ("..", "'.'"),
    ("acme:1", "':'"),
    ("acme*", "'*'"),
    ("ünïcode", "'ü'"),
    ("a\tb", "a tab"),
    ("-lead", "starts with '-'"),
    ("_lead", "starts with '_'"),
    ("x" * 300, "300 characters"),
]


@pytest.mark.parametrize("source_id, mentions", BAD_IDS)
def test_bad_source_ids_are_rejected_with_the_problem_and_the_fix(source_id, mentions):
    with pytest.raises(InvalidSourceId) as info:
        validate_source_id(source_id)
    message = str(info.value)
    assert mentions in message
    assert "not a valid source id" in message and "letters" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("source_id", [None, 42, b"acme"])
def test_non_strings_are_rejected(source_id):
    with pytest.raises(InvalidSourceId, match="must be a string"):
        validate_source_id(source_id)


@pytest.mark.parametrize("source_id", ["acme", "ACME_eu-2", "1", "a" * MAX_SOURCE_ID_LENGTH,
                                       "portal_12345"])
def test_good_source_ids_pass_unchanged_and_name_every_collection(source_id):
    assert validate_source_id(source_id) == source_id
    names = SourceNames(source_id)
    assert names.stream == f"source_{source_id}_stream"
    assert names.objects == f"source_{source_id}_objects"
    assert names.relationships == f"source_{source_id}_relationships"
    assert names.stage_key("events") == f"{source_id}|events"


def test_the_longest_id_fits_any_valid_database_in_the_255_byte_namespace():
    database = "d" * 63
    validate_database_name(database)
    names = SourceNames("x" * MAX_SOURCE_ID_LENGTH)
    longest = max((names.stream, names.objects, names.relationships), key=len)
    assert len(f"{database}.{longest}".encode()) <= 255
    with pytest.raises(InvalidSourceId, match="65 characters"):
        SourceNames("x" * (MAX_SOURCE_ID_LENGTH + 1))


def test_the_stage_is_the_last_part_of_an_asset_key():
    assert stage_name(["object_records"]) == "object_records"
    assert stage_name(["hubspot", "object_records"]) == "object_records"


@pytest.mark.parametrize("name", ["", "a.b", "a/b", "a b", "a$b", "a\x00", "x" * 64])
def test_bad_database_names(name):
    with pytest.raises(InvalidDatabaseName):
        validate_database_name(name)
