"""The Dagster IO manager: record streams in, cursor-backed streams out."""

from __future__ import annotations

import uuid
from typing import Any

import dagster as dg
from pydantic import Field
from pymongo.errors import PyMongoError

from hubspot_assets.defs.resources import checked_database
from hubspot_assets.extract.units import UNIT_COLUMNS
from hubspot_assets.mongo.redaction import redact_text, redact_uri, uri_secrets
from hubspot_assets.mongo.stored_stream import StoredStream, latest_stream
from hubspot_assets.mongo.writer import write_stream
from hubspot_assets.stream.naming import stage_name, validate_source_id
from hubspot_assets.stream.protocol import RecordStream, StreamAborted


class MongoStreamError(RuntimeError):
    """A MongoDB failure, with any credentials removed from the message."""


class StreamNotMaterialized(LookupError):
    """`load_input` found no finished materialization of the upstream stage."""


class MongoStreamIOManager(dg.ConfigurableIOManager):
    """Stores each stage's record stream in `source_{partition}_stream` (pymongo).

    A stage returns a `RecordStream` (or any iterable of StreamRecord); once
    every record is stored the stream's `on_written` runs, then its `metadata`
    joins the write's counts on the materialization.
    """

    uri: str = Field(description="MongoDB URI; pass dg.EnvVar('MONGODB_URI') to keep it secret.")
    database: str = Field(default="hubspot", description="Database holding the stream collections.")
    batch_size: int = Field(default=1000, description="Records per unordered bulk write.")
    source_id: str | None = Field(
        default=None, description="Source id for unpartitioned assets (partition key otherwise).")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            context.log.info("no record stream returned; nothing written")
            return
        if not hasattr(obj, "__iter__") or isinstance(obj, (str, bytes, dict)):
            raise TypeError(
                f"{type(obj).__name__} is not a record stream; return an object whose "
                "__iter__ yields StreamRecord items (a class, not a generator)")
        source_id = self._source_of_output(context)
        stage = _stage_of(context)
        run_id = _run_id_of(context)
        stream = obj if isinstance(obj, RecordStream) else None
        try:
            db = checked_database(self.uri, self.database, run_id)  # before any HubSpot call
            with self._redacted_errors():
                summary = write_stream(db, source_id, stage, run_id, obj,
                                       batch_size=self.batch_size)
                if stream is not None:
                    # Every record is stored now: the stream may commit what depends
                    # on that (e.g. a sync watermark). A failed write never gets here.
                    stream.on_written(run_id)
        except StreamAborted as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        # Read after consumption: the stream's counters are final now.
        metadata: dict[str, Any] = dict(stream.metadata()) if stream is not None else {}
        metadata.update(summary.metadata())
        if summary.stubbed:
            # Each stub is one recorded error of the stage (and of the job history).
            context.log.warning(f"{len(summary.stubbed)} record(s) stored as stubs without "
                                "their data; see records_stubbed_ids")
            metadata["errors"] = int(metadata.get("errors") or 0) + len(summary.stubbed)
            metadata["error_details"] = [*(metadata.get("error_details") or []),
                                         *summary.error_details()]
        rows = metadata.pop("unit_table", None)
        if rows is not None:
            metadata["per_unit_counts"] = unit_table(rows)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> StoredStream:
        upstream = context.upstream_output
        if upstream is None:
            raise StreamNotMaterialized("this input has no upstream output to read")
        source_id = self._source_of_input(context)
        stage = _stage_of(upstream)
        db = checked_database(self.uri, self.database, _run_id_of(context))
        with self._redacted_errors():
            stream = latest_stream(db, source_id, stage, batch_size=self.batch_size)
        if stream is None:
            raise StreamNotMaterialized(
                f"stage {stage!r} has no finished materialization for source {source_id!r} "
                f"in database {self.database!r}; materialize it first")
        return stream

    # -- helpers ---------------------------------------------------------

    def _source_of_output(self, context: dg.OutputContext) -> str:
        if context.has_partition_key:
            return validate_source_id(context.partition_key)
        if getattr(context, "has_asset_partitions", False):
            raise ValueError(
                "one run wrote several partitions at once; the stream IO manager needs one "
                "source per run (use the default backfill policy: one run per partition)")
        return self._configured_source()

    def _source_of_input(self, context: dg.InputContext) -> str:
        if context.has_asset_partitions:
            return validate_source_id(context.asset_partition_key)
        if context.has_partition_key:
            return validate_source_id(context.partition_key)
        return self._configured_source()

    def _configured_source(self) -> str:
        if self.source_id is None:
            raise ValueError(
                "the asset is not partitioned and MongoStreamIOManager.source_id is not set; "
                "partition stages by source id or configure source_id")
        return validate_source_id(self.source_id)

    def _redacted_errors(self) -> _RedactErrors:
        return _RedactErrors(self.uri)

    def __repr__(self) -> str:  # pydantic's repr would print the URI
        return (f"MongoStreamIOManager(uri={redact_uri(self.uri)!r}, "
                f"database={self.database!r}, batch_size={self.batch_size})")

    __str__ = __repr__


#: Type and meaning of each column of a stage's per-unit table (``UNIT_COLUMNS``).
_UNIT_COLUMN_TYPES = {
    "unit": ("string", "object type, event type or association pair"),
    "status": ("string", "ok, skipped or failed"),
    "records": ("int", "live records (events, edges; property names for the download list) "
                "fetched in this run"),
    "archived": ("int", "archived records fetched in this run"),
    "calls": ("int", "HubSpot API calls made for this unit"),
    "errors": ("int", "errors, retried ones included"),
    "seconds": ("float", "from the unit's first start to its last end"),
    "reason": ("string", "why the unit was skipped or failed"),
}
UNIT_TABLE_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn(name, *_UNIT_COLUMN_TYPES[name]) for name in UNIT_COLUMNS])


def unit_table(rows: list[dict[str, Any]]) -> dg.TableMetadataValue:
    """A stage's per-unit rows as Dagster table metadata (shown as a table in the UI)."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: row[name] for name in UNIT_COLUMNS
                                 if row.get(name) is not None}) for row in rows],
        schema=UNIT_TABLE_SCHEMA)


class _RedactErrors:
    """Re-raise pymongo errors as MongoStreamError with credentials scrubbed."""

    def __init__(self, uri: str) -> None:
        self._secrets = uri_secrets(uri)

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, PyMongoError):
            message = redact_text(f"{type(exc).__name__}: {exc}", *self._secrets)
            # `from None`: the original exception's text may hold the URI.
            raise MongoStreamError(message) from None
        return False


def _stage_of(context: dg.OutputContext) -> str:
    """The producing asset's stage name, or step.output for plain ops."""
    if context.has_asset_key:
        return stage_name(context.asset_key.path)
    return f"{context.step_key}.{context.name}"


def _run_id_of(context: dg.OutputContext) -> str:
    try:
        run_id = context.run_id
    except Exception:  # build_output_context() without run_id raises
        run_id = None
    return run_id or f"adhoc-{uuid.uuid4()}"
