"""The document contract: ids, hashes, fields."""

import datetime as dt

import pytest

from hubspot_assets.stream import records as d
from hubspot_assets.stream.records import StreamRecord

NOW = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def test_data_hash_ignores_key_order_but_not_values():
    assert d.data_hash({"a": 1, "b": {"x": [1, 2], "y": None}}) == \
        d.data_hash({"b": {"y": None, "x": [1, 2]}, "a": 1})
    assert d.data_hash({"a": 1}) != d.data_hash({"a": 2})
    assert d.data_hash({"a": [1, 2]}) != d.data_hash({"a": [2, 1]})
    assert d.data_hash({"a": "1"}) != d.data_hash({"a": 1})


def test_document_id_is_deterministic_and_covers_every_identity_part():
    base = ("acme", "object", "contacts", "1", d.data_hash({"x": 1}))
    same = d.document_id(*base)
    assert same == d.document_id(*base) and len(same) == 32
    variants = [
        ("beta", "object", "contacts", "1", base[4]),
        ("acme", "event", "contacts", "1", base[4]),
        ("acme", "object", "companies", "1", base[4]),
        ("acme", "object", None, "1", base[4]),
        ("acme", "object", "contacts", "2", base[4]),
        ("acme", "object", "contacts", "1", d.data_hash({"x": 2})),
        # No separator ambiguity: shifting text between parts changes the id.
        ("acme", "object", "contacts1", "", base[4]),
    ]
    assert len({d.document_id(*v) for v in variants} | {same}) == len(variants) + 1


def test_upsert_spec_splits_version_fields_from_sighting_fields():
    record = StreamRecord("object", "contacts", 7, {"id": "7"}, "2024-01-01T00:00:00Z")
    doc_id, update = d.upsert_spec(record, source_id="acme", stage="records", run_id="r1",
                                   now=NOW)
    inserted = update["$setOnInsert"]
    assert inserted["hubspot_id"] == "7"  # ids are stored as strings
    assert inserted["data"] == {"id": "7"} and inserted["hubspot_ts"] == "2024-01-01T00:00:00Z"
    assert inserted["run_id"] == "r1" and inserted["stage"] == "records"
    assert update["$set"] == {"last_run_id": "r1", "last_seen_at": NOW}
    assert update["$push"]["seen_in"]["$each"] == ["records@r1"]
    assert update["$push"]["seen_in"]["$slice"] == -d.SEEN_IN_LIMIT
    # No field may be set by two operators (MongoDB rejects that).
    keys = [k for part in update.values() for k in part]
    assert len(keys) == len(set(keys))
    document = d.build_document(record, source_id="acme", stage="records", run_id="r1", now=NOW)
    assert document["_id"] == doc_id
    assert set(document) == {
        "_id", "source_id", "stage", "kind", "object_type", "hubspot_id", "data", "data_hash",
        "hubspot_ts", "fetched_at", "run_id", "last_run_id", "last_seen_at", "seen_in"}
    assert d.to_record(document) == StreamRecord("object", "contacts", "7", {"id": "7"},
                                                 "2024-01-01T00:00:00Z")


@pytest.mark.parametrize("item, error", [
    ({"kind": "object"}, TypeError),
    ("object", TypeError),
    (StreamRecord("objects", "contacts", "1", {}), ValueError),
    (StreamRecord("object", "contacts", "", {}), ValueError),
    (StreamRecord("object", "contacts", None, {}), ValueError),
])
def test_coerce_record_rejects_what_is_not_a_record(item, error):
    with pytest.raises(error):
        d.coerce_record(item)


def test_coerce_record_accepts_plain_tuples():
    assert d.coerce_record(("event", "e_visit", "9", {"a": 1})) == \
        StreamRecord("event", "e_visit", "9", {"a": 1}, None)


def test_kinds_are_the_contracts():
    assert d.KINDS == {"custom_object_schema", "download_list_entry", "object", "event_type",
                       "event", "relationship", "id_listing", "property_history"} | d.REFERENCE_KINDS | {
                           "list", "list_definition", "list_membership", "list_membership_sweep",
                           "form", "form_submission", "marketing_email", "campaign",
                           "email_event"}
