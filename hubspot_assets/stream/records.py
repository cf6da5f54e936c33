"""The stored-document contract: what a stage yields and what lands in MongoDB.

Plain Python (no Dagster, no pymongo) so the lower layers and tools can share
it. `docs/stream-documents.md` is the prose version of this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, NamedTuple

# Record kinds, one per thing a HubSpot account holds.
CUSTOM_OBJECT_SCHEMA = "custom_object_schema"
DOWNLOAD_LIST_ENTRY = "download_list_entry"
OBJECT = "object"
EVENT_TYPE = "event_type"
EVENT = "event"
RELATIONSHIP = "relationship"
# Evidence of which ids HubSpot lists (live and archived) for one type: chunks of
# ids and a closing marker, written only by a reconciliation (docs/stream-documents.md).
ID_LISTING = "id_listing"
# Reference data that gives records their meaning (docs/coverage.md).
OWNER = "owner"                              # GET /crm/v3/owners, live and archived
PIPELINE = "pipeline"                        # GET /crm/v3/pipelines/{objectType}, with stages
PROPERTY_DEFINITION = "property_definition"  # GET /crm/v3/properties/{objectType}
ASSOCIATION_LABEL = "association_label"      # GET /crm/v4/associations/{from}/{to}/labels
PROPERTY_HISTORY = "property_history"        # batch read with propertiesWithHistory (opt-in)
REFERENCE_KINDS = frozenset({OWNER, PIPELINE, PROPERTY_DEFINITION, ASSOCIATION_LABEL})
# Marketing data outside the CRM object APIs (docs/marketing.md).
LIST = "list"                          # POST /crm/v3/lists/search: every list, with its size
LIST_DEFINITION = "list_definition"    # GET /crm/v3/lists/?listIds=&includeFilters=true
LIST_MEMBERSHIP = "list_membership"    # GET /crm/v3/lists/{listId}/memberships, one member
LIST_SWEEP = "list_membership_sweep"   # ours: one complete read of one list's memberships
FORM = "form"                          # GET /marketing/v3/forms, live and archived
FORM_SUBMISSION = "form_submission"    # GET /form-integrations/v1/submissions/forms/{guid}
MARKETING_EMAIL = "marketing_email"    # GET /marketing/v3/emails, live and archived
CAMPAIGN = "campaign"                  # GET /marketing/v3/campaigns/
EMAIL_EVENT = "email_event"            # GET /email/public/v1/events (legacy only)
MARKETING_KINDS = frozenset({LIST, LIST_DEFINITION, LIST_MEMBERSHIP, LIST_SWEEP, FORM,
                             FORM_SUBMISSION, MARKETING_EMAIL, CAMPAIGN, EMAIL_EVENT})
KINDS = frozenset(
    {CUSTOM_OBJECT_SCHEMA, DOWNLOAD_LIST_ENTRY, OBJECT, EVENT_TYPE, EVENT, RELATIONSHIP,
     ID_LISTING, PROPERTY_HISTORY}
) | REFERENCE_KINDS | MARKETING_KINDS

# How many recent (run, stage) sightings a document remembers. More than one,
# so that a failed run that re-wrote a document does not hide it from the
# last successful materialization that `load_input` reads.
SEEN_IN_LIMIT = 8


class StreamRecord(NamedTuple):
    """One record a stage yields; `data` is HubSpot's JSON, unchanged."""

    kind: str
    object_type: str | None
    hubspot_id: str
    data: dict[str, Any]
    hubspot_ts: Any = None  # updatedAt / occurredAt exactly as HubSpot gave it


def _json_default(value: Any) -> Any:
    # HubSpot JSON is plain JSON; these cover values a stage may add in Python.
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal data, equal text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def data_hash(data: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `data`."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def document_id(source_id: str, kind: str, object_type: str | None, hubspot_id: str,
                data_digest: str) -> str:
    """The deterministic `_id`: 32 hex chars (128 bits) of SHA-256 over the identity.

    The identity is encoded as a JSON array so no two different tuples can
    produce the same text (no separator ambiguity).
    """
    identity = json.dumps([source_id, kind, object_type, str(hubspot_id), data_digest],
                          ensure_ascii=False)
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def seen_tag(run_id: str, stage: str) -> str:
    """The value pushed into `seen_in`: which run of which stage wrote a document."""
    return f"{stage}@{run_id}"


