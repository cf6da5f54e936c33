"""mongomock's store with every document held as encoded BSON.

mongomock keeps documents as Python dicts, ~3.5 times their BSON size (a
synced contact is ~9 KB of BSON), so a 100,000-contact sync did not fit in
memory. Here each collection maps `_id` to the document's BSON bytes; the
fast paths read and write those bytes directly (replies copy them as they
are), and mongomock's own code gets freshly decoded dicts.

Once the stand-in holds more than `Packing.threshold` bytes, large documents
are kept zlib-compressed (a synced contact's BSON is ~9 KB and compresses
4-5x), next to an uncompressed "head" of their small top-level fields: the
filters and projections the stages send read only those, so a scan never
inflates HubSpot's data. Below the threshold nothing is compressed, which
costs no CPU for test-sized data.

Indexes answer equality: for the first field of each index the store keeps
which documents hold which string or boolean value (array elements too), so
`{object_type: "contacts", archived: false}` reads the contacts only. Other
conditions scan, as before.

mongomock's general update changes the dicts it read in place and never
stores them again, so while it runs (`write_back()`) every document it is
handed stays decoded, is shared by every read in that scope, and is encoded
back when the scope ends.
"""

from __future__ import annotations

import contextlib
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any, Union

import bson
import mongomock
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from mongomock import store as mm_store
from pymongo.errors import OperationFailure

# Plain dicts, naive UTC datetimes: what mongomock stored when it got the
# documents straight from the wire.
DICT_CODEC = CodecOptions(document_class=dict)
# Top-level fields decoded, embedded documents left as bytes (RawBSONDocument).
RAW_CODEC = CodecOptions(document_class=RawBSONDocument)


_INT32 = struct.Struct("<i")
# Encoded sizes of BSON values by type byte: fixed, or read from the value.
_FIXED_SIZES = {0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8,
                0x12: 8, 0x13: 16, 0xFF: 0, 0x7F: 0}
_PREFIXED_SIZES = {0x02: 4, 0x0D: 4, 0x0E: 4, 0x03: 0, 0x04: 0, 0x0F: 0, 0x05: 5}
# The value types the equality fast path matches (see fastpaths._condition).
_INDEXED_TYPES = (str, bool)
#: MongoDB's limit on a stored document: 16 MiB is allowed, one byte more is not.
MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024
PACK_MIN_BYTES = 2048   # smaller documents compress poorly (events, edges: ~1.8x)
HEAD_MAX_FIELD_BYTES = 1024  # room for `seen_in` (8 tags of ~60 bytes)


class Packed:
    """A compressed document: `head` (its small top-level fields) and the whole."""

    __slots__ = ("head", "body", "omitted", "size")

    def __init__(self, data: bytes) -> None:
        kept, omitted = [], []
        for name, start, end in _top_level_elements(data):
            if end - start <= HEAD_MAX_FIELD_BYTES:
                kept.append(data[start:end])
            else:
                omitted.append(name)
        fields = b"".join(kept)
        self.head = _INT32.pack(len(fields) + 5) + fields + b"\0"
        # Fields only the whole document has; one shared set per shape (memory).
        key = tuple(omitted)
        self.omitted = _OMITTED.get(key) or _OMITTED.setdefault(key, frozenset(omitted))
        self.body = zlib.compress(data, 1)
        self.size = len(data)

    def stored_size(self) -> int:
        return len(self.head) + len(self.body)


Entry = Union[bytes, Packed]
_OMITTED: dict[tuple[str, ...], frozenset] = {}


def full(entry: Entry) -> bytes:
    """The document's BSON, whether stored plain or packed."""
    return entry if type(entry) is bytes else zlib.decompress(entry.body)


def _top_level_elements(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, start, end) of each top-level element of a BSON document."""
    position, end = 4, len(data) - 1
    while position < end:
        kind = data[position]
        name_end = data.index(b"\0", position + 1)
        value = name_end + 1
        if kind in _FIXED_SIZES:
            size = _FIXED_SIZES[kind]
        elif kind in _PREFIXED_SIZES:
            size = _PREFIXED_SIZES[kind] + _INT32.unpack_from(data, value)[0]
        elif kind == 0x0B:  # regex: pattern and options, two C strings
            size = data.index(b"\0", data.index(b"\0", value) + 1) + 1 - value
        elif kind == 0x0C:  # DBPointer: string and ObjectId
            size = 4 + _INT32.unpack_from(data, value)[0] + 12
        else:
            raise ValueError(f"unknown BSON type {kind:#x}")
        yield data[position + 1:name_end].decode("utf-8"), position, value + size
        position = value + size


class Packing:
    """When to compress: shared by every collection of one stand-in."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.stored = 0  # bytes held, compressed or not

    def pack(self, data: bytes) -> Entry:
        if self.stored < self.threshold or len(data) < PACK_MIN_BYTES:
            return data
        return Packed(data)


