"""Names and indexes of the consolidated collections."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.connection import stream_collection
from hubspot_assets.mongo.naming import validate_source_id

# Consolidation reads what the stream gained since its watermark.
STREAM_INDEXES = [IndexModel([("kind", ASCENDING), ("fetched_at", ASCENDING)], name="kind_fetched")]
OBJECT_INDEXES = [
    IndexModel([("object_type", ASCENDING), ("archived", ASCENDING)], name="type_archived"),
    IndexModel([("updated_at", DESCENDING)], name="updated_at"),
]
# Edges are looked up from either end.
RELATIONSHIP_INDEXES = [
    IndexModel([("from_type", ASCENDING), ("from_id", ASCENDING)], name="from"),
    IndexModel([("to_type", ASCENDING), ("to_id", ASCENDING)], name="to"),
    IndexModel([("pair", ASCENDING), ("removed", ASCENDING)], name="pair_removed"),
]


def object_key(object_type: str, hubspot_id: str) -> str:
    """`_id` of an object: one document per (type, id)."""
    return f"{object_type}|{hubspot_id}"


def objects_collection(db: Database, source_id: str) -> Collection:
    collection = db[f"source_{validate_source_id(source_id, db.name)}_objects"]
    collection.create_indexes(OBJECT_INDEXES)
    return collection


def relationships_collection(db: Database, source_id: str) -> Collection:
    collection = db[f"source_{validate_source_id(source_id, db.name)}_relationships"]
    collection.create_indexes(RELATIONSHIP_INDEXES)
    return collection


def indexed_stream(db: Database, source_id: str) -> Collection:
    collection = stream_collection(db, source_id)
    collection.create_indexes(STREAM_INDEXES)
    return collection
