"""The source registry: which HubSpot accounts to copy, read from a YAML file.

Plain Python (no Dagster): the sensor, the resource and the command-line tools
all read the registry through :func:`load_registry`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hubspot_assets.cadence import CadenceError, SourceSchedule, check_block, parse_schedule
from hubspot_assets.hubspot.config import RateBudget
from hubspot_assets.hubspot.secrets import InvalidToken, check_token
from hubspot_assets.stream.naming import InvalidSourceId, validate_source_id

ENV_VAR_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DEFAULT_TIER = "professional"
_LIMIT_KEYS = {"ten_second", "daily", "search_per_second", "window_seconds",
               "search_window_seconds"}
_WINDOW_KEYS = {"window_seconds", "search_window_seconds"}  # may be fractional
_ENTRY_KEYS = {"id", "token_env", "base_url", "tier", "limits", "include", "exclude",
               "property_history", "events_lookback_hours", "schedule"}
#: `property_history: {contacts: all}`: every property of the type.
ALL_PROPERTIES = "all"
#: How far before its watermark an incremental events read starts: an event sent
#: up to this late (its occurredAt that far in the past when it appears) is still
#: fetched. A day by default; `events_lookback_hours` per source or for the file.
DEFAULT_EVENTS_LOOKBACK_HOURS = 24.0
#: Beyond HubSpot's ~90-day retention a lookback buys nothing a full sync does not.
MAX_EVENTS_LOOKBACK_HOURS = 90 * 24.0


class RegistryError(ValueError):
    """The registry file, or one of its entries, cannot be used."""


class UnknownSourceError(RegistryError):
    """A source id that the registry does not declare."""


@dataclass(frozen=True)
class Source:
    """One HubSpot account to copy; its id is the Dagster partition key."""

    id: str
    token_env: str
    budget: RateBudget
    base_url: str | None = None
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    # (object type, property names or ALL_PROPERTIES): the types whose property
    # history is copied (opt-in: a batch read with history takes 50 ids, not 100).
    property_history: tuple[tuple[str, tuple[str, ...] | str], ...] = ()
    events_lookback_hours: float = DEFAULT_EVENTS_LOOKBACK_HOURS
    schedule: SourceSchedule = SourceSchedule()

    def wants(self, object_type: str, *aliases: str) -> bool:
        """Whether the include/exclude lists let this object type through."""
        names = {object_type, *aliases}
        if self.include and not names & self.include:
            return False
        return not names & self.exclude

    def token(self) -> str:
        """The token from this source's environment variable, or a clear error."""
        value = os.environ.get(self.token_env, "")
        if not value.strip():
            raise RegistryError(
                f"source {self.id!r}: environment variable {self.token_env} is not set "
                f"or empty. Set it to the HubSpot private app token of this account "
                f"(export {self.token_env}=...) before running."
            )
        try:
            # Rejected, not stripped: a token pasted with a newline is often cut short too.
            return check_token(value, f"environment variable {self.token_env}")
        except InvalidToken as exc:
            raise RegistryError(f"source {self.id!r}: {exc}.") from None


@dataclass(frozen=True)
class Registry:
    """The valid sources of a registry file, and the problems of the invalid entries."""

    path: str
    sources: dict[str, Source] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    run_new_sources: bool = True
    schedule_defaults: dict[str, Any] = field(default_factory=dict)

    def get(self, source_id: str) -> Source:
        """The source with this id, or an error naming the known ids and the fix."""
        if source_id in self.sources:
            return self.sources[source_id]
        if source_id in self.problems:
            raise RegistryError(
                f"source {source_id!r} in {self.path} is invalid: {self.problems[source_id]}"
            )
        known = ", ".join(sorted(self.sources)) or "none"
        raise UnknownSourceError(
            f"unknown source id {source_id!r}: {self.path} declares {known}. "
            f"Add it under 'sources:' in that file (see sources.example.yaml)."
        )


