"""The `watermarks` collection: how far each (source, stage) is safely synced.

One document per (source, stage), replaced only after that stage's data is
written, so a failed run leaves the previous watermark in place.

Each document also records what the data looked like when it was committed
(`stream`: the run's tag and documents, the stream's size), so a later run can
tell when the data is gone while the watermark stayed (a failover to an empty
node, a restore of only some collections) and sync in full instead of trusting
a watermark nothing backs any more.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database

from hubspot_assets.mongo.collections import (
    runs_collection,
    stream_collection,
    watermarks_collection,
)
from hubspot_assets.stream.naming import SourceNames
from hubspot_assets.stream.records import seen_tag

log = logging.getLogger(__name__)


class WatermarkStore:
    """Reads and commits watermark documents (plain pymongo, no Dagster)."""

    def __init__(self, db: Database):
        self.db = db
        self._collection = watermarks_collection(db)

    def load(self, source_id: str, stage: str) -> dict[str, Any] | None:
        return self._collection.find_one({"_id": SourceNames(source_id).stage_key(stage)})

    def commit(self, source_id: str, stage: str, document: dict[str, Any]) -> None:
        """Replace the stage's watermark (call only once its data is stored)."""
        self._collection.replace_one(
            {"_id": SourceNames(source_id).stage_key(stage)},
            {**document, "source_id": source_id, "stage": stage},
            upsert=True,
        )

    def withdraw(self, source_id: str, stage: str) -> None:
        """Remove the stage's watermark: its next run syncs in full."""
        self._collection.delete_one({"_id": SourceNames(source_id).stage_key(stage)})

    def stream_size(self, source_id: str) -> int:
        """The stream's document count from collection metadata (no scan)."""
        return stream_collection(self.db, source_id).estimated_document_count()

    def lost_during_run(self, source_id: str, stage: str, run_id: str,
                        evidence: dict[str, Any], baseline: Mapping[str, Any]) -> str | None:
        """Why data vanished while ``run_id`` ran (None: the stream holds what it should).

        The stream never shrinks, the run's inserts all carry its tag, and the
        watermark the run built on must still be backed. Costs a `stream_runs`
        read by `_id` plus :meth:`stream_problem` when the run was incremental.
        """
        problem = self.stream_problem(source_id, stage, baseline.get("previous"))
        if problem:
            return problem
        started = baseline.get("stream_size") or 0
        if evidence["stream_size"] < started:
            return (f"the stream shrank from {started} to {evidence['stream_size']} "
                    "documents during the run: data was lost")
        run = runs_collection(self.db).find_one({"_id": SourceNames(source_id).stage_key(stage)},
                                                {"seen_tag": 1, "new": 1})
        if run is None:
            return "stream_runs lost this run's record: data was lost"
        if run.get("seen_tag") == evidence["seen_tag"] and evidence["documents"] < run["new"]:
            return (f"the run inserted {run['new']} documents but the stream holds "
                    f"{evidence['documents']} of them: data was lost")
        return None

    def stream_evidence(self, source_id: str, stage: str, run_id: str) -> dict[str, Any]:
        """What the stage's stream holds right after ``run_id`` stored its data.

        Costs one count on the `seen_in` index (the run's own documents: an
        incremental run's changes) and one collection-size read from metadata.
        """
        tag = seen_tag(run_id, stage)
        stream = stream_collection(self.db, source_id)
        return {"seen_tag": tag, "documents": stream.count_documents({"seen_in": tag}),
                "stream_size": self.stream_size(source_id)}

    def stream_problem(self, source_id: str, stage: str, previous: Any) -> str | None:
        """Why the stream no longer backs the stored watermark ``previous`` (None: it does).

        Stream documents are never deleted, so a stream smaller than when the
        watermark was committed, or without that run's documents, lost data.
        Costs one `stream_runs` read by `_id`, a size read from collection
        metadata and a count on the `seen_in` index capped at the recorded
        number (never a collection scan).
        """
        if not isinstance(previous, Mapping):
            return None  # nothing stored (or unreadable: plan.checked_units reports it)
        key = SourceNames(source_id).stage_key(stage)
        if runs_collection(self.db).find_one({"_id": key}, {"_id": 1}) is None:
            return f"stream_runs has no finished run of {stage}: the stream it vouches for is gone"
        evidence = previous.get("stream")
        if evidence is None:
            return None  # committed before evidence was recorded: the run record must do
        if not isinstance(evidence, Mapping):
            return f"its stream evidence is a {type(evidence).__name__}"
        stream = stream_collection(self.db, source_id)
        problem = shrunk(stream, evidence.get("stream_size"), "stream")
        if problem:
            return problem
        tag, documents = evidence.get("seen_tag"), evidence.get("documents")
        if not isinstance(tag, str) or not (documents == 0 or _count(documents)):
            return "its stream evidence is malformed"
        # A document keeps its 8 latest sightings: over 7 failed runs since may
        # age the tag out, which only costs a needless full sync.
        held = stream.count_documents({"seen_in": tag}, limit=documents) if documents else 0
        if held < documents:
            return (f"the stream holds {held} of the {documents} documents {tag} stored: "
                    "data was lost")
        return None


def shrunk(collection: Collection, recorded: Any, what: str) -> str | None:
    """Why ``collection`` (which never loses documents) lost some: fewer than ``recorded``.

    Reads the size from collection metadata (no scan). After an unclean shutdown
    that count may be off for a while: at worst a needless full sync.
    """
    if not _count(recorded):
        return None
    size = collection.estimated_document_count()
    if size < recorded:
        return (f"the {what} collection {collection.name} holds {size} documents, "
                f"{recorded} when the watermark was committed: data was lost")
    return None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
