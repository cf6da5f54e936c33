"""Write a record stream into its source's stream collection, batch by batch.

One bad record is one recorded error, never a failed stage: a version MongoDB
cannot store (over 16 MiB, a key BSON refuses such as one holding a NUL byte,
an integer over 64 bits) is stored as a stub under the same `_id`: `data:
null`, `data_omitted` (the reason) and `data_outline` (its identifying fields,
what consolidation needs). The summary lists every stub.

No Dagster here: the IO manager, benchmarks and tools share this code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, OperationFailure

from hubspot_assets.mongo.bulk import bulk_write
from hubspot_assets.mongo.collections import runs_collection, stream_collection
from hubspot_assets.stream.naming import SourceNames
from hubspot_assets.stream.records import coerce_record, outline, seen_tag, upsert_spec
from hubspot_assets.timestamps import utcnow

DUPLICATE_KEY = 11000
# MongoDB's answers to a document over its 16 MB limit (BSONObjectTooLarge, and
# "resulting document after update/upsert is larger than 16777216").
TOO_LARGE = frozenset({10334, 17419, 17420})
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # MongoDB's BSON document limit (16 MiB)
# Field names the server refuses: $-prefixed where not allowed, empty, dotted.
REFUSED_NAMES = frozenset({52, 56, 57})
#: Stubs listed by id in the metadata (all are counted).
LISTED_STUBS = 100

log = logging.getLogger(__name__)


@dataclasses.dataclass
class WriteSummary:
    """What one stage run wrote for one source."""

    source_id: str
    stage: str
    run_id: str
    collection: str
    count: int = 0       # records consumed from the stream
    new: int = 0         # documents inserted (new records and new versions)
    unchanged: int = 0   # records whose exact version was already stored
    batches: int = 0     # bulk writes sent
    too_large: int = 0   # versions stored without `data` (over MongoDB's 16 MB limit)
    stubbed: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # every stub

    def metadata(self) -> dict[str, Any]:
        metadata = {
            "dagster/partition_row_count": self.count,
            "new": self.new,
            "unchanged": self.unchanged,
            "collection": self.collection,
        }
        if self.too_large:
            metadata["too_large"] = self.too_large
        if self.stubbed:
            metadata["records_stubbed"] = len(self.stubbed)
            metadata["records_stubbed_ids"] = self.stubbed[:LISTED_STUBS]
        return metadata

    def error_details(self) -> list[dict[str, Any]]:
        """Each stub as a recorded error (the stage's `error_details` form)."""
        return [{"unit": stub["object_type"] or stub["kind"], "type": "RecordStubbed",
                 "message": f"{stub['kind']} {stub['object_type']} {stub['hubspot_id']} "
                            f"stored as a stub: {stub['reason']}"} for stub in self.stubbed]


def write_stream(db: Database, source_id: str, stage: str, run_id: str,
                 records: Iterable[Any], batch_size: int = 1000,
                 clock: Callable[[], dt.datetime] = utcnow) -> WriteSummary:
    """Upsert every record of `records` in unordered bulk writes of `batch_size`.

    Lazy: at most two batches are held (one being written, one being built).

    Records the run in `stream_runs` only after the stream is fully consumed,
    so a failed run never becomes the materialization `load_input` reads.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    collection = stream_collection(db, source_id)
    summary = WriteSummary(source_id, stage, run_id, collection.name)
    # One bulk write in flight on a helper thread while the next batch is
    # built (hashing, HubSpot paging): at most two batches are held at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mongo-writer") as pool:
        in_flight: Future | None = None
        batch: list[UpdateOne] = []
        now = clock()
        try:
            for item in records:
                record = coerce_record(item)
                if not batch:
                    now = clock()  # one timestamp per batch is precise enough and cheap
                doc_id, update = upsert_spec(record, source_id=source_id, stage=stage,
                                             run_id=run_id, now=now)
                batch.append(UpdateOne({"_id": doc_id}, update, upsert=True))
                summary.count += 1
                if len(batch) >= batch_size:
                    if in_flight is not None:
                        in_flight.result()  # re-raises the writer's error here
                    in_flight = pool.submit(_flush, collection, batch, summary)
                    batch = []
        except BaseException:
            # The stream stopped (a fatal API error, a kill): keep what it had
            # fetched, as the batches already written are kept. Upserts by _id make
            # the next run's copy of the same version the same document.
            _keep(in_flight, collection, batch, summary)
            raise
        if in_flight is not None:
            in_flight.result()
        if batch:
            _flush(collection, batch, summary)
    _record_run(db, summary, clock())
    return summary


def _keep(in_flight: Future | None, collection, batch: list[UpdateOne],
          summary: WriteSummary) -> None:
    """Write the batch being built when the stream failed; a failure here is logged
    (the stream's own error is the one that matters)."""
    try:
        if in_flight is not None:
            in_flight.result()
        if batch:
            _flush(collection, batch, summary)
    except Exception as exc:  # noqa: BLE001 - the caller re-raises the stream's error
        log.warning("the %d records fetched before the stream failed were not written: %s",
                    len(batch), type(exc).__name__)


def _flush(collection, batch: list[UpdateOne], summary: WriteSummary) -> None:
    summary.batches += 1
    try:
        _send(collection, batch, summary)
    except (InvalidDocument, OverflowError, OperationFailure) as exc:
        if isinstance(exc, OperationFailure) and exc.code not in TOO_LARGE:
            raise
        # pymongo encodes while it sends, so one record it cannot encode fails the
        # whole batch before (or, past 48 MB, while) it reaches the server; a
        # server refuses a whole command holding a statement over its limit.
        # Stub the records that do not encode or fit, and send the batch again:
        # the upserts are idempotent (a part already sent counts as unchanged).
        _send(collection, [_encodable(op, summary) for op in batch], summary)


def _send(collection, batch: list[UpdateOne], summary: WriteSummary) -> None:
    try:
        result = bulk_write(collection, batch)
        summary.new += result.upserted_count
        summary.unchanged += result.matched_count
        return
    except BulkWriteError as exc:
        details = exc.details
    summary.new += details.get("nUpserted", 0)
    summary.unchanged += details.get("nMatched", 0)
    errors = details.get("writeErrors", [])
    fatal = [e for e in errors
             if e.get("code") not in (DUPLICATE_KEY, *TOO_LARGE, *REFUSED_NAMES)]
    if fatal:
        raise BulkWriteError(details)
    # Two writers upserting the same new _id at once: one wins, the other gets
    # E11000. Retrying matches the winner's document, which is what we want.
    # A version the server refuses is kept as a stub without its data, so the
    # rest of the stream (and every later run) is not held up by it.
    retry = []
    for error in errors:
        op = batch[error["index"]]
        if error.get("code") in TOO_LARGE:
            op = _too_large(op, summary)
        elif error.get("code") in REFUSED_NAMES:
            op = _stub(op, f"MongoDB refused it: {error.get('errmsg')}", summary)
        retry.append(op)
    result = bulk_write(collection, retry)
    summary.new += result.upserted_count
    summary.unchanged += result.matched_count


def _encodable(op: UpdateOne, summary: WriteSummary) -> UpdateOne:
    """``op`` if pymongo can send it, else its stub."""
    try:
        size = len(bson.encode(op._doc))
    except (InvalidDocument, OverflowError) as exc:
        return _stub(op, f"BSON cannot encode it: {exc}", summary)
    return _too_large(op, summary) if size > MAX_DOCUMENT_BYTES else op


def _too_large(op: UpdateOne, summary: WriteSummary) -> UpdateOne:
    summary.too_large += 1
    return _stub(op, "over MongoDB's 16 MB document limit", summary)


def _stub(op: UpdateOne, reason: str, summary: WriteSummary) -> UpdateOne:
    """The same version's upsert with `data` replaced by its outline and the reason."""
    # pymongo keeps an UpdateOne's filter and update document in `_filter`/`_doc`.
    update = {key: dict(value) for key, value in op._doc.items()}
    inserted = update["$setOnInsert"]
    log.error("source %s: %s %s %s cannot be stored (%s); stored as a stub without its data "
              "(data_omitted)", summary.source_id, inserted.get("kind"),
              inserted.get("object_type"), inserted.get("hubspot_id"), reason)
    summary.stubbed.append({"stream_id": op._filter["_id"], "kind": inserted.get("kind"),
                            "object_type": inserted.get("object_type"),
                            "hubspot_id": inserted.get("hubspot_id"), "reason": reason})
    inserted["data_outline"] = outline(inserted["data"])
    inserted["data"] = None
    inserted["data_omitted"] = reason
    inserted["hubspot_ts"] = outline({"ts": inserted.get("hubspot_ts")}).get("ts")
    return UpdateOne(op._filter, update, upsert=True)


def _record_run(db: Database, summary: WriteSummary, finished_at: dt.datetime) -> None:
    runs = runs_collection(db)
    key = SourceNames(summary.source_id).stage_key(summary.stage)
    previous = runs.find_one({"_id": key}, {"run_id": 1})
    runs.replace_one(
        {"_id": key},
        {
            "source_id": summary.source_id,
            "stage": summary.stage,
            "run_id": summary.run_id,
            "seen_tag": seen_tag(summary.run_id, summary.stage),
            "collection": summary.collection,
            "count": summary.count,
            "new": summary.new,
            "unchanged": summary.unchanged,
            "finished_at": finished_at,
            "previous_run_id": previous["run_id"] if previous else None,
        },
        upsert=True,
    )
