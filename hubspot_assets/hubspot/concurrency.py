"""Run many fetches at once with bounded memory.

The in-flight bound on HTTP requests lives in the transport; these helpers only
decide how much work is *queued*: the input is pulled lazily and at most a
fixed number of results wait to be consumed (backpressure), so memory does not
grow with the input or result size.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()


def map_concurrent(fn: Callable[[T], R], items: Iterable[T], *, max_workers: int,
                   lookahead: int | None = None) -> Iterator[R]:
    """Yield `fn(item)` for every item, in input order, computing up to
    `max_workers` at once and holding at most `lookahead` unconsumed results.

    The first exception raised by `fn` is re-raised when its result is reached;
    work not yet started is cancelled.
    """
    lookahead = max(lookahead or 2 * max_workers, 1)
    pending: deque[Future] = deque()
    pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="hubspot-map")
    try:
        for item in items:
            # Each call in a copy of the caller's context (e.g. stats.current_unit).
            pending.append(pool.submit(contextvars.copy_context().run, fn, item))
            while len(pending) >= lookahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def iter_concurrent(fn: Callable[[T], Iterable[R]], items: Iterable[T], *, max_workers: int,
                    buffer: int = 1000) -> Iterator[tuple[T, R]]:
    """Drain the iterables `fn(item)` for up to `max_workers` items at once and yield
    `(item, value)` pairs as they arrive (interleaved across items).

    Workers block when `buffer` values wait unconsumed. On the first error every
    worker stops and the error is raised to the consumer.
    """
    out: queue.Queue = queue.Queue(maxsize=max(buffer, 1))
    stop = threading.Event()
    source = iter(items)
    source_lock = threading.Lock()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                out.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            while not stop.is_set():
                with source_lock:
                    item = next(source, _END)
                if item is _END:
                    break
                for value in fn(item):
                    if not put((item, value)):
                        return
        except BaseException as exc:  # handed to the consumer thread
            put(_Failure(exc))
        finally:
            put(_END)

    # Each worker in its own copy of the caller's context (e.g. stats.current_unit).
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker,),
                                name=f"hubspot-iter-{i}", daemon=True)
               for i in range(max(max_workers, 1))]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(threads):
            value = out.get()
            if value is _END:
                finished += 1
            elif isinstance(value, _Failure):
                raise value.exc
            else:
                yield value
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
