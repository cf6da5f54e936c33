"""Run several lazy producers at once and consume their items as one stream.

Each stage fetches many independent units (object types, event types,
association pairs). Fetching them one after another leaves most of the rate
budget unused while we wait on latency, so units run on a bounded thread pool
and push into a bounded queue: memory stays flat because a slow consumer
(MongoDB) blocks the producers instead of letting items pile up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


class _Submitted:
    __slots__ = ("count",)

    def __init__(self, count: int):
        self.count = count


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


def interleave(
    units: Iterable[U],
    produce: Callable[[U], Iterable[T]],
    *,
    max_workers: int,
    queue_size: int = 2000,
) -> Iterator[T]:
    """Yield every item of ``produce(unit)`` for all units, ``max_workers`` units at a time.

    ``units`` is read lazily (it may be a database cursor), so a million
    association batches never sit in memory at once. An exception escaping
    ``produce`` or ``units`` stops every unit and is re-raised to the consumer;
    per-unit errors that should not stop the stage must be handled inside
    ``produce``. Closing the iterator early stops the producers too.
    """
    max_workers = max(1, max_workers)
    items: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()
    slots = threading.Semaphore(max_workers)

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run(unit: U) -> None:
        try:
            for item in produce(unit):
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failure(exc))
        finally:
            slots.release()
            put(_DONE)

    def feed(pool: ThreadPoolExecutor) -> None:
        submitted = 0
        try:
            for unit in units:
                while not slots.acquire(timeout=0.2):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                pool.submit(run, unit)
                submitted += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_Failure(exc))
        finally:
            put(_Submitted(submitted))

    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hubspot-unit")
    feeder = threading.Thread(target=feed, args=(pool,), name="hubspot-feeder", daemon=True)
    feeder.start()
    done, total = 0, None
    try:
        while total is None or done < total:
            item = items.get()
            if item is _DONE:
                done += 1
            elif isinstance(item, _Submitted):
                total = item.count
            elif isinstance(item, _Failure):
                raise item.error
            else:
                yield item
    finally:
        stop.set()
        feeder.join()
        pool.shutdown(wait=True, cancel_futures=True)
