"""What every stage asset shares: partitions, policies, and the record stream it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from hubspot_assets.defs.checks import stage_check_result, stage_check_spec
from hubspot_assets.defs.partitions import source_partitions
from hubspot_assets.defs.resources import HubSpotResource
from hubspot_assets.defs.runs import SOURCE_TAG, mode_of, run_tags, trigger_of
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
#: The steps up to object_records go first wherever steps wait for a slot (and, in one
#: process, before events, whose per-object fallback waits for the records).
RECORDS_CHAIN = {"dagster/priority": "1"}

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
    """:func:`source_asset` with what every HubSpot stage shares: the API pool, retries,
    the stream IO manager and the ``units_complete`` check (see :func:`run_stage`)."""

    def decorate(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        return source_asset(description=description, code_version=code_version, kinds=KINDS,
                            pool=POOL, retry_policy=STAGE_RETRY,
                            io_manager_key=STREAM_IO_MANAGER,
                            check_specs=[stage_check_spec(dg.AssetKey(fn.__name__))],
                            **kwargs)(fn)

    return decorate


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
    tag_run(context)
    stage = stage_of(context)
    report = StageReport(stage, source.id, counters=STAGE_COUNTERS.get(stage, ()),
                         interval=hubspot.settings.progress_seconds)
    report.queue_to(step_log(context))
    return StageStream(lambda: produce(client, source, report), report, client, checkpoint)


#: Counters each stage always reports (0 when nothing was counted), so that a key
#: means the same, and is there, on full and incremental runs alike.
STAGE_COUNTERS: dict[str, tuple[str, ...]] = {
    "custom_object_schemas": ("schemas", "skipped"),
    "object_download_list": ("types_ready", "properties", "property_definitions", "skipped"),
    "object_records": ("records", "archived_records", "modified_records", "owners", "pipelines",
                       "pipeline_stages", "skipped", "reconciled_types", "ids_listed",
                       "records_missed_by_search", "lists", "list_definitions", "forms",
                       "marketing_emails", "archived_marketing_emails", "campaigns"),
    "event_types": ("event_types", "skipped"),
    "events": ("events", "skipped", "list_memberships", "lists_swept", "lists_unchanged",
               "form_submissions", "email_events"),
    "relationships": ("relationships", "association_labels", "skipped"),
    "property_history": ("property_histories", "property_history_values", "skipped"),
}


def tag_run(context: dg.AssetExecutionContext) -> None:
    """Give the run its source, mode and trigger tags when whoever launched it did not
    (a run started from the UI): the Runs page can then be filtered by source."""
    tags = context.run.tags
    if SOURCE_TAG not in tags:
        context.instance.add_run_tags(context.run_id, run_tags(
            context.partition_key, trigger=trigger_of(tags), mode=mode_of(context.run.job_name)))


def step_log(context: dg.AssetExecutionContext) -> Callable[[int, str], None]:
    """``sink(level, message)`` writing to the step's Dagster log (the run's event log)."""

    def sink(level: int, message: str) -> None:
        context.log.log(level, message)

    return sink


def run_stage(context: dg.AssetExecutionContext, stream: StageStream) -> Iterator[Any]:
    """The body of a stage asset: the stream as its output, then its check.

    Dagster hands the output to the IO manager before it resumes this
    generator, so when the check is computed every record is stored and the
    materialization (with the final counts) is in the event log.
    """
    yield dg.Output(stream)
    yield stage_check_result(latest_metadata(context, context.asset_key, this_run=True)
                             or stream.metadata())


def latest_metadata(context: dg.AssetExecutionContext, asset_key: dg.AssetKey, *,
                    this_run: bool = False) -> dict[str, Any] | None:
    """The metadata of the asset's latest materialization of this partition (the IO
    manager adds the write's counts, stubs among them, to the stream's own); None if
    there is none (or, with ``this_run``, none by this run)."""
    result = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key,
                              asset_partitions=[context.partition_key]), limit=1)
    for record in result.records:
        if not this_run or record.run_id == context.run_id:
            return {k: getattr(v, "value", v)
                    for k, v in record.asset_materialization.metadata.items()}
    return None


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