def _stored_size(entry: Entry | None) -> int:
    if entry is None:
        return 0
    return len(entry) if type(entry) is bytes else entry.stored_size()


def decode(data: bytes) -> dict[str, Any]:
    return bson.decode(data, DICT_CODEC)


def top_level(data: bytes) -> dict[str, Any]:
    """The top-level fields; embedded documents stay encoded (cheap to read, to copy)."""
    return dict(RawBSONDocument(data, RAW_CODEC).items())


class DocumentTooLarge(OperationFailure):
    """A document over MAX_BSON_OBJECT_SIZE; the code is an insert's (an update says its own)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"object to insert too large. size in bytes: {size}, max size: "
                         f"{MAX_BSON_OBJECT_SIZE}", code=10334)  # BSONObjectTooLarge


class EncodedCollectionStore(mm_store.CollectionStore):
    """One collection: `_id` -> BSON bytes (or Packed), in insertion order.

    No reader/writer lock: the command executor runs one command at a time.
    """

    def __init__(self, name: str, packing: Packing | None = None) -> None:
        self._buckets: dict[str, dict[tuple, dict[Any, None]]] = {}  # field -> value -> keys
        self._documents: dict[Any, Entry] = {}
        super().__init__(name)
        self._documents = {}
        self._lent: dict[Any, dict] | None = None  # decoded during write_back()
        self.packing = packing or Packing(threshold=1 << 62)
        self.data_size = 0  # BSON bytes, as MongoDB counts them

    # -- raw access (the fast paths) --------------------------------------------

    def raw(self, key: Any) -> bytes | None:
        """The stored BSON (stale for a document lent during write_back())."""
        entry = self._documents.get(key)
        return None if entry is None else full(entry)

    def entry(self, key: Any) -> Entry | None:
        return self._documents.get(key)

    def put_raw(self, key: Any, data: bytes, fields: Mapping | None = None) -> None:
        """Store `data`; `fields`: its top-level fields, if at hand (saves reading them).

        Every stored document passes here, so this is where MongoDB's size limit
        is kept: an oversized one is refused before anything changes.
        """
        if len(data) > MAX_BSON_OBJECT_SIZE:
            raise DocumentTooLarge(len(data))
        self._forget(key)
        if self._buckets:
            self._post(key, fields if fields is not None else RawBSONDocument(data, RAW_CODEC))
        entry = self._documents[key] = self.packing.pack(data)
        self.data_size += len(data)
        self.packing.stored += _stored_size(entry)
        if self._lent is not None:
            self._lent.pop(key, None)

    def _forget(self, key: Any) -> None:
        old = self._documents.get(key)
        if old is not None:
            if self._buckets:
                self._unpost(key, old)
            self.data_size -= len(old) if type(old) is bytes else old.size
            self.packing.stored -= _stored_size(old)

    def raw_snapshot(self) -> list[tuple[Any, Entry]]:
        """Every (key, entry) as of now: a scan may outlive later writes (open cursors).

        `full(entry)` is the BSON. Inside write_back() the bytes of a lent
        document are stale: read it through `decoded()`.
        """
        self._remove_expired_documents()
        return list(self._documents.items())

    @property
    def lending(self) -> bool:
        return self._lent is not None

    # -- equality indexes ------------------------------------------------------

    @property
    def indexes(self) -> dict:
        return self._indexes

    @indexes.setter
    def indexes(self, value: dict) -> None:  # mongomock assigns it (init, drop_indexes)
        self._indexes = value
        self._reindex()

    def create_index(self, index_name: str, index_dict: dict) -> None:
        super().create_index(index_name, index_dict)
        self._reindex()

    def drop_index(self, index_name: str) -> None:
        super().drop_index(index_name)
        self._reindex()

    def candidates(self, equalities: dict[str, list[Any]]) -> list[Any] | None:
        """Keys of every document that may hold one of the values, by the smallest index."""
        best = None
        for field, values in equalities.items():
            buckets = self._buckets.get(field)
            if buckets is None:
                continue
            keys: dict[Any, None] = {}
            for value in values:
                keys.update(buckets.get((type(value), value), ()))
            if best is None or len(keys) < len(best):
                best = keys
        return None if best is None else list(best)

    def _reindex(self) -> None:
        fields = {info["key"][0][0] for info in self._indexes.values() if info.get("key")}
        fields = {f for f in fields if f != "_id" and "." not in f and not f.startswith("$")}
        if fields == set(self._buckets):
            return
        self._buckets = {field: {} for field in fields}
        for key, entry in self._documents.items():
            self._post(key, self._indexed_view(entry))

    def _tokens(self, document: Mapping) -> Iterator[tuple[dict, tuple]]:
        """(buckets of a field, token) for each indexed value `document` holds."""
        for field, buckets in self._buckets.items():
            value = document.get(field)
            for item in value if type(value) is list else (value,):
                if type(item) in _INDEXED_TYPES:
                    yield buckets, (type(item), item)

    def _post(self, key: Any, document: Mapping) -> None:
        for buckets, token in self._tokens(document):
            buckets.setdefault(token, {})[key] = None

    def _unpost(self, key: Any, entry: Entry) -> None:
        # Read back from the stored document rather than remembered per document:
        # overwrites are rare next to inserts, memory is not.
        for buckets, token in self._tokens(self._indexed_view(entry)):
            bucket = buckets.get(token)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del buckets[token]

    def _indexed_view(self, entry: Entry) -> Mapping:
        if type(entry) is Packed and not (entry.omitted & self._buckets.keys()):
            return RawBSONDocument(entry.head, RAW_CODEC)
        return RawBSONDocument(full(entry), RAW_CODEC)

    # -- decoded documents ------------------------------------------------

    def peek(self, key: Any, entry: Entry) -> dict:
        """The current dict of `key` (stored as `entry`), without lending it."""
        if self._lent is not None:
            document = self._lent.get(key)
            if document is not None:
                return document
        return decode(full(entry))

    def decoded(self, key: Any, entry: Entry, document: dict | None = None) -> dict:
        """`entry` (stored under `key`) as a dict; inside write_back() the shared one."""
        if self._lent is None:
            return document if document is not None else decode(full(entry))
        lent = self._lent.get(key)
        if lent is None:
            lent = self._lent[key] = document if document is not None else decode(full(entry))
        return lent

    def __contains__(self, key: Any) -> bool:
        self._remove_expired_documents()
        return key in self._documents

    def __getitem__(self, key: Any) -> dict:
        self._remove_expired_documents()
        return self.decoded(key, self._documents[key])

    def __setitem__(self, key: Any, value: dict) -> None:
        self.put_raw(key, bson.encode(value), value)
        if self._lent is not None:
            self._lent[key] = value  # mongomock may still change it (e.g. after an insert)

    def __delitem__(self, key: Any) -> None:
        self._forget(key)
        del self._documents[key]
        if self._lent is not None:
            self._lent.pop(key, None)

    def __len__(self) -> int:
        self._remove_expired_documents()
        return len(self._documents)

    @property
    def is_empty(self) -> bool:
        return len(self) == 0

    @property
    def documents(self) -> Iterator[dict]:
        for key, data in self.raw_snapshot():
            yield self.decoded(key, data)

    def drop(self) -> None:
        self._buckets = {}  # all going: no need to unpost document by document
        for key in list(self._documents):
            self._forget(key)
        super().drop()
        self._documents = {}
        self._lent = None
        self.data_size = 0

    def _expire_documents(self, index: dict) -> None:
        # mongomock's version reads the dicts directly.
        try:
            expiry = int(index["expireAfterSeconds"])
        except ValueError:
            return
        if len(index["key"]) > 1:
            return
        field = next(iter(index["key"]))[0]
        now = mongomock.utcnow()
        for key, data in list(self._documents.items()):
            if self._value_meets_expiry(self.peek(key, data).get(field), expiry, now):
                del self[key]

    @contextlib.contextmanager
    def write_back(self) -> Iterator[None]:
        """Scope of a mongomock update: documents it reads are shared and stored again."""
        if self._lent is not None:  # nested (findAndModify calls update)
            yield
            return
        self._lent = {}
        try:
            yield
        finally:
            try:
                self._write_back()  # may refuse a document grown too large
            finally:
                self._lent = None

    def _write_back(self) -> None:
        lent, self._lent = self._lent, {}
        for key, document in lent.items():
            if key in self._documents:
                self.put_raw(key, bson.encode(document), document)


class EncodedDatabaseStore(mm_store.DatabaseStore):
    def __init__(self, packing: Packing) -> None:
        super().__init__()
        self.packing = packing

    def __getitem__(self, name: str) -> EncodedCollectionStore:
        collection = self._collections.get(name)
        if collection is None:
            collection = self._collections[name] = EncodedCollectionStore(name, self.packing)
        return collection

    def rename(self, name: str, new_name: str) -> None:
        collection = (self._collections.pop(name, None)
                      or EncodedCollectionStore(new_name, self.packing))
        collection.name = new_name
        self._collections[new_name] = collection


class EncodedServerStore(mm_store.ServerStore):
    """Pass as `mongomock.MongoClient(_store=...)`: every collection stores BSON,
    compressing large documents once `compress_above` bytes are held."""

    def __init__(self, compress_above: int = 1 << 62) -> None:
        super().__init__()
        self.packing = Packing(compress_above)

    def __getitem__(self, name: str) -> EncodedDatabaseStore:
        database = self._databases.get(name)
        if database is None:
            database = self._databases[name] = EncodedDatabaseStore(self.packing)
        return database
