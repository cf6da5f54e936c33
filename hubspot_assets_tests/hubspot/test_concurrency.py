"""Bounded concurrency helpers."""

import threading
import time

import pytest

from hubspot_assets.hubspot.concurrency import iter_concurrent, map_concurrent


def test_map_concurrent_keeps_order_and_bounds_work():
    live, peak, lock = [0], [0], threading.Lock()

    def work(i):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.01 * (i % 3))
        with lock:
            live[0] -= 1
        return i * i

    assert list(map_concurrent(work, range(40), max_workers=4)) == [i * i for i in range(40)]
    assert peak[0] <= 4


def test_map_concurrent_pulls_input_lazily():
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield i

    results = map_concurrent(lambda i: i, source(), max_workers=2, lookahead=4)
    assert next(results) == 0
    assert len(pulled) <= 5
    results.close()


def test_map_concurrent_raises_the_first_error():
    def work(i):
        if i == 3:
            raise ValueError("boom")
        return i

    with pytest.raises(ValueError, match="boom"):
        list(map_concurrent(work, range(10), max_workers=3))


def test_iter_concurrent_interleaves_and_applies_backpressure():
    produced = {"a": 0, "b": 0}

    def stream(name):
        for i in range(500):
            produced[name] += 1
            yield i

    it = iter_concurrent(stream, ["a", "b"], max_workers=2, buffer=10)
    first = [next(it) for _ in range(5)]
    time.sleep(0.1)
    assert sum(produced.values()) <= 5 + 10 + 2  # consumed + buffered + one in hand each
    rest = list(it)
    assert len(first) + len(rest) == 1000


def test_iter_concurrent_propagates_errors_and_stops_workers():
    def stream(name):
        yield 1
        if name == "bad":
            raise RuntimeError("bad stream")
        while True:
            yield 2
            time.sleep(0.001)

    with pytest.raises(RuntimeError, match="bad stream"):
        list(iter_concurrent(stream, ["good", "bad"], max_workers=2, buffer=5))
