"""The stand-in's hot paths, answered on the stored BSON without mongomock.

mongomock scans a whole collection for every filter, decodes nothing lazily
and walks every value of an update several times. For the shapes the IO
manager and the consolidation send, these functions work on the encoded
store (`storage.py`) directly:

* `_id` lookups (`{_id: v}`, `{_id: {$in: [...]}}`) read the store's dict;
* simple filters (top-level equality, `$in`, ranges) and projections of
  top-level fields look only at the top level of each document (of a
  compressed one, only its head), so embedded documents (HubSpot's `data`)
  are never decoded, and a matching document goes into the reply as the
  bytes it is stored as; equality on an indexed field reads only the
  documents the index names;
* upserts by `_id` with `$setOnInsert`/`$set`/`$push` splice the encoded
  parts of the statement into the stored document.

Anything else returns None and takes mongomock's general path. Applied per
collection object, so mongomock used elsewhere in a process is unaffected.
"""

from __future__ import annotations

import datetime as dt
import operator
import struct
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import bson
from bson import Binary, Decimal128, Int64, ObjectId
from bson.raw_bson import RawBSONDocument
from mongomock.filtering import filter_applies

from hubspot_assets_tests.mongo_standin.storage import (
    RAW_CODEC,
    Entry,
    Packed,
    decode,
    full,
    top_level,
)

_SCALAR_IDS = (str, int, ObjectId, Int64, Binary, bytes, uuid.UUID, dt.datetime, Decimal128)
_PATCHED = "_standin_fast"
_LENGTH = struct.Struct("<i")
_MISSING = object()


def _scalar(value: Any) -> bool:
    # bool is an int subclass, but True must not match _id 1 the way dict lookup would.
    return isinstance(value, _SCALAR_IDS) and not isinstance(value, bool)


def id_lookup(filter_doc: Any) -> list[Any] | None:
    """The `_id` values a filter selects, if it selects by `_id` only; else None."""
    if not isinstance(filter_doc, Mapping) or len(filter_doc) != 1 or "_id" not in filter_doc:
        return None
    value = filter_doc["_id"]
    if _scalar(value):
        return [value]
    if isinstance(value, Mapping) and len(value) == 1:
        (op, arg), = value.items()
        if op == "$eq" and _scalar(arg):
            return [arg]
        if op == "$in" and isinstance(arg, list) and all(_scalar(v) for v in arg):
            return list(dict.fromkeys(arg))
    return None


# -- filters on top-level fields ------------------------------------------------
#
# MongoDB's rules for these operands: equality and order only within one BSON
# type (a string never equals a number, false never equals 0), and a field
# holding an array matches if one of its elements does. Strings compare by
# code point, as MongoDB's binary comparison of UTF-8 does.

_RANGES = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
_EQUALITY_TYPES = (str, bool)


def _plain_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and "." not in name and not name.startswith("$")


def _candidates(value: Any) -> Iterator[Any]:
    if type(value) is list:
        return iter(value)
    return iter((value,))


def _equals(wanted: Any) -> Callable[[Any], bool]:
    kind = type(wanted)
    return lambda value: any(type(v) is kind and v == wanted for v in _candidates(value))


def _one_of(wanted: list[Any]) -> Callable[[Any], bool]:
    # Keyed by type too: True and 1 hash alike, but only a bool may match a bool.
    keys = {(type(v), v) for v in wanted}
    return lambda value: any(type(v) in _EQUALITY_TYPES and (type(v), v) in keys
                             for v in _candidates(value))


def _within(bounds: list[tuple[Callable, Any]]) -> Callable[[Any], bool]:
    # Each bound may be met by a different element of an array, as in MongoDB.
    def test(value: Any) -> bool:
        return all(any(type(v) is type(limit) and compare(v, limit) for v in _candidates(value))
                   for compare, limit in bounds)
    return test


