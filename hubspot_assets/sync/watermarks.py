"""The `watermarks` collection: how far each (source, stage) is safely synced.

One document per (source, stage), replaced only after that stage's data is
written, so a failed run leaves the previous watermark in place.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from hubspot_assets.mongo.collections import watermarks_collection
from hubspot_assets.stream.naming import SourceNames


class WatermarkStore:
    """Reads and commits watermark documents (plain pymongo, no Dagster)."""

    def __init__(self, db: Database):
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
