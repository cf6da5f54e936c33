"""Discovery stages: custom object schemas, the object download list, event types."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.hubspot import catalog, reference
from hubspot_assets.hubspot.errors import Forbidden, HubSpotError, NotFound
from hubspot_assets.registry import Source
from hubspot_assets.stream.protocol import StreamAborted
from hubspot_assets.stream.records import (
    CUSTOM_OBJECT_SCHEMA,
    DOWNLOAD_LIST_ENTRY,
    EVENT_TYPE,
    PROPERTY_DEFINITION,
    StreamRecord,
)

#: Statuses of a download list entry.
READY, SKIPPED = "ready", "skipped"


def schema_records(client: Any, report: StageReport) -> Iterator[StreamRecord]:
    """Every custom object schema of the account, unchanged; none, with a note, when the
    token lacks `crm.schemas.custom.read` (often Enterprise only)."""
    # An optional scope: the standard types are still worth syncing.
    for schema in _optional_listing(report, "schemas", client.list_schemas):
        report.count("schemas")
        yield StreamRecord(
            kind=CUSTOM_OBJECT_SCHEMA,
            object_type=schema.get("fullyQualifiedName") or schema.get("name"),
            hubspot_id=str(schema.get("objectTypeId") or schema.get("id")),
            data=schema,
            hubspot_ts=schema.get("updatedAt"),
        )


def candidate_types(source: Source, schemas: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Standard types plus the account's custom types that the source's filters let through.

    Custom types are addressed by their fully qualified name, which cannot
    collide with a standard type's name.
    """
    schemas = list(schemas)
    _check_filters(source, schemas)
    candidates = [
        {"objectType": t.name, "objectTypeId": t.object_type_id, "custom": False}
        for t in catalog.STANDARD_OBJECT_TYPES
    ]
    for schema in schemas:
        if schema.get("archived"):
            continue
        candidates.append({
            "objectType": schema.get("fullyQualifiedName") or schema["objectTypeId"],
            "objectTypeId": schema["objectTypeId"],
            "name": schema.get("name"),
            "custom": True,
            "associatedTypeIds": _associated_type_ids(schema),
        })
    return [
        c for c in candidates
        if source.wants(c["objectType"], c["objectTypeId"], *([c["name"]] if c.get("name") else []))
    ]


class UnknownObjectTypes(StreamAborted):
    """include/exclude names a type the account does not have: syncing anyway would
    silently leave out what was meant (e.g. `contact` for `contacts`)."""


def _check_filters(source: Source, schemas: list[dict[str, Any]]) -> None:
    known = {name for t in catalog.STANDARD_OBJECT_TYPES for name in (t.name, t.object_type_id)}
    custom = {str(schema[key]) for schema in schemas
              for key in ("fullyQualifiedName", "objectTypeId", "name") if schema.get(key)}
    for setting, names in (("include", source.include), ("exclude", source.exclude)):
        unknown = sorted(names - known - custom)
        if unknown:
            custom_names = sorted(str(s.get("name") or s.get("fullyQualifiedName"))
                                  for s in schemas) or ["none readable"]
            raise UnknownObjectTypes(
                f"source {source.id}: {setting} names unknown object type(s) {unknown}. "
                f"Standard types: {', '.join(t.name for t in catalog.STANDARD_OBJECT_TYPES)}; "
                f"custom types of this account: {', '.join(custom_names)}. "
                f"Fix {setting} of source {source.id} in the source registry.")


def _associated_type_ids(schema: dict[str, Any]) -> list[str]:
    """The other object types a custom schema's association definitions point at."""
    own = schema.get("objectTypeId")
    ids = set()
    for association in schema.get("associations") or []:
        for key in ("fromObjectTypeId", "toObjectTypeId"):
            if association.get(key) and association[key] != own:
                ids.add(association[key])
    return sorted(ids)