def _range_operand(value: Any) -> bool:
    if type(value) is str:
        return True
    # Stored datetimes are naive UTC with millisecond precision (BSON's).
    return (type(value) is dt.datetime and value.tzinfo is None
            and value.microsecond % 1000 == 0)


def _condition(condition: Any) -> tuple[Callable[[Any], bool], list | None] | None:
    """The test of one field's condition, and the values it requires (for an index)."""
    if type(condition) in _EQUALITY_TYPES:
        return _equals(condition), [condition]
    if not isinstance(condition, Mapping) or not condition:
        return None
    operators = dict(condition.items())
    if set(operators) == {"$eq"} and type(operators["$eq"]) in _EQUALITY_TYPES:
        return _equals(operators["$eq"]), [operators["$eq"]]
    if set(operators) == {"$in"}:
        values = operators["$in"]
        if isinstance(values, list) and all(type(v) in _EQUALITY_TYPES for v in values):
            return _one_of(values), values
        return None
    if set(operators) <= set(_RANGES) and all(_range_operand(v) for v in operators.values()):
        return _within([(_RANGES[op], limit) for op, limit in operators.items()]), None
    return None


def compile_filter(filter_doc: Any) -> Callable[[Mapping], bool] | None:
    """A test on a document's top-level fields equal to `filter_doc`, or None."""
    if not isinstance(filter_doc, Mapping):
        return None
    tests, equalities = [], {}
    for name, condition in filter_doc.items():
        compiled = _condition(condition) if _plain_name(name) else None
        if compiled is None:
            return None
        tests.append((name, compiled[0]))
        if compiled[1] is not None:
            equalities[name] = compiled[1]

    def matches(document: Mapping) -> bool:
        return all(test(document.get(name, _MISSING)) for name, test in tests)
    matches.fields = frozenset(filter_doc)
    matches.equalities = equalities  # what an index may narrow by
    return matches


def compile_projection(projection: Any) -> Callable[[Mapping], dict] | None:
    """Inclusion or exclusion of top-level fields (document order kept), or None."""
    if not isinstance(projection, Mapping) or not projection:
        return None
    keep_id, named, modes = True, set(), set()
    for name, flag in projection.items():
        if type(flag) not in (int, bool) or not _plain_name(name):
            return None
        if name == "_id":
            keep_id = bool(flag)
        else:
            named.add(name)
            modes.add(bool(flag))
    if len(modes) > 1:
        return None  # mixed: let mongomock raise MongoDB's error
    if modes == {True} or (not modes and keep_id):
        wanted = named | ({"_id"} if keep_id else set())

        def include(document: Mapping) -> dict:
            return {k: v for k, v in document.items() if k in wanted}
        include.fields = frozenset(wanted)
        return include
    dropped = named | (set() if keep_id else {"_id"})

    def exclude(document: Mapping) -> dict:
        return {k: v for k, v in document.items() if k not in dropped}
    exclude.fields = None  # every other field
    return exclude


# -- selecting stored documents ------------------------------------------------

def _view(entry: Entry, fields: frozenset | None) -> RawBSONDocument:
    """The top level of a stored document, enough for `fields` (None: all of them)."""
    if type(entry) is Packed and fields is not None and not (fields & entry.omitted):
        return RawBSONDocument(entry.head, RAW_CODEC)  # no decompression
    return RawBSONDocument(full(entry), RAW_CODEC)


def _selected(store, filter_doc: Any) -> Iterator[tuple[Any, Entry, Any]]:
    """(key, stored entry, a view or None) of each document `filter_doc` selects.

    The view is what the filter was tested on: the top level (RawBSONDocument,
    maybe only a packed document's head) or the whole decoded dict. Only valid
    outside write_back().
    """
    if not filter_doc:
        for key, entry in store.raw_snapshot():
            yield key, entry, None
        return
    ids = id_lookup(filter_doc)
    if ids is not None:
        for key in ids:
            entry = store.entry(key)
            if entry is not None:
                yield key, entry, None
        return
    test = compile_filter(filter_doc)
    for key, entry in _possible_matches(store, filter_doc, test):
        if entry is None:
            continue
        if test is not None:
            view = _view(entry, test.fields)
            if test(view):
                yield key, entry, view
        else:
            document = decode(full(entry))
            if filter_applies(filter_doc, document):
                yield key, entry, document


