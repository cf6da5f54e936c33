"""Bulk writes in batches of 1,000, counting what they did."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from pymongo.collection import Collection

T = TypeVar("T")
BATCH_SIZE = 1000


def batched(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class Written:
    inserted: int = 0
    modified: int = 0


def write(collection: Collection, operations: list[Any]) -> Written:
    """One unordered bulk write (nothing to send: nothing done)."""
    if not operations:
        return Written()
    result = collection.bulk_write(operations, ordered=False)
    return Written(result.upserted_count, result.modified_count)