def download_list_records(
    client: Any,
    source: Source,
    schemas: Iterable[dict[str, Any]],
    report: StageReport,
    *,
    max_workers: int,
) -> Iterator[StreamRecord]:
    """One entry per object type: every property name, or why the type is skipped; and
    every property definition (`property_definition` records), sensitive ones included."""

    def describe(candidate: dict[str, Any]) -> Iterator[StreamRecord]:
        name = candidate["objectType"]
        report.unit_started()
        entry = dict(candidate)
        try:
            properties = client.list_properties(name)
            if catalog.may_hold_sensitive_data(name, bool(candidate.get("custom"))):
                properties += _sensitive_properties(client, name, entry, report)
        except (Forbidden, NotFound) as exc:
            # A type the token cannot read, or that the tier lacks, is skipped, not fatal.
            entry.update(status=SKIPPED, reason=str(exc), httpStatus=exc.status, properties=[])
            report.note(name, str(exc), status=exc.status, category=exc.category)
        except HubSpotError as exc:
            report.unit_failed(name, exc)
            return
        else:
            unreadable = {n for names in entry.get("sensitiveSkipped", {}).values()
                          for n in names.get("properties", ())}
            entry.update(status=READY, properties=sorted(
                {p["name"] for p in properties} - unreadable))
            report.count("types_ready")
            report.count("properties", len(entry["properties"]))
            for definition in properties:
                report.count("property_definitions")
                yield StreamRecord(PROPERTY_DEFINITION, name, str(definition["name"]),
                                   definition, definition.get("updatedAt"))
        yield StreamRecord(
            kind=DOWNLOAD_LIST_ENTRY,
            object_type=name,
            hubspot_id=candidate["objectTypeId"],
            data=entry,
            hubspot_ts=None,
        )

    yield from interleave(candidate_types(source, schemas), describe, max_workers=max_workers)


def _sensitive_properties(client: Any, name: str, entry: dict[str, Any],
                          report: StageReport) -> list[dict[str, Any]]:
    """The type's Sensitive Data property definitions (HubSpot lists them only when asked
    with `dataSensitivity`); levels whose values the token may not read are noted in
    ``entry["sensitiveSkipped"]`` (and as skips) so the records leave them out."""
    found: list[dict[str, Any]] = []
    for level in reference.SENSITIVITIES:
        unit = f"{name} ({level} properties)"
        try:
            # Only those that say they are of this level: a server that ignored the
            # parameter would answer the plain listing again.
            definitions = [p for p in reference.list_properties(client, name, level)
                           if p.get("name") and p.get("dataSensitivity") == level]
        except Forbidden as exc:
            report.note(unit, str(exc), status=exc.status, category=exc.category)
            entry.setdefault("sensitiveSkipped", {})[level] = {"reason": str(exc),
                                                               "properties": []}
            continue
        if not definitions:
            continue
        names = sorted(p["name"] for p in definitions)
        entry.setdefault("sensitiveProperties", {})[level] = names
        found += definitions
        try:
            # Definitions need no extra scope; values need the type's sensitive scope.
            reference.probe_property_values(client, name, names)
        except Forbidden as exc:
            report.note(f"{unit}: values", str(exc), status=exc.status, category=exc.category)
            entry.setdefault("sensitiveSkipped", {})[level] = {"reason": str(exc),
                                                               "properties": names}
    return found


def event_type_records(client: Any, report: StageReport) -> Iterator[StreamRecord]:
    """Every event type the account has; a tier without events yields none, with a note."""
    for event_type in _optional_listing(report, "event_types", client.list_event_types):
        report.count("event_types")
        yield StreamRecord(
            kind=EVENT_TYPE,
            object_type=None,
            hubspot_id=event_type,
            data={"eventType": event_type},
            hubspot_ts=None,
        )


def _optional_listing(report: StageReport, unit: str, fetch: Callable[[], list]) -> list:
    """``fetch()`` as one unit; empty, with a note, when the token lacks its optional scope."""
    report.unit_started()
    try:
        return fetch()
    except Forbidden as exc:
        report.note(unit, str(exc), status=exc.status, category=exc.category)
        return []
