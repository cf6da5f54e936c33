"""What every stage asset shares: partitions, policies, and the record stream it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.extract.stage_stream import StageStream
from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.registry import RegistryError, Source
from hubspot_assets.stream.naming import stage_name
from hubspot_assets.stream.records import StreamRecord
from hubspot_assets.sync.checkpoint import Checkpoint

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


def source_asset(*, description: str, code_version: str, **kwargs: Any):
    """``@dg.asset`` partitioned by source id, with the house's group and owners."""
    return dg.asset(description=description, code_version=code_version,
                    partitions_def=source_partitions, group_name=GROUP, owners=OWNERS, **kwargs)


def stage_asset(*, description: str, code_version: str, **kwargs: Any):
    """:func:`source_asset` with what every HubSpot stage shares: the API pool, retries
    and the stream IO manager."""
    return source_asset(description=description, code_version=code_version, kinds=KINDS,
                        pool=POOL, retry_policy=STAGE_RETRY, io_manager_key=STREAM_IO_MANAGER,
                        **kwargs)


def stage_of(context: dg.AssetExecutionContext) -> str:
    """The stage this asset run is (the last part of its asset key)."""
    return stage_name(context.asset_key.path)


def stream_stage(
    context: dg.AssetExecutionContext,
    hubspot: HubSpotResource,
    produce: Callable[[HubSpotClient, Source, StageReport], Iterator[StreamRecord]],
    checkpoint: Checkpoint | None = None,
) -> StageStream:
    """The stage's record stream: ``produce(client, source, report)``, run as the IO manager writes.

    ``checkpoint``: the watermarks to commit once the stream is stored. A
    configuration problem (unknown source, missing token variable) fails the
    step at once: retrying cannot fix it.
    """
    try:
        source = hubspot.source(context.partition_key)
        client = hubspot.open_client(source)
    except RegistryError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    report = StageReport(stage_of(context), source.id)
    return StageStream(lambda: produce(client, source, report), report, client, checkpoint)


def stored_data(stream: Any, kind: str | None = None) -> list[dict[str, Any]]:
    """The ``data`` of every document an upstream stage wrote (small stages only),
    or of its documents of one ``kind``.

    Stubs (``data: null``, a record MongoDB could not store) are left out: the
    writer already recorded each one as an error.
    """
    if kind is not None:  # the server selects them when it can
        stream = (stream.filter(kind=kind) if hasattr(stream, "filter")
                  else [d for d in stream if d.get("kind") == kind])
    return [document["data"] for document in stream if document.get("data") is not None]
