"""The indexes the stream collections need, created once per collection per process."""

from __future__ import annotations

import threading

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection

# `load_input` selects one materialization: {"seen_in": "<stage>@<run_id>"}.
SEEN_IN_INDEX = IndexModel([("seen_in", ASCENDING)], name="seen_in")
# Consolidation picks the latest version of each record.
VERSIONS_INDEX = IndexModel(
    [("kind", ASCENDING), ("object_type", ASCENDING), ("hubspot_id", ASCENDING),
     ("fetched_at", DESCENDING)],
    name="versions",
)
STREAM_INDEXES = (SEEN_IN_INDEX, VERSIONS_INDEX)

_lock = threading.Lock()
_ensured: set[tuple[int, str]] = set()


def ensure_stream_indexes(collection: Collection) -> bool:
    """Create the stream indexes unless this process already did; True if it asked the server."""
    key = (id(collection.database.client), collection.full_name)
    with _lock:
        if key in _ensured:
            return False
    # createIndexes is idempotent on the server; the cache only saves round trips.
    collection.create_indexes(list(STREAM_INDEXES))
    with _lock:
        _ensured.add(key)
    return True


def forget_ensured_indexes() -> None:
    """Drop the per-process cache (after a client is closed or a database dropped)."""
    with _lock:
        _ensured.clear()
