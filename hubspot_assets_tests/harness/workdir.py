"""The demo's working directory: what it keeps between runs and where.

    DIR/sources.yaml       the source registry (written once; yours to edit)
    DIR/.env               token variables (written once; Dagster loads it)
    DIR/dagster_home/      DAGSTER_HOME: dagster.yaml and the SQLite instance (run history)
    DIR/mongo/             the MongoDB stand-in's snapshots (unless MONGODB_URI is set)
    DIR/demo-state.json    the sandbox account: its size, port and every change step taken
    DIR/logs/, DIR/limiter/

The sandbox account is rebuilt on every start from its seed, then the change
steps of earlier sessions are replayed with their recorded times, so the
account the stored data came from is the account an incremental run reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubspot_assets_tests.harness.ports import free_port
from hubspot_assets_tests.harness.sources_file import LocalSource, write_sources_file

#: The sandbox's record counts at its defaults: `--contacts N` scales all of them.
DEFAULT_CONTACTS = 60
DEFAULT_EVENTS_PER_TYPE = 40


def account_sizes(contacts: int) -> dict[str, Any]:
    """The sandbox account's sizes: every default size times contacts / the default contacts."""
    from hubspot_assets_tests.sandbox.config import DEFAULT_SIZES

    factor = contacts / DEFAULT_CONTACTS
    return {"sizes": {name: max(1, round(n * factor)) for name, n in DEFAULT_SIZES.items()},
            "events_per_type": max(1, round(DEFAULT_EVENTS_PER_TYPE * factor))}


@dataclass
class DemoState:
    """What demo-state.json holds."""

    contacts: int = DEFAULT_CONTACTS
    sandbox_port: int = 0
    steps: list[dict[str, int]] = field(default_factory=list)  # {"now": ms, "bulk_import": n}
    postgres_database: str | None = None
    sessions: int = 0


class DemoWorkdir:
    """Paths of one working directory; `kept` says whether it outlives this demo."""

    def __init__(self, root: Path, *, kept: bool):
        self.root = Path(root).resolve()
        self.kept = kept
        self.sources_file = self.root / "sources.yaml"
        self.env_file = self.root / ".env"
        self.home = self.root / "dagster_home"
        self.mongo_dir = self.root / "mongo"
        self.logs = self.root / "logs"
        self.limiter = self.root / "limiter"
        self.state_file = self.root / "demo-state.json"
        self.resumed = self.state_file.exists()
        self.state = self._load_state()

    def _load_state(self) -> DemoState:
        if not self.resumed:
            return DemoState()
        try:
            return DemoState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as error:
            raise SystemExit(f"{self.state_file} is damaged ({error}); start with a new "
                             "--workdir, or delete the file to rebuild the sandbox account "
                             "(its stored data will then differ from the account)") from error

    def save_state(self) -> None:
        """Atomically: a crash mid-write must not lose the account's history."""
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.state.__dict__, indent=2))
        os.replace(temporary, self.state_file)

    def settle_account(self, contacts: int | None) -> int:
        """The account size: as asked on the first start, as stored afterwards."""
        if not self.resumed:
            self.state.contacts = contacts or DEFAULT_CONTACTS
        elif contacts is not None and contacts != self.state.contacts:
            raise SystemExit(
                f"{self.root} holds an account of {self.state.contacts} contacts; "
                f"--contacts {contacts} needs a new --workdir (the stored data came from "
                "the first)")
        if not self.state.sandbox_port:
            # Fixed for the directory's life: the sources file names the sandbox's URL.
            self.state.sandbox_port = free_port()
        return self.state.contacts

    def write_sources_once(self, source: LocalSource, schedule: dict | None = None) -> bool:
        """Writes sources.yaml and .env unless they exist; True when written now."""
        if self.sources_file.exists():
            return False
        write_sources_file(self.sources_file, [source], run_new_sources=True, schedule=schedule)
        if not self.env_file.exists():
            self.env_file.write_text(
                "# Token variables, one NAME=value a line (Dagster loads this file from the\n"
                "# directory `dagster dev` runs in; the demo reads it in --headless too).\n"
                "# A source in sources.yaml names its variable in `token_env`.\n"
                f"{source.token_env}={source.token}\n")
        return True

    def env_values(self) -> dict[str, str]:
        """The .env file's variables, read as Dagster reads it (python-dotenv)."""
        if not self.env_file.exists():
            return {}
        from dotenv import dotenv_values  # a dependency of dagster

        return {k: v for k, v in dotenv_values(self.env_file).items() if v is not None}
