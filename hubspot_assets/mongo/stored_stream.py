"""What `load_input` returns: a lazy, re-iterable view over stored documents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.collections import runs_collection, stream_collection
from hubspot_assets.stream.naming import SourceNames
from hubspot_assets.stream.records import StreamRecord, to_record


class StoredStream:
    """A query over a stream collection; nothing is read until iterated.

    Each iteration opens a new server cursor and fetches `batch_size`
    documents per round trip, so a stage's output is never held in memory.
    """

    def __init__(self, collection: Collection, query: Mapping[str, Any] | None = None,
                 projection: Mapping[str, Any] | None = None, batch_size: int = 1000,
                 sort: list[tuple[str, int]] | None = None) -> None:
        self._collection = collection
        self._query = dict(query or {})
        self._projection = dict(projection) if projection is not None else None
        self._batch_size = batch_size
        self._sort = sort

    @property
    def collection(self) -> Collection:
        return self._collection

    @property
    def query(self) -> dict[str, Any]:
        return dict(self._query)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        cursor = self._collection.find(self._query, self._projection,
                                       batch_size=self._batch_size, sort=self._sort)
        with cursor:  # closes the server cursor if the caller stops early
            yield from cursor

    def filter(self, criteria: Mapping[str, Any] | None = None, /, *,
               projection: Mapping[str, Any] | None = None,
               sort: list[tuple[str, int]] | None = None,
               **fields: Any) -> StoredStream:
        """A narrower stream: `criteria` (a MongoDB filter) and `fields` are ANDed in.

        `s.filter(kind="object", object_type="contacts")`,
        `s.filter({"data.archived": True}, projection={"data": 1})`.
        """
        extra = {**(criteria or {}), **fields}
        if not extra:
            query = self._query
        elif not set(extra) & set(self._query):
            query = {**self._query, **extra}
        else:
            query = {"$and": [self._query, extra]}
        return StoredStream(
            self._collection, query,
            projection if projection is not None else self._projection,
            self._batch_size, sort if sort is not None else self._sort,
        )

    def count(self) -> int:
        """Number of matching documents (counted by the server)."""
        return self._collection.count_documents(self._query)

    def distinct(self, key: str) -> list[Any]:
        return self._collection.distinct(key, self._query)

    def records(self) -> Iterator[StreamRecord]:
        """Iterate as StreamRecord (needs the record fields in the projection)."""
        for document in self:
            yield to_record(document)

    def __repr__(self) -> str:
        # Never show the client: its repr would contain the host list.
        return f"StoredStream({self._collection.full_name!r}, query={self._query!r})"


def latest_stream(db: Database, source_id: str, stage: str,
                  batch_size: int = 1000) -> StoredStream | None:
    """What `stage` wrote for `source_id` in its latest finished run, or None if it never ran."""
    key = SourceNames(source_id).stage_key(stage)
    latest = runs_collection(db).find_one({"_id": key}, {"seen_tag": 1})
    if latest is None:
        return None
    return StoredStream(stream_collection(db, source_id), {"seen_in": latest["seen_tag"]},
                        batch_size=batch_size)
