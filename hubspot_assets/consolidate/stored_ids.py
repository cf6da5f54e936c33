"""Every id of an object type as object_records stored it, before consolidation ran.

The events stage's per-object fallback needs every record a type holds
(archived ones too: HubSpot may still list their events). Reading them from
`source_{id}_objects` would make events wait for consolidation; reading them
from what object_records stored lets events run beside it:

- after a full read (``complete``) the read's own stream documents are the ids;
- after an incremental read (few documents: what changed) they are those ids
  and then every consolidated one not among them.

Each id comes once: a record read twice in one run (changed while it was read)
is asked about once.
"""

from __future__ import annotations

from collections.abc import Iterator

from pymongo import ASCENDING
from pymongo.database import Database

from hubspot_assets.mongo.collections import objects_collection
from hubspot_assets.mongo.stored_stream import StoredStream
from hubspot_assets.stream.records import OBJECT


class StoredIds:
    """``of(type)``: the ids of one source's records of a type, archived ones too.

    ``read``: what the object_records materialization stored (the stream the IO
    manager hands its downstream); ``complete``: whether that read listed every
    record of each type (a full sync), so the consolidated collection adds nothing.
    """

    def __init__(self, db: Database, source_id: str, read: StoredStream, *,
                 complete: bool) -> None:
        self._db, self._source_id = db, source_id
        self._read, self._complete = read, complete

    def of(self, object_type: str) -> Iterator[str]:
        documents = self._read.filter(kind=OBJECT, object_type=object_type,
                                      projection={"hubspot_id": 1, "_id": 0},
                                      sort=[("hubspot_id", ASCENDING)])
        if self._complete:
            return _distinct(d["hubspot_id"] for d in documents)
        return self._with_consolidated(object_type, documents)

    def _with_consolidated(self, object_type: str, read: StoredStream) -> Iterator[str]:
        seen = set(_distinct(d["hubspot_id"] for d in read))  # what changed: few
        yield from sorted(seen)
        documents = objects_collection(self._db, self._source_id).find(
            {"object_type": object_type}, {"hubspot_id": 1}, batch_size=1000)
        with documents:
            yield from (d["hubspot_id"] for d in documents if d["hubspot_id"] not in seen)


def _distinct(sorted_ids: Iterator[str]) -> Iterator[str]:
    """Each id of an ascending sequence once (repeats are adjacent)."""
    previous = None
    for hubspot_id in sorted_ids:
        if hubspot_id != previous:
            previous = hubspot_id
            yield hubspot_id
