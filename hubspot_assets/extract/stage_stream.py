"""`StageStream`: one stage run's records, fetched while the IO manager writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hubspot_assets.extract.units import FATAL_ERRORS, StageReport
from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.stream.protocol import RecordStream, StreamAborted
from hubspot_assets.stream.records import StreamRecord
from hubspot_assets.sync.checkpoint import Checkpoint

#: How often (seconds) the consuming thread hands the report's messages to the log.
FLUSH_SECONDS = 1.0


class StageStream(RecordStream):
    """The records of one stage run, produced lazily as the IO manager writes them.

    It owns the HubSpot client: the client must live until the last record is
    fetched, which happens after the asset function has returned, so the stream
    closes it. Once every record is stored, ``on_written`` commits the run's
    watermarks (never earlier: a failed run must not skip data).
    """

    def __init__(self, produce: Callable[[], Iterator[StreamRecord]], report: StageReport,
                 client: HubSpotClient, checkpoint: Checkpoint | None = None):
        self._produce = produce
        self._client = client
        self._checkpoint = checkpoint
        self.report = report
        self.produced = 0

    def __iter__(self) -> Iterator[StreamRecord]:
        report = self.report
        # The report's messages (progress, skipped and failed units) reach the
        # log from this thread: looking at the clock once a second is enough.
        next_flush = report.clock() + FLUSH_SECONDS
        try:
            for record in self._produce():
                self.produced += 1
                yield record
                if report.clock() >= next_flush:
                    report.flush()
                    next_flush = report.clock() + FLUSH_SECONDS
            self.report.check_not_empty(self.produced)
        except FATAL_ERRORS as exc:
            raise StreamAborted(
                f"source {self.report.source_id}, stage {self.report.stage}: {exc}") from None
        finally:
            report.flush()
            self._client.close()

    def on_written(self, run_id: str) -> None:
        """Every record is stored: advance the watermarks."""
        if self._checkpoint is not None:
            self._checkpoint.commit(run_id)

    def metadata(self) -> dict[str, Any]:
        """Stage counts, API usage and errors (and sync mode), as plain values."""
        stats = self._client.stats.snapshot()
        return {
            **(self._checkpoint.metadata() if self._checkpoint else {}),
            **self.report.metadata(),
            "api_calls": stats.get("calls_total", 0),
            "http_429s": stats.get("rate_limited_429s", 0),
            "retries": stats.get("retries", 0),
            # Each worker's wait is added: with 8 workers, 8 s of it may pass in 1 s.
            "limiter_wait_seconds_summed_over_workers": round(
                float(stats.get("limiter_wait_seconds", 0.0)), 3),
            "api_usage": stats,
            "unit_table": self.report.unit_rows(self._client.stats.unit_calls()),
        }
