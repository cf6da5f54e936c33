"""The sources YAML a local stack hands to the code location (`HUBSPOT_SOURCES_FILE`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


def token_env_name(source_id: str) -> str:
    """`HUBSPOT_TOKEN_<ID>`: the variable that holds a source's token."""
    return "HUBSPOT_TOKEN_" + re.sub(r"[^A-Za-z0-9]", "_", source_id).upper()


@dataclass
class LocalSource:
    """One registry entry plus the token value the stack puts in its environment."""

    id: str
    token: str
    base_url: str | None = None
    tier: str | None = None
    limits: dict[str, int] | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def token_env(self) -> str:
        return token_env_name(self.id)

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": self.id, "token_env": self.token_env}
        for key in ("base_url", "tier", "limits", "include", "exclude"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        entry.update(self.extra)
        return entry


#: A registry-wide `schedule:` block that turns both cadences off.
SCHEDULE_OFF = {"sync": False, "full_resync": False}


def write_sources_file(path: Path, sources: list[LocalSource], *,
                       run_new_sources: bool = False,
                       schedule: dict[str, Any] | None = None) -> Path:
    """Writes the registry file; tokens stay out of it (they go in the environment).

    `run_new_sources` lets the code location's sensor start a first sync of
    every new source (the demo wants that; tests launch their own backfills).
    `schedule` is the registry-wide cadence block (None: the built-in defaults).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {"run_new_sources": run_new_sources}
    if schedule is not None:
        body["schedule"] = schedule
    body["sources"] = [source.entry() for source in sources]
    path.write_text(
        "# Written by hubspot_assets_tests.harness; tokens come from the named variables.\n"
        + yaml.safe_dump(body, sort_keys=False)
    )
    return path


def token_environment(sources: list[LocalSource]) -> dict[str, str]:
    return {source.token_env: source.token for source in sources}
