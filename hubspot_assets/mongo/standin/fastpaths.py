"""Speed up mongomock's hot path: documents looked up by `_id`.

mongomock answers every filter by scanning the whole collection, so an
upsert by `_id` costs O(n) and writing n documents costs O(n^2). Its store is
a dict keyed by `_id`; for `{"_id": value}` and `{"_id": {"$in": [...]}}`
we read that dict directly. Applied per collection object, so mongomock used
elsewhere in a process is unaffected.
"""

from __future__ import annotations

import datetime as dt
import types
import uuid
from typing import Any

from bson import Binary, Decimal128, Int64, ObjectId
from mongomock.filtering import filter_applies

_SCALAR_IDS = (str, int, ObjectId, Int64, Binary, bytes, uuid.UUID, dt.datetime, Decimal128)
_PATCHED = "_standin_fast"


def _scalar(value: Any) -> bool:
    # bool is an int subclass, but True must not match _id 1 the way dict lookup would.
    return isinstance(value, _SCALAR_IDS) and not isinstance(value, bool)


def id_lookup(filter_doc: Any) -> list[Any] | None:
    """The `_id` values a filter selects, if it selects by `_id` only; else None."""
    if not isinstance(filter_doc, dict) or len(filter_doc) != 1 or "_id" not in filter_doc:
        return None
    value = filter_doc["_id"]
    if _scalar(value):
        return [value]
    if isinstance(value, dict) and len(value) == 1:
        (op, arg), = value.items()
        if op == "$eq" and _scalar(arg):
            return [arg]
        if op == "$in" and isinstance(arg, list) and all(_scalar(v) for v in arg):
            return list(dict.fromkeys(arg))
    return None


def _fast_iter_documents(self, filter_doc):
    ids = id_lookup(filter_doc)
    exact = ids is not None
    if ids is None and isinstance(filter_doc, dict) and "_id" in filter_doc:
        # `{_id: v, other: ...}` (conditional upserts): narrow by `_id`, then
        # check the whole filter on that one document.
        ids = id_lookup({"_id": filter_doc["_id"]})
    if ids is None or self._store._ttl_indexes:
        return self._standin_slow_iter(filter_doc)
    documents = self._store._documents
    found = []
    for value in ids:
        document = documents.get(value)
        # An int id 1 and a float id 1.0 share a dict slot, as in MongoDB.
        if document is not None and (exact or filter_applies(filter_doc, document)):
            found.append(document)
    return iter(found)


def accelerate(collection) -> Any:
    """Install the `_id` fast path on one mongomock collection object (idempotent)."""
    if not getattr(collection, _PATCHED, False):
        collection._standin_slow_iter = collection._iter_documents
        collection._iter_documents = types.MethodType(_fast_iter_documents, collection)
        setattr(collection, _PATCHED, True)
    return collection


# -- upserts by _id -----------------------------------------------------------
#
# The IO manager's write is `{q: {_id}, u: {$setOnInsert, $set, $push}, upsert}`.
# mongomock's general update walks every value of both documents several
# times (datetime patching, per-field BSON checks, a deep copy for change
# detection); for this shape the result is simple to compute directly on its
# store. Anything unusual returns None and takes mongomock's general path.

_FAST_OPERATORS = frozenset({"$set", "$setOnInsert", "$push"})
_MISSING = object()


class UpdateOutcome:
    """The three numbers an update statement reports."""

    __slots__ = ("matched_count", "modified_count", "upserted_id")

    def __init__(self, matched: int, modified: int, upserted_id: Any = None) -> None:
        self.matched_count = matched
        self.modified_count = modified
        self.upserted_id = upserted_id


_simple_names: dict[tuple[str, ...], bool] = {}


def _simple_fields(fields: Any) -> bool:
    """Top-level, ordinary field names only (cached: every write repeats the same names)."""
    if not isinstance(fields, dict):
        return False
    names = tuple(fields)
    known = _simple_names.get(names)
    if known is None:
        known = all(isinstance(k, str) and k and "." not in k and not k.startswith("$")
                    and k != "_id" for k in names)
        if len(_simple_names) > 4096:
            _simple_names.clear()
        _simple_names[names] = known
    return known


def _push_values(spec: Any) -> tuple[list[Any], int | None] | None:
    """($each values, $slice) of a $push argument, or None if it is unusual."""
    if isinstance(spec, dict) and spec and next(iter(spec)).startswith("$"):
        if not set(spec) <= {"$each", "$slice"} or not isinstance(spec.get("$each"), list):
            return None
        limit = spec.get("$slice")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            return None
        return spec["$each"], limit
    return [spec], None


def _pushed(current: list[Any], values: list[Any], limit: int | None) -> list[Any]:
    result = current + values
    if limit is None:
        return result
    if limit >= 0:
        return result[:limit]
    return result[limit:] if -limit < len(result) else result


def fast_upsert(collection, statement: dict[str, Any]) -> UpdateOutcome | None:
    """Apply one update statement by `_id`, or return None to use mongomock."""
    query, update = statement.get("q"), statement.get("u")
    if statement.get("multi") or statement.get("arrayFilters") or not isinstance(update, dict):
        return None
    if not isinstance(query, dict) or len(query) != 1 or not _scalar(query.get("_id")):
        return None
    if not update or not set(update) <= _FAST_OPERATORS:
        return None
    if not all(_simple_fields(fields) for fields in update.values()):
        return None
    names = [name for fields in update.values() for name in fields]
    if len(names) != len(set(names)):
        return None  # conflicting operators: let mongomock raise MongoDB's error
    pushes = {}
    for name, spec in update.get("$push", {}).items():
        parsed = _push_values(spec)
        if parsed is None:
            return None
        pushes[name] = parsed
    store = collection._store
    if store._ttl_indexes or any(i.get("unique") for i in store.indexes.values()):
        return None  # unique checks and expiry stay with mongomock

    doc_id = query["_id"]
    existing = store._documents.get(doc_id)
    if existing is None:
        if not statement.get("upsert"):
            return UpdateOutcome(0, 0)
        document = {"_id": doc_id}
        document.update(update.get("$setOnInsert", {}))
        document.update(update.get("$set", {}))
        for name, (values, limit) in pushes.items():
            document[name] = _pushed([], list(values), limit)
        store[doc_id] = document
        return UpdateOutcome(0, 0, doc_id)

    for name in pushes:
        if name in existing and not isinstance(existing[name], list):
            return None  # MongoDB errors on $push to a non-array; mongomock reports it
    modified = False
    for name, value in update.get("$set", {}).items():
        current = existing.get(name, _MISSING)
        # 1 -> 1.0 is a change in MongoDB (the BSON type changes), though 1 == 1.0.
        if current is _MISSING or current != value or type(current) is not type(value):
            existing[name] = value
            modified = True
    for name, (values, limit) in pushes.items():
        current = existing.get(name, [])
        new = _pushed(list(current), list(values), limit)
        if name not in existing or new != current:
            existing[name] = new
            modified = True
    return UpdateOutcome(1, int(modified))
