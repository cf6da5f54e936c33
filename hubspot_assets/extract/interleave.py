"""Run a stage's units at once and consume their items as one stream.

Each stage fetches many independent units (object types, event types,
association batches). Fetching them one after another leaves most of the rate
budget unused while we wait on latency, so units run on a bounded set of
threads feeding a bounded buffer (the client's ``iter_concurrent``): memory
stays flat because a slow consumer (MongoDB) blocks the producers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from hubspot_assets.hubspot.concurrency import iter_concurrent

T = TypeVar("T")
U = TypeVar("U")


def interleave(
    units: Iterable[U],
    produce: Callable[[U], Iterable[T]],
    *,
    max_workers: int,
    queue_size: int = 2000,
) -> Iterator[T]:
    """Yield every item of ``produce(unit)`` for all units, ``max_workers`` units at a time.

    ``units`` is read lazily (it may be a database cursor). An exception
    escaping ``produce`` stops every unit and reaches the consumer; per-unit
    errors that should not stop the stage are handled inside ``produce``.
    Closing the iterator early stops the producers too.
    """
    for _, item in iter_concurrent(produce, units, max_workers=max_workers, buffer=queue_size):
        yield item
