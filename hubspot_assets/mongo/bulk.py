"""The one bulk writer: unordered bulk writes that survive a dropped connection.

Every write the product makes in bulk (the stream writer, consolidation) goes
through :func:`bulk_write`. Each caller's operations are idempotent (upserts
by `_id`, updates conditioned on the stored version), so a batch whose outcome
a dropped connection left unknown is simply sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError
from pymongo.results import BulkWriteResult

T = TypeVar("T")
BATCH_SIZE = 1000
#: Sends of one batch in all when connections drop (failover, restart).
WRITE_ATTEMPTS = 4

log = logging.getLogger(__name__)


def batched(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, read lazily."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def bulk_write(collection: Collection, operations: list[Any]) -> BulkWriteResult:
    """One unordered bulk write, sent again (with backoff) after a dropped connection.

    A BulkWriteError (per-document errors) is the caller's to handle.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return collection.bulk_write(operations, ordered=False)
        except ServerSelectionTimeoutError:
            raise  # no server for the whole selection timeout: waiting more will not help
        except AutoReconnect as exc:
            if attempt == WRITE_ATTEMPTS:
                raise
            delay = 0.5 * 2 ** (attempt - 1)
            log.warning("MongoDB connection lost during a bulk write to %s (%s); sending the "
                        "batch again in %.1fs (attempt %d of %d)", collection.name,
                        type(exc).__name__, delay, attempt + 1, WRITE_ATTEMPTS)
            time.sleep(delay)
    raise AssertionError("unreachable")


@dataclass
class Written:
    """What one bulk write did."""

    inserted: int = 0
    modified: int = 0
    upserted_ids: set[Any] = field(default_factory=set)


def write(collection: Collection, operations: list[Any]) -> Written:
    """:func:`bulk_write`, counted (nothing to send: nothing done)."""
    if not operations:
        return Written()
    result = bulk_write(collection, operations)
    return Written(result.upserted_count, result.modified_count,
                   set(result.upserted_ids.values()))
