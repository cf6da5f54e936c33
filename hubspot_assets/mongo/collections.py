"""Every collection a source uses, each with its indexes, ensured once per process.

The only place that names a collection in a database or declares an index:
stages, consolidation and the IO manager ask here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.stream.naming import (
    JOB_HISTORY_COLLECTION,
    RUNS_COLLECTION,
    WATERMARKS_COLLECTION,
    SourceNames,
)

STREAM_INDEXES = (
    # `load_input` selects one materialization: {"seen_in": "<stage>@<run_id>"}.
    IndexModel([("seen_in", ASCENDING)], name="seen_in"),
    # Consolidation picks the latest version of each record ...
    IndexModel([("kind", ASCENDING), ("object_type", ASCENDING), ("hubspot_id", ASCENDING),
                ("fetched_at", DESCENDING)], name="versions"),
    # ... among what the stream gained since its watermark.
    IndexModel([("kind", ASCENDING), ("fetched_at", ASCENDING)], name="kind_fetched"),
)
OBJECT_INDEXES = (
    IndexModel([("object_type", ASCENDING), ("archived", ASCENDING)], name="type_archived"),
    IndexModel([("updated_at", DESCENDING)], name="updated_at"),
)
# Edges are looked up from either end.
RELATIONSHIP_INDEXES = (
    IndexModel([("from_type", ASCENDING), ("from_id", ASCENDING)], name="from"),
    IndexModel([("to_type", ASCENDING), ("to_id", ASCENDING)], name="to"),
    IndexModel([("pair", ASCENDING), ("removed", ASCENDING)], name="pair_removed"),
)

# Reference collections (`consolidate/reference.py`): looked up by type, and the
# consolidation marks what a complete listing no longer holds by `group`.
REFERENCE_INDEXES = (
    IndexModel([("object_type", ASCENDING), ("removed", ASCENDING)], name="type_removed"),
    IndexModel([("group", ASCENDING), ("removed", ASCENDING)], name="group_removed"),
)

# "What was this property's value on date D": the latest entry at or before D.
PROPERTY_HISTORY_INDEXES = (
    IndexModel([("object_type", ASCENDING), ("object_id", ASCENDING), ("property", ASCENDING),
                ("timestamp_ms", DESCENDING)], name="value_at"),
)

# Lists by the type of their members; memberships from either end (a list's
# members, a record's lists), and the removal sweep of one list.
LIST_INDEXES = (
    IndexModel([("objectTypeId", ASCENDING), ("removed", ASCENDING)], name="type_removed"),
)
LIST_MEMBERSHIP_INDEXES = (
    IndexModel([("list_id", ASCENDING), ("removed", ASCENDING)], name="list_removed"),
    IndexModel([("object_type_id", ASCENDING), ("record_id", ASCENDING)], name="record"),
)
FORM_INDEXES = (
    IndexModel([("formType", ASCENDING), ("removed", ASCENDING)], name="type_removed"),
)
MARKETING_EMAIL_INDEXES = (
    IndexModel([("archived", ASCENDING), ("updatedAt", DESCENDING)], name="archived_updated"),
)
CAMPAIGN_INDEXES = (
    IndexModel([("removed", ASCENDING), ("updatedAt", DESCENDING)], name="removed_updated"),
)

_lock = threading.Lock()
_ensured: set[tuple[int, str]] = set()


def _with_indexes(db: Database, name: str, indexes: Sequence[IndexModel]) -> Collection:
    collection = db[name]
    key = (id(db.client), collection.full_name)
    with _lock:
        if key in _ensured:
            return collection
    # createIndexes is idempotent on the server; the cache only saves round trips.
    collection.create_indexes(list(indexes))
    with _lock:
        _ensured.add(key)
    return collection


def forget_indexes(db: Database) -> None:
    """Ensure ``db``'s indexes again on next use: after a lost database (a failover to
    an empty node) the collections come back without them. One round trip each."""
    prefix = f"{db.name}."
    with _lock:
        _ensured.difference_update({key for key in _ensured
                                    if key[0] == id(db.client) and key[1].startswith(prefix)})


def stream_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_stream`: every record version the stages stored."""
    return _with_indexes(db, SourceNames(source_id).stream, STREAM_INDEXES)


def objects_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_objects`: the current state of every object."""
    return _with_indexes(db, SourceNames(source_id).objects, OBJECT_INDEXES)


def relationships_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_relationships`: the current state of every association edge."""
    return _with_indexes(db, SourceNames(source_id).relationships, RELATIONSHIP_INDEXES)


def reference_collection(db: Database, source_id: str, name: str) -> Collection:
    """A source's reference collection by its `SourceNames` attribute: `owners`,
    `pipelines`, `properties` or `association_labels`."""
    if name not in REFERENCE_COLLECTIONS:
        raise ValueError(f"unknown reference collection {name!r}; one of {REFERENCE_COLLECTIONS}")
    return _with_indexes(db, getattr(SourceNames(source_id), name), REFERENCE_INDEXES)


REFERENCE_COLLECTIONS = ("owners", "pipelines", "properties", "association_labels")


def property_history_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_property_history`: one document per past value of an opted-in property."""
    return _with_indexes(db, SourceNames(source_id).property_history, PROPERTY_HISTORY_INDEXES)


def lists_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_lists`: the current state of every list."""
    return _with_indexes(db, SourceNames(source_id).lists, LIST_INDEXES)


def list_memberships_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_list_memberships`: one document per (list, record) ever a member."""
    return _with_indexes(db, SourceNames(source_id).list_memberships, LIST_MEMBERSHIP_INDEXES)


def forms_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_forms`: the current state of every form."""
    return _with_indexes(db, SourceNames(source_id).forms, FORM_INDEXES)


def marketing_emails_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_marketing_emails`: the latest version of every marketing email."""
    return _with_indexes(db, SourceNames(source_id).marketing_emails, MARKETING_EMAIL_INDEXES)


def campaigns_collection(db: Database, source_id: str) -> Collection:
    """`source_{id}_campaigns`: the current state of every campaign."""
    return _with_indexes(db, SourceNames(source_id).campaigns, CAMPAIGN_INDEXES)


def runs_collection(db: Database) -> Collection:
    """`stream_runs`: the latest finished materialization of each (source, stage)."""
    return db[RUNS_COLLECTION]


def watermarks_collection(db: Database) -> Collection:
    """`watermarks`: how far each (source, stage) is safely synced."""
    return db[WATERMARKS_COLLECTION]


def job_history_collection(db: Database) -> Collection:
    """`job_history`: one summary per finished run."""
    return db[JOB_HISTORY_COLLECTION]
