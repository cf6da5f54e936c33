"""What every stage asset shares: partitions, policies, and the record stream it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from hubspot_assets.extract.report import FATAL_ERRORS, StageReport
from hubspot_assets.incremental.checkpoint import Checkpoint
from hubspot_assets.mongo.documents import StreamRecord
from hubspot_assets.partitions import source_partitions
from hubspot_assets.registry import RegistryError, Source

GROUP = "hubspot"
POOL = "hubspot_api"
OWNERS = ["team:data-platform"]
KINDS = {"hubspot", "mongodb"}
STREAM_IO_MANAGER = "stream_io_manager"

# Transient trouble (a HubSpot outage, MongoDB failover) deserves a later try;
# fatal errors (bad token, daily budget) raise Failure(allow_retries=False).
STAGE_RETRY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def stage_asset(*, description: str, code_version: str, **kwargs: Any):
    """``@dg.asset`` with the settings every stage shares."""
    return dg.asset(
        description=description,
        code_version=code_version,
        partitions_def=source_partitions,
        group_name=GROUP,
        kinds=KINDS,
        owners=OWNERS,
        pool=POOL,
        retry_policy=STAGE_RETRY,
        io_manager_key=STREAM_IO_MANAGER,
        **kwargs,
    )


class StageStream:
    """The records of one stage run, produced lazily as the IO manager writes them.

    It owns the HubSpot client: the client must live until the last record is
    fetched, which happens after the asset function has returned, so the stream
    closes it. ``metadata()`` is read by the IO manager once the stream is spent;
    ``on_written()`` is called by it once every record is stored, and commits
    the run's watermarks (never earlier: a failed run must not skip data).
    """

    def __init__(self, produce: Callable[[], Iterator[StreamRecord]], report: StageReport,
                 client: Any, checkpoint: Checkpoint | None = None):
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
            raise dg.Failure(
                description=f"source {self.report.source_id}, stage {self.report.stage}: {exc}",
                allow_retries=False,
            ) from None
        finally:
            self._client.close()

    def on_written(self, summary: Any) -> None:
        """The IO manager stored every record: advance the watermarks."""
        if self._checkpoint is not None:
            self._checkpoint.commit(summary.run_id)

    def metadata(self) -> dict[str, Any]:
        """Stage counts, API usage and errors (and sync mode), as Dagster metadata."""
        stats = self._client.stats.snapshot()
        report = self.report.metadata()
        details = report.pop("error_details")
        return {
            **(self._checkpoint.metadata() if self._checkpoint else {}),
            **report,
            "api_calls": stats.get("calls_total", 0),
            "http_429s": stats.get("rate_limited_429s", 0),
            "retries": stats.get("retries", 0),
            "limiter_wait_seconds": round(float(stats.get("limiter_wait_seconds", 0.0)), 3),
            "api_usage": dg.MetadataValue.json(stats),
            "error_details": dg.MetadataValue.json(details),
        }


def open_stage(context: dg.AssetExecutionContext, hubspot: Any):
    """The source, a fresh client and an empty report for this partition's stage run.

    A configuration problem (unknown source, missing token variable) fails the
    step at once: retrying cannot fix it.
    """
    try:
        source = hubspot.source(context.partition_key)
        client = hubspot.open_client(source)
    except RegistryError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return source, client, StageReport(context.asset_key.path[-1], source.id)


def stream_stage(
    context: dg.AssetExecutionContext,
    hubspot: Any,
    produce: Callable[[Any, Source, StageReport], Iterator[StreamRecord]],
    checkpoint: Checkpoint | None = None,
) -> StageStream:
    """The stage's record stream: ``produce(client, source, report)``, run as the IO manager writes.

    ``checkpoint``: the watermarks to commit once the stream is stored.
    """
    source, client, report = open_stage(context, hubspot)
    return StageStream(lambda: produce(client, source, report), report, client, checkpoint)


def stored_data(stream: Any) -> list[dict[str, Any]]:
    """The ``data`` of every document an upstream stage wrote (small stages only)."""
    return [document["data"] for document in stream]