def _possible_matches(store, filter_doc: Any, test) -> list | Iterator:
    """(key, entry) of every document that may match: by `_id` or an index if
    the filter allows, else every stored one.

    `{_id: v, version: {$lt: n}}` (consolidation's conditional update) can
    match one document only; decoding every stored one to find it held the
    command lock long enough for clients to time out.
    """
    narrowed = None
    if isinstance(filter_doc, Mapping) and "_id" in filter_doc:
        narrowed = id_lookup({"_id": filter_doc["_id"]})
    if narrowed is None and test is not None:
        narrowed = store.candidates(test.equalities)
    if narrowed is None:
        return store.raw_snapshot()
    return [(key, store.entry(key)) for key in narrowed]


def _lent_selected(store, filter_doc: Any) -> Iterator[dict]:
    """Inside write_back(): the current dicts, lending only those selected."""
    ids = id_lookup(filter_doc)
    for key, entry in _possible_matches(store, filter_doc, compile_filter(filter_doc)):
        if entry is None:
            continue
        document = store.peek(key, entry)
        if ids is not None or filter_applies(filter_doc, document):
            yield store.decoded(key, entry, document)


def _fast_iter_documents(self, filter_doc):
    store = self._store
    if store._ttl_indexes:
        return self._standin_slow_iter(filter_doc)  # mongomock expires documents on access
    if store.lending:
        return _lent_selected(store, filter_doc)
    return (view if type(view) is dict else decode(full(entry))
            for _, entry, view in _selected(store, filter_doc))


def find_documents(collection, filter_doc: Any, projection: Any) -> Iterator[Any] | None:
    """What a find returns, encoded where possible; None if only mongomock can tell."""
    store = collection._store
    if store._ttl_indexes or store.lending:
        return None
    if not projection:
        return (RawBSONDocument(full(entry)) for _, entry, _ in _selected(store, filter_doc))
    project = compile_projection(projection)
    if project is None:
        return None
    return (project(_projected_view(entry, view, project.fields))
            for _, entry, view in _selected(store, filter_doc))


def _projected_view(entry: Entry, view: Any, fields: frozenset | None) -> Mapping:
    # A packed document's head may lack fields the filter did not need.
    if view is None or (type(entry) is Packed and type(view) is RawBSONDocument
                        and (fields is None or fields & entry.omitted)):
        return _view(entry, fields)
    return view


def count_documents(collection, filter_doc: Any) -> int:
    store = collection._store
    if store._ttl_indexes:
        return sum(1 for _ in collection._iter_documents(filter_doc))
    if not filter_doc:
        return len(store)
    return sum(1 for _ in _selected(store, filter_doc))


def accelerate(collection) -> Any:
    """Install the fast lookups on one mongomock collection object (idempotent)."""
    if not getattr(collection, _PATCHED, False):
        collection._standin_slow_iter = collection._iter_documents
        collection._iter_documents = types.MethodType(_fast_iter_documents, collection)
        general_update = collection._update

        def update(*args, **kwargs):
            # mongomock changes the dicts it read in place: store them again after.
            with collection._store.write_back():
                return general_update(*args, **kwargs)
        collection._update = update
        setattr(collection, _PATCHED, True)
    return collection


# -- upserts by _id -----------------------------------------------------------
#
# The IO manager's write is `{q: {_id}, u: {$setOnInsert, $set, $push}, upsert}`.
# A new document is spliced from the encoded parts (the `$setOnInsert` bytes
# were encoded once already, for the size check); an existing one is decoded,
# changed and encoded again only if a value changed.

