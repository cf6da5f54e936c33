"""Server-side cursors: batches of pre-encoded documents, ids, expiry."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator
from typing import Any

import bson
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

DEFAULT_FIRST_BATCH = 101          # MongoDB's default for find/aggregate
MAX_BATCH_BYTES = 16 * 1024 * 1024  # a reply must fit under maxMessageSizeBytes
IDLE_TIMEOUT_S = 600.0             # MongoDB kills idle cursors after 10 minutes


class CursorNotFound(KeyError):
    pass


class _Cursor:
    __slots__ = ("ns", "docs", "last_used")

    def __init__(self, ns: str, docs: Iterator[Any]) -> None:
        self.ns = ns
        self.docs = docs
        self.last_used = time.monotonic()


def _encode(document: Any) -> RawBSONDocument:
    # Encoding once here lets the reply be assembled by copying bytes and
    # lets us measure the batch size exactly.
    if isinstance(document, RawBSONDocument):
        return document
    return RawBSONDocument(bson.encode(document))


class CursorRegistry:
    """Open cursors by id. Not thread-safe: the executor's lock guards it."""

    def __init__(self) -> None:
        self._cursors: dict[int, _Cursor] = {}

    def take(self, docs: Iterator[Any], limit: int | None) -> tuple[list[RawBSONDocument], bool]:
        """Up to `limit` documents (all if None) within MAX_BATCH_BYTES; True if exhausted."""
        batch: list[RawBSONDocument] = []
        size = 0
        while limit is None or len(batch) < limit:
            try:
                document = next(docs)
            except StopIteration:
                return batch, True
            raw = _encode(document)
            if batch and size + len(raw.raw) > MAX_BATCH_BYTES:
                # Too big for this reply: keep it for the next getMore.
                self._pushback = raw
                return batch, False
            batch.append(raw)
            size += len(raw.raw)
        # Full batch: look one ahead so an exactly-consumed cursor reports id 0
        # instead of costing the client an empty getMore.
        try:
            self._pushback = _encode(next(docs))
        except StopIteration:
            return batch, True
        return batch, False

    def first_batch(self, ns: str, docs: Iterator[Any], batch_size: int | None,
                    single_batch: bool = False) -> dict[str, Any]:
        self._expire_idle()
        self._pushback = None
        batch, exhausted = self.take(docs, batch_size or DEFAULT_FIRST_BATCH)
        cursor_id = 0
        if not exhausted and not single_batch:
            cursor_id = self._register(ns, self._with_pushback(docs))
        elif not exhausted:
            _close(docs)
        return {"cursor": {"firstBatch": batch, "id": Int64(cursor_id), "ns": ns}, "ok": 1.0}

    def get_more(self, cursor_id: int, batch_size: int | None) -> dict[str, Any]:
        cursor = self._cursors.get(int(cursor_id))
        if cursor is None:
            raise CursorNotFound(cursor_id)
        self._pushback = None
        batch, exhausted = self.take(cursor.docs, batch_size or None)
        if self._pushback is not None:
            cursor.docs = itertools.chain([self._pushback], cursor.docs)
        cursor.last_used = time.monotonic()
        if exhausted:
            del self._cursors[int(cursor_id)]
            cursor_id = 0
        return {"cursor": {"nextBatch": batch, "id": Int64(cursor_id), "ns": cursor.ns},
                "ok": 1.0}

    def kill(self, cursor_ids: list[int]) -> tuple[list[Int64], list[Int64]]:
        killed, missing = [], []
        for cursor_id in cursor_ids:
            cursor = self._cursors.pop(int(cursor_id), None)
            if cursor is None:
                missing.append(Int64(cursor_id))
            else:
                _close(cursor.docs)
                killed.append(Int64(cursor_id))
        return killed, missing

    def drop_namespace(self, prefix: str) -> None:
        """Forget cursors over a dropped collection or database."""
        for cursor_id in [i for i, c in self._cursors.items()
                          if c.ns == prefix or c.ns.startswith(prefix + ".")]:
            del self._cursors[cursor_id]

    def __len__(self) -> int:
        return len(self._cursors)

    def _with_pushback(self, docs: Iterator[Any]) -> Iterator[Any]:
        if self._pushback is not None:
            return itertools.chain([self._pushback], docs)
        return docs

    def _register(self, ns: str, docs: Iterator[Any]) -> int:
        while True:
            cursor_id = random.getrandbits(62) + 1
            if cursor_id not in self._cursors:
                break
        self._cursors[cursor_id] = _Cursor(ns, docs)
        return cursor_id

    def _expire_idle(self) -> None:
        deadline = time.monotonic() - IDLE_TIMEOUT_S
        for cursor_id in [i for i, c in self._cursors.items() if c.last_used < deadline]:
            _close(self._cursors.pop(cursor_id).docs)


def _close(docs: Iterator[Any]) -> None:
    close = getattr(docs, "close", None)
    if close is not None:
        close()
