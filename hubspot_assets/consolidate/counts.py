"""Current totals of a source's consolidated collections, per object type and per pair.

One aggregation each (a `$group` over the type/pair index's fields), read
after consolidation: what the collections hold now, not what this run wrote.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from hubspot_assets.mongo.collections import objects_collection, relationships_collection


def object_counts(db: Database, source_id: str) -> list[dict[str, Any]]:
    """Per object type: ``objects`` (live), ``deleted`` and ``total``, by type."""
    return _grouped(objects_collection(db, source_id), "object_type", "deleted",
                    ("objects", "deleted"))


def edge_counts(db: Database, source_id: str) -> list[dict[str, Any]]:
    """Per association pair: ``edges`` (current), ``removed`` and ``total``, by pair."""
    return _grouped(relationships_collection(db, source_id), "pair", "removed",
                    ("edges", "removed"))


def _grouped(collection: Any, key: str, flag: str, names: tuple[str, str]) -> list[dict[str, Any]]:
    current, gone = names
    rows: dict[str, dict[str, Any]] = {}
    pipeline = [{"$group": {"_id": {"key": f"${key}", "flag": f"${flag}"}, "n": {"$sum": 1}}}]
    for group in collection.aggregate(pipeline):
        name = str(group["_id"].get("key"))
        row = rows.setdefault(name, {key: name, current: 0, gone: 0})
        row[gone if group["_id"].get("flag") else current] += int(group["n"])
    for row in rows.values():
        row["total"] = row[current] + row[gone]
    return [rows[name] for name in sorted(rows)]
