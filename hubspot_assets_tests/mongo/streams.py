"""Record streams and assets shared by the MongoDB tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg

from hubspot_assets.stream.protocol import RecordStream
from hubspot_assets.stream.records import OBJECT, StreamRecord


def contact(i: int, version: str = "v1") -> StreamRecord:
    """A contact-like record; `version` changes its data (a new HubSpot version)."""
    data = {
        "id": str(i),
        "properties": {"email": f"user{i}@example.com", "firstname": f"First{i}",
                       "lifecyclestage": "lead", "note": version},
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": f"2024-02-01T00:00:00Z#{version}",
        "archived": False,
    }
    return StreamRecord(OBJECT, "contacts", str(i), data, data["updatedAt"])


class ContactStream(RecordStream):
    """A record stream of contacts.

    `on_yield(i)` runs before the i-th record is produced; tests use it to
    observe how far the IO manager has written while the stream is still open.
    """

    def __init__(self, count: int, version: str | Callable[[int], str] = "v1",
                 on_yield: Callable[[int], None] | None = None, fail_at: int | None = None):
        self.count = count
        self.version = version
        self.on_yield = on_yield
        self.fail_at = fail_at
        self.produced = 0

    def __iter__(self) -> Iterator[StreamRecord]:
        for i in range(self.count):
            if self.fail_at is not None and i == self.fail_at:
                raise RuntimeError(f"HubSpot went away after {i} records")
            if self.on_yield is not None:
                self.on_yield(i)
            self.produced += 1
            version = self.version(i) if callable(self.version) else self.version
            yield contact(i, version)

    def metadata(self) -> dict:
        return {"api_calls": 1 + self.produced // 100, "produced": self.produced}


def stream_asset(name: str, partitions_def: dg.PartitionsDefinition,
                 make_stream: Callable[[], object]) -> dg.AssetsDefinition:
    """A partitioned asset returning `make_stream()` for every partition."""

    @dg.asset(name=name, partitions_def=partitions_def)
    def _asset(context):
        return make_stream()

    return _asset
