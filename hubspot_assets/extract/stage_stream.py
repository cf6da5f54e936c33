"""`StageStream`: one stage run's records, fetched while the IO manager writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from hubspot_assets.extract.units import FATAL_ERRORS, StageReport
from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.stream.protocol import RecordStream, StreamAborted
from hubspot_assets.stream.records import StreamRecord
from hubspot_assets.sync.checkpoint import Checkpoint


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
        try:
            for record in self._produce():
                self.produced += 1
                yield record
            self.report.check_not_empty(self.produced)
        except FATAL_ERRORS as exc:
            raise StreamAborted(
                f"source {self.report.source_id}, stage {self.report.stage}: {exc}") from None
        finally:
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
            "limiter_wait_seconds": round(float(stats.get("limiter_wait_seconds", 0.0)), 3),
            "api_usage": stats,
        }
