"""Property history stage: every change of the opted-in properties of the records the
latest object_records run fetched (all of them on a full sync, the modified ones on an
incremental one), 50 records per batch read (HubSpot's limit with history)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.hubspot import reference
from hubspot_assets.registry import ALL_PROPERTIES, Source
from hubspot_assets.stream.records import PROPERTY_HISTORY, StreamRecord


def history_units(source: Source, entries: Iterable[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(object type, property names) of every ready type the source opted into."""
    ready = {}
    for entry in entries:
        if entry.get("status") == "ready":
            for alias in (entry["objectType"], entry.get("objectTypeId"), entry.get("name")):
                if alias:
                    ready.setdefault(alias, entry)
    units = []
    for object_type, names in source.property_history:
        entry = ready.get(object_type)
        if entry is None:
            continue  # not listed, or skipped by the download list (which says why)
        known = set(entry["properties"])
        wanted = (sorted(known) if names == ALL_PROPERTIES
                  else [n for n in names if n in known])
        if wanted:
            units.append((entry["objectType"], wanted))
    return units


def history_records(client: Any, units: list[tuple[str, list[str]]],
                    ids_of: Callable[[str], Iterable[str]], report: StageReport, *,
                    max_workers: int) -> Iterator[StreamRecord]:
    """One record per object: its opted-in properties' values over time."""
    def batches() -> Iterator[tuple[str, list[str], list[str]]]:
        for object_type, names in units:
            ids = iter(ids_of(object_type))
            while batch := list(islice(ids, reference.HISTORY_BATCH_SIZE)):
                yield object_type, names, batch

    def fetch(unit: tuple[str, list[str], list[str]]) -> Iterator[StreamRecord]:
        object_type, names, ids = unit
        label = f"{object_type} history ({ids[0]}..{ids[-1]})"

        def read() -> list[dict]:
            return reference.batch_read_history(client, object_type, ids, names)

        for record in report.guarded(label, read):
            report.count("property_histories")
            history = record.get("propertiesWithHistory") or {}
            report.count("property_history_values", sum(len(v) for v in history.values()))
            yield StreamRecord(PROPERTY_HISTORY, object_type, str(record["id"]),
                               {"id": str(record["id"]), "updatedAt": record.get("updatedAt"),
                                "propertiesWithHistory": history}, record.get("updatedAt"))

    yield from interleave(batches(), fetch, max_workers=max_workers)
