"""Reference data fetched with the records: owners (live and archived) and pipelines.

Each is one unit under the stage's error policy (a 403 is a skip with HubSpot's
reason, a retryable failure fetches the unit again) and each unit's listing is
read whole before any record is yielded, so a run stores all of a unit or none
of it. HubSpot offers no "modified since" filter on these endpoints: every run
reads them in full (a few calls), and unchanged versions are stored once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hubspot_assets.extract.units import StageReport
from hubspot_assets.hubspot import catalog, reference
from hubspot_assets.stream.records import OWNER, PIPELINE, StreamRecord

#: The unit names these records are reported under.
OWNERS_UNIT = "owners"


def pipelines_unit(object_type: str) -> str:
    """The unit name of one type's pipelines, as reported in `error_details`."""
    return f"pipelines:{object_type}"


def pipeline_types(entries: Iterable[dict[str, Any]]) -> list[str]:
    """Ready download-list types that HubSpot keeps pipelines for."""
    return [e["objectType"] for e in entries if e.get("status") == "ready"
            and not e.get("custom") and catalog.BY_NAME.get(e["objectType"]) is not None
            and catalog.BY_NAME[e["objectType"]].has_pipelines]


def owner_records(client: Any, report: StageReport) -> Iterator[StreamRecord]:
    """Every owner, live and archived (deactivated users still own old records)."""
    def both() -> list[dict]:
        return reference.list_owners(client) + reference.list_owners(client, archived=True)

    for owner in report.guarded(OWNERS_UNIT, both):
        report.count("owners")
        yield StreamRecord(OWNER, None, str(owner["id"]), owner, owner.get("updatedAt"))


def pipeline_records(client: Any, entries: Iterable[dict[str, Any]],
                     report: StageReport) -> Iterator[StreamRecord]:
    """Every pipeline, with its stages, of every ready type that has pipelines."""
    for object_type in pipeline_types(entries):
        def fetch(object_type: str = object_type) -> list[dict]:
            return reference.list_pipelines(client, object_type)

        for pipeline in report.guarded(pipelines_unit(object_type), fetch):
            report.count("pipelines")
            report.count("pipeline_stages", len(pipeline.get("stages") or []))
            yield StreamRecord(PIPELINE, object_type, str(pipeline["id"]), pipeline,
                               pipeline.get("updatedAt"))


def reference_records(client: Any, entries: Iterable[dict[str, Any]],
                      report: StageReport) -> Iterator[StreamRecord]:
    """Owners, then the pipelines of the download list's types."""
    entries = list(entries)
    yield from owner_records(client, report)
    yield from pipeline_records(client, entries, report)
