"""Consolidation assets: the current state of each source, computed from its stream.

They call no HubSpot API (kinds: mongodb only) and write their own
collections, so they return a MaterializeResult instead of a record stream.
"""

from collections.abc import Callable
from typing import Any

import dagster as dg

from hubspot_assets.consolidate.counts import edge_counts, object_counts
from hubspot_assets.consolidate.marketing import consolidate_marketing
from hubspot_assets.consolidate.objects import consolidate_objects
from hubspot_assets.consolidate.reference import consolidate_reference
from hubspot_assets.consolidate.relationships import SweepNotFound, consolidate_relationships
from hubspot_assets.defs.assets.stage import source_asset, tag_run
from hubspot_assets.defs.assets.sync_config import SyncConfig
from hubspot_assets.defs.resources import MongoResource
from hubspot_assets.extract.progress import Progress, throttled
from hubspot_assets.stream.naming import (
    CONSOLIDATED_OBJECTS,
    CONSOLIDATED_RELATIONSHIPS,
    EVENTS,
    OBJECT_DOWNLOAD_LIST,
    OBJECT_RECORDS,
    PROPERTY_HISTORY_STAGE,
    RELATIONSHIPS,
    SourceNames,
)

# MongoDB failovers deserve a later try; no rate budget is at stake.
CONSOLIDATION_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def consolidation_asset(*, description: str, deps: list[str], code_version: str = "1"):
    """:func:`source_asset` for MongoDB-only work: no HubSpot pool, its own retries."""
    return source_asset(description=description, code_version=code_version, deps=deps,
                        kinds={"mongodb"}, retry_policy=CONSOLIDATION_RETRY)


@consolidation_asset(
    description="source_{id}_objects: the latest version of every object (by updatedAt), "
    "top-level properties, deleted ones marked with why (archived, merged into a survivor, "
    "gone from every listing); incremental over the stream.",
    deps=[OBJECT_RECORDS],
)
def consolidated_objects(context: dg.AssetExecutionContext, config: SyncConfig,
                         mongo: MongoResource) -> dg.MaterializeResult:
    """Fold the stream's new object versions into the objects collection."""
    tag_run(context)
    db = mongo.db()
    summary = consolidate_objects(db, context.partition_key, context.run_id,
                                  full_refresh=config.full_refresh,
                                  overlap_ms=config.policy().overlap_ms,
                                  progress=progress_log(context, CONSOLIDATED_OBJECTS))
    if summary.reason:
        context.log.warning(f"{CONSOLIDATED_OBJECTS}: {summary.reason}")
    rows = object_counts(db, context.partition_key)
    return dg.MaterializeResult(metadata={
        **summary.metadata(), "collection": SourceNames(context.partition_key).objects,
        "objects_written_this_run": summary.new + summary.changed + summary.deleted,
        # What the collection holds now, whatever this run wrote.
        "dagster/row_count": sum(row["objects"] for row in rows),
        "objects_deleted_total": sum(row["deleted"] for row in rows),
        "per_type_counts": count_table(rows, "object_type", ("objects", "deleted", "total")),
    })


@consolidation_asset(
    description="source_{id}_relationships: deduplicated association edges with their types "
    "and labels, indexed from both ends; edges gone from HubSpot marked removed (and whether "
    "an end object was deleted).",
    deps=[RELATIONSHIPS, CONSOLIDATED_OBJECTS],
)
def consolidated_relationships(context: dg.AssetExecutionContext,
                               mongo: MongoResource) -> dg.MaterializeResult:
    """Bring the edges in line with the latest association sweep."""
    tag_run(context)
    db = mongo.db()
    try:
        summary = consolidate_relationships(
            db, context.partition_key, context.run_id,
            progress=progress_log(context, CONSOLIDATED_RELATIONSHIPS, unit="edges"))
    except SweepNotFound as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    rows = edge_counts(db, context.partition_key)
    return dg.MaterializeResult(metadata={
        **summary.metadata(), "collection": SourceNames(context.partition_key).relationships,
        "edges_written_this_run": summary.new + summary.changed + summary.removed,
        "dagster/row_count": sum(row["edges"] for row in rows),
        "edges_removed_total": sum(row["removed"] for row in rows),
        "per_pair_counts": count_table(rows, "pair", ("edges", "removed", "total")),
    })


def progress_log(context: dg.AssetExecutionContext, what: str,
                 unit: str = "stream documents") -> Callable[[int], None]:
    """A batch callback that logs the consolidation's progress at most every ~10 s."""
    return throttled(Progress(what, unit=unit), context.log.info)


def count_table(rows: list[dict[str, Any]], key: str,
                columns: tuple[str, ...]) -> dg.TableMetadataValue:
    """Per-type (or per-pair) current totals as Dagster table metadata."""
    schema = dg.TableSchema(columns=[dg.TableColumn(key, "string"),
                                     *(dg.TableColumn(c, "int") for c in columns)])
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: row[name] for name in (key, *columns)}) for row in rows],
        schema=schema)


@consolidation_asset(
    description="source_{id}_owners, _pipelines (with stages), _properties (definitions, "
    "sensitive ones included) and _association_labels (both directions of every pair): the "
    "latest listing of each, what HubSpot no longer lists marked removed; and "
    "_property_history (every past value of the opted-in properties).",
    deps=[OBJECT_DOWNLOAD_LIST, OBJECT_RECORDS, RELATIONSHIPS, PROPERTY_HISTORY_STAGE],
)
def consolidated_reference(context: dg.AssetExecutionContext,
                           mongo: MongoResource) -> dg.MaterializeResult:
    """Bring the reference collections in line with the latest run of each stage."""
    tag_run(context)
    summary = consolidate_reference(mongo.db(), context.partition_key, context.run_id)
    return dg.MaterializeResult(metadata=summary.metadata())


@consolidation_asset(
    description="source_{id}_lists (every list with its filters and member_count; lists "
    "HubSpot no longer has marked removed) and source_{id}_list_memberships (every member of "
    "every list; members gone since a list's last complete read marked removed); "
    "source_{id}_forms (live and archived, with submission_count) and "
    "source_{id}_marketing_emails (the latest version of each) and source_{id}_campaigns.",
    deps=[OBJECT_RECORDS, EVENTS],
)
def consolidated_marketing(context: dg.AssetExecutionContext,
                           mongo: MongoResource) -> dg.MaterializeResult:
    """Bring the lists and their memberships in line with the latest reads."""
    tag_run(context)
    summary = consolidate_marketing(mongo.db(), context.partition_key, context.run_id)
    if summary.lists_reason:
        context.log.warning(f"lists: {summary.lists_reason}")
    return dg.MaterializeResult(metadata=summary.metadata())


CONSOLIDATION_ASSETS = [consolidated_objects, consolidated_relationships, consolidated_reference,
                        consolidated_marketing]
