"""interleave: concurrent producers, one bounded stream."""

import threading
import time

import pytest

from hubspot_assets.extract.interleave import interleave


def test_every_item_of_every_unit_arrives_once():
    out = list(interleave(range(50), lambda u: [(u, i) for i in range(7)], max_workers=4))
    assert sorted(out) == [(u, i) for u in range(50) for i in range(7)]


def test_units_run_concurrently_up_to_the_bound():
    running, peak, lock = 0, 0, threading.Lock()

    def produce(unit):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        yield unit

    assert sorted(interleave(range(12), produce, max_workers=3)) == list(range(12))
    assert peak == 3


def test_units_are_read_lazily():
    pulled = []

    def units():
        for u in range(1000):
            pulled.append(u)
            yield u

    stream = interleave(units(), lambda u: [u], max_workers=2, queue_size=4)
    next(stream)
    time.sleep(0.1)
    # Only a bounded number of units were taken from the source before the consumer asked.
    assert len(pulled) < 20
    stream.close()


def test_a_failing_unit_stops_the_stream_and_reaches_the_consumer():
    def produce(unit):
        yield unit
        if unit == 3:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        list(interleave(range(10), produce, max_workers=2))


def test_closing_early_stops_the_producers():
    before = threading.active_count()
    stream = interleave(range(100), lambda u: iter(range(10**6)), max_workers=4, queue_size=8)
    next(stream)
    stream.close()
    time.sleep(0.3)
    assert threading.active_count() <= before