_FAST_OPERATORS = frozenset({"$set", "$setOnInsert", "$push"})


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
    if not isinstance(fields, Mapping):
        return False
    names = tuple(fields)
    known = _simple_names.get(names)
    if known is None:
        known = all(_plain_name(k) and k != "_id" for k in names)
        if len(_simple_names) > 4096:
            _simple_names.clear()
        _simple_names[names] = known
    return known


def _push_values(spec: Any) -> tuple[list[Any], int | None] | None:
    """($each values, $slice) of a $push argument, or None if it is unusual."""
    if isinstance(spec, Mapping) and spec and next(iter(spec)).startswith("$"):
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


_EXACT_TYPES = frozenset({str, bool, int, Int64, type(None), dt.datetime})


def _same(current: Any, value: Any) -> bool:
    """Whether storing `value` over `current` leaves the BSON unchanged (MongoDB's test)."""
    if type(current) is not type(value) and not (isinstance(current, Mapping)
                                                 and isinstance(value, Mapping)):
        return False  # 1 -> 1.0 is a change in MongoDB (the BSON type changes), though 1 == 1.0
    if type(current) in _EXACT_TYPES:
        return current == value
    return bson.encode({"v": current}) == bson.encode({"v": value})


def _elements(document: dict) -> bytes:
    """The encoded fields of `document` without the BSON length and terminator."""
    return bson.encode(document)[4:-1]


def _spliced(doc_id: Any, inserted: bytes, rest: dict) -> bytes:
    """`{_id, **inserted, **rest}` as BSON, copying the encoded `inserted` fields."""
    body = _elements({"_id": doc_id}) + inserted[4:-1] + (_elements(rest) if rest else b"")
    return _LENGTH.pack(len(body) + 5) + body + b"\0"


def fast_upsert(collection, statement: dict[str, Any],
                inserted: bytes | None = None) -> UpdateOutcome | None:
    """Apply one update statement by `_id`, or return None to use mongomock.

    `inserted`: the statement's `$setOnInsert`, already encoded, if at hand.
    """
    query, update = statement.get("q"), statement.get("u")
    if statement.get("multi") or statement.get("arrayFilters") or not isinstance(update, Mapping):
        return None
    if not isinstance(query, Mapping) or len(query) != 1 or not _scalar(query.get("_id")):
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
    if store.lending or store._ttl_indexes or any(i.get("unique") for i in store.indexes.values()):
        return None  # unique checks and expiry stay with mongomock

    doc_id = query["_id"]
    data = store.raw(doc_id)
    if data is None:
        if not statement.get("upsert"):
            return UpdateOutcome(0, 0)
        rest = dict(update.get("$set", {}))
        for name, (values, limit) in pushes.items():
            rest[name] = _pushed([], list(values), limit)
        if inserted is None:
            inserted = bson.encode(update.get("$setOnInsert", {}))
        store.put_raw(doc_id, _spliced(doc_id, inserted, rest),
                      {**update.get("$setOnInsert", {}), **rest})
        return UpdateOutcome(0, 0, doc_id)

    existing = top_level(data)  # embedded documents (the data) stay encoded
    for name in pushes:
        if name in existing and not isinstance(existing[name], list):
            return None  # MongoDB errors on $push to a non-array; mongomock reports it
    modified = False
    for name, value in update.get("$set", {}).items():
        current = existing.get(name, _MISSING)
        if current is _MISSING or not _same(current, value):
            existing[name] = value
            modified = True
    for name, (values, limit) in pushes.items():
        current = existing.get(name, [])
        new = _pushed(list(current), list(values), limit)
        if name not in existing or not _same(current, new):
            existing[name] = new
            modified = True
    if modified:
        store.put_raw(doc_id, bson.encode(existing), existing)
    return UpdateOutcome(1, int(modified))