def load_registry(path: str | os.PathLike[str]) -> Registry:
    """Read a registry file; invalid entries are reported, never fatal to the others."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(
            f"source registry {path} does not exist. Create it (see sources.example.yaml) "
            f"or point HUBSPOT_SOURCES_FILE at it."
        ) from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RegistryError(f"source registry {path} is not valid YAML{where}: fix its syntax.") from None
    entries = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise RegistryError(
            f"source registry {path} must hold a mapping with a 'sources:' list "
            f"(see sources.example.yaml)."
        )
    try:
        # The registry-wide defaults concern every source: a mistake there is fatal.
        schedule_defaults = check_block(document.get("schedule"), "schedule")
        parse_schedule(schedule_defaults)
    except CadenceError as exc:
        raise RegistryError(f"{path}: {exc}") from None
    sources: dict[str, Source] = {}
    problems: dict[str, str] = {}
    lookback = _parse_lookback(document, f"{path}: events_lookback_hours")
    for index, entry in enumerate(entries):
        label = entry.get("id") if isinstance(entry, dict) else None
        label = label if isinstance(label, str) and label else f"#{index + 1}"
        if label in sources or label in problems:
            problems[label] = f"id {label!r} is declared more than once: keep one entry."
            sources.pop(label, None)
            continue
        try:
            sources[label] = parse_source(entry, events_lookback_hours=lookback,
                                          schedule_defaults=schedule_defaults)
        except RegistryError as exc:
            problems[label] = str(exc)
    run_new_sources = document.get("run_new_sources", True)
    if not isinstance(run_new_sources, bool):
        raise RegistryError(f"{path}: run_new_sources must be true or false.")
    return Registry(path=path, sources=sources, problems=problems,
                    run_new_sources=run_new_sources, schedule_defaults=schedule_defaults)


def parse_source(entry: Any, *,
                 events_lookback_hours: float = DEFAULT_EVENTS_LOOKBACK_HOURS,
                 schedule_defaults: dict[str, Any] | None = None) -> Source:
    """Validate one registry entry (`events_lookback_hours` and `schedule:` over the
    file's defaults)."""
    if not isinstance(entry, dict):
        raise RegistryError("an entry must be a mapping with at least 'id' and 'token_env'.")
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise RegistryError(
            f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_ENTRY_KEYS)}."
        )
    try:
        source_id = validate_source_id(entry.get("id"))
    except InvalidSourceId as exc:
        raise RegistryError(f"{exc} (it names MongoDB collections).") from None
    token_env = entry.get("token_env")
    if not isinstance(token_env, str) or not ENV_VAR_PATTERN.match(token_env):
        raise RegistryError(
            f"token_env must name an environment variable (e.g. HUBSPOT_TOKEN_{source_id.upper()}), "
            f"never the token itself."
        )
    include, exclude = _parse_names(entry, "include"), _parse_names(entry, "exclude")
    if include and exclude:
        raise RegistryError("include and exclude are both set; keep one: include lists the "
                            "only types to sync, exclude the types to leave out.")
    try:
        schedule = parse_schedule(entry.get("schedule"), defaults=schedule_defaults)
    except CadenceError as exc:
        raise RegistryError(str(exc)) from None
    return Source(
        id=source_id,
        token_env=token_env,
        budget=_parse_budget(entry),
        base_url=_parse_base_url(entry.get("base_url")),
        include=include,
        exclude=exclude,
        property_history=_parse_history(entry.get("property_history")),
        events_lookback_hours=_parse_lookback(entry, "events_lookback_hours",
                                              events_lookback_hours),
        schedule=schedule,
    )


def _parse_history(value: Any) -> tuple[tuple[str, tuple[str, ...] | str], ...]:
    if value is None:
        return ()
    fix = ("property_history must map object types to 'all' or a list of property names, "
           "e.g. property_history: {contacts: all, deals: [dealstage, amount]}")
    if not isinstance(value, dict):
        raise RegistryError(f"{fix}; not {value!r}.")
    out = []
    for object_type, names in value.items():
        if not isinstance(object_type, str) or not object_type:
            raise RegistryError(f"{fix}; not the key {object_type!r}.")
        if names == ALL_PROPERTIES:
            out.append((object_type, ALL_PROPERTIES))
        elif (isinstance(names, list) and names
              and all(isinstance(n, str) and n and n == n.strip() for n in names)):
            out.append((object_type, tuple(names)))
        else:
            raise RegistryError(f"{fix}; not {object_type}: {names!r}.")
    return tuple(out)


def _parse_lookback(mapping: dict[str, Any], what: str,
                    default: float = DEFAULT_EVENTS_LOOKBACK_HOURS) -> float:
    value = mapping.get("events_lookback_hours", default)
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 <= value <= MAX_EVENTS_LOOKBACK_HOURS):
        raise RegistryError(
            f"{what} must be a number of hours from 0 to {MAX_EVENTS_LOOKBACK_HOURS:g} (how late "
            f"an event may be sent and still be fetched; default "
            f"{DEFAULT_EVENTS_LOOKBACK_HOURS:g}), not {value!r}.")
    return float(value)


def _parse_base_url(base_url: Any) -> str | None:
    """Scheme, host and port only: the client appends every API path itself."""
    if base_url is None:
        return None
    if not isinstance(base_url, str) or not re.match(r"^https?://[^\s@/?#]+/*$", base_url):
        shown = base_url if isinstance(base_url, str) and "@" not in base_url else "(hidden)"
        raise RegistryError(
            f"base_url must be an http(s) URL of a host with no credentials, path or query, "
            f"not {shown!r}; use e.g. https://api.hubapi.com (or omit it for HubSpot's), "
            f"or http://127.0.0.1:PORT for a sandbox.")
    return base_url.rstrip("/")


def _parse_budget(entry: dict[str, Any]) -> RateBudget:
    tier = entry.get("tier", DEFAULT_TIER)
    overrides = entry.get("limits") or {}
    if not isinstance(overrides, dict) or set(overrides) - _LIMIT_KEYS:
        raise RegistryError(f"limits must be a mapping with keys among {sorted(_LIMIT_KEYS)}.")
    for key, value in overrides.items():
        allowed = (int, float) if key in _WINDOW_KEYS else (int,)
        if isinstance(value, bool) or not isinstance(value, allowed) or value <= 0:
            raise RegistryError(f"limits.{key} must be a positive number, not {value!r}.")
    try:
        return RateBudget.for_tier(str(tier), **overrides)
    except ValueError as exc:
        raise RegistryError(f"tier {tier!r}: {exc}.") from None


def _parse_names(entry: dict[str, Any], key: str) -> frozenset[str]:
    names = entry.get(key) or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise RegistryError(f"{key} must be a list of object type names, e.g. "
                            f"{key}: [contacts, companies], not {names!r}.")
    padded = [n for n in names if n != n.strip()]
    if padded:
        raise RegistryError(f"{key} names {padded!r} have whitespace around them; remove it.")
    return frozenset(names)
