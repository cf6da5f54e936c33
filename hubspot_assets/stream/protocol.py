"""`RecordStream`: what a stage returns and the IO manager writes.

The IO manager consumes the records lazily (a stage's fetching happens while
MongoDB is written), then calls the two hooks below in this order. Both are
declared here so that a stage and the writer agree on them by type, not by
attribute lookup.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from typing import Any

from hubspot_assets.stream.records import StreamRecord


class StreamAborted(RuntimeError):
    """A stream stopped for a reason a retry cannot fix (a bad token, the daily budget
    spent); the orchestrator fails the step without retrying it."""


class RecordStream(abc.ABC):
    """An iterable of StreamRecord (a class, not a generator: Dagster treats a
    returned generator as a stream of events)."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[StreamRecord]:
        """The records, produced as the writer consumes them."""

    def on_written(self, run_id: str) -> None:
        """Every record is stored: commit what depends on that (e.g. watermarks).

        Never called after a failed write, so a failed run skips nothing.
        """

    def metadata(self) -> Mapping[str, Any]:
        """What the stream has to report, read once it is spent (counters are final)."""
        return {}
