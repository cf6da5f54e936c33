"""Injected faults: which request gets which wrong answer.

A fault replaces the response to one API request and never touches account
state. Choices come from one RNG seeded by `fault_seed`, so a single-threaded
client sees the same fault sequence on every run.
"""

from __future__ import annotations

import random
import threading

from .config import CURSOR_FAULT, KNOWN_FAULT_KINDS

HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>502 Bad Gateway</h1><p>The server returned an invalid or incomplete "
    "response.</p><hr><p>cloudflare</p></body></html>"
)
NON_JSON_BODY = "upstream connect error or disconnect/reset before headers. reset reason: overflow"


class FaultInjector:
    def __init__(self, rate: float, kinds: tuple[str, ...], seed: int):
        self._lock = threading.Lock()
        self._failing: dict[str, int] = {}  # cursor -> failures still to answer
        self.configure(rate, kinds, seed)

    def configure(self, rate: float, kinds, seed: int) -> None:
        kinds = tuple(kinds)
        unknown = set(kinds) - set(KNOWN_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        with self._lock:
            self.rate = float(rate)
            self.kinds = kinds
            self.seed = seed
            self._rng = random.Random(seed)
            self._failing.clear()

    def draw(self) -> str | None:
        """The fault kind for the next API request, or None (answer normally)."""
        if self.rate <= 0 or not self.kinds:
            return None
        with self._lock:
            roll = self._rng.random()
            kind = self.kinds[self._rng.randrange(len(self.kinds))]
        return kind if roll < self.rate else None

    def cursor_fails(self, cursor: str | None, drawn: str | None, failures: int) -> bool:
        """Whether a request carrying paging `cursor` fails.

        A drawn `cursor` fault makes that cursor fail `failures` times in a row,
        whoever asks for it: more than a client's retries, so only resuming the
        listing later recovers.
        """
        if not cursor:
            return False
        with self._lock:
            left = self._failing.pop(cursor, 0) or (failures if drawn == CURSOR_FAULT else 0)
            if left > 1:
                self._failing[cursor] = left - 1
        return left > 0