def coerce_record(item: Any) -> StreamRecord:
    """Accept a StreamRecord (or a 4/5-tuple in its field order); reject anything else."""
    if isinstance(item, StreamRecord):
        record = item
    elif isinstance(item, tuple) and len(item) in (4, 5):
        record = StreamRecord(*item)
    else:
        raise TypeError(
            f"a record stream must yield StreamRecord items, got {type(item).__name__}; "
            "build them with hubspot_assets.stream.records.StreamRecord(...)"
        )
    if record.kind not in KINDS:
        raise ValueError(f"unknown record kind {record.kind!r}; expected one of {sorted(KINDS)}")
    if record.hubspot_id is None or record.hubspot_id == "":
        raise ValueError(f"a {record.kind} record has no hubspot_id")
    return record


def upsert_spec(record: StreamRecord, *, source_id: str, stage: str, run_id: str,
                now: dt.datetime) -> tuple[str, dict[str, Any]]:
    """The `_id` and the update document that stores `record` idempotently.

    `$setOnInsert` writes the version once; `$set`/`$push` mark every sighting,
    so re-running a stage adds no document but does record the run.
    """
    digest = data_hash(record.data)
    doc_id = document_id(source_id, record.kind, record.object_type, record.hubspot_id, digest)
    update = {
        "$setOnInsert": {
            "source_id": source_id,
            "stage": stage,
            "kind": record.kind,
            "object_type": record.object_type,
            "hubspot_id": str(record.hubspot_id),
            "data": record.data,
            "data_hash": digest,
            "hubspot_ts": record.hubspot_ts,
            "fetched_at": now,
            "run_id": run_id,
        },
        "$set": {"last_run_id": run_id, "last_seen_at": now},
        "$push": {"seen_in": {"$each": [seen_tag(run_id, stage)], "$slice": -SEEN_IN_LIMIT}},
    }
    return doc_id, update


def build_document(record: StreamRecord, *, source_id: str, stage: str, run_id: str,
                   now: dt.datetime) -> dict[str, Any]:
    """The document as first inserted (what the upsert creates); for tools and tests."""
    doc_id, update = upsert_spec(record, source_id=source_id, stage=stage, run_id=run_id, now=now)
    return {
        "_id": doc_id,
        **update["$setOnInsert"],
        **update["$set"],
        "seen_in": [seen_tag(run_id, stage)],
    }


# What a stub keeps of a record MongoDB cannot store: what identifies, versions
# and links it (consolidation needs no more), never the properties.
OUTLINE_FIELDS = ("id", "createdAt", "updatedAt", "archived", "archivedAt", "occurredAt",
                  "eventType", "objectType", "objectId", "fromObjectType", "fromObjectId",
                  "toObjectType", "toObjectId")
_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def _storable(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return _INT64[0] <= value <= _INT64[1]
    return value is None or isinstance(value, (str, bool, float, dt.datetime))


def outline(data: Any) -> dict[str, Any]:
    """The identifying top-level fields of ``data`` whose values any BSON encoder takes."""
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in OUTLINE_FIELDS if key in data and _storable(data[key])}


def record_data(document: dict[str, Any]) -> dict[str, Any]:
    """A stored document's `data`, or for a stub (`data: null`) its `data_outline`."""
    data = document.get("data")
    return data if data is not None else (document.get("data_outline") or {})


def to_record(document: dict[str, Any]) -> StreamRecord:
    """Turn a stored document back into the StreamRecord it was written from."""
    return StreamRecord(
        document["kind"], document.get("object_type"), document["hubspot_id"],
        document.get("data"), document.get("hubspot_ts"),
    )
