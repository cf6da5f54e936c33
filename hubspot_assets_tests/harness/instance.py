"""A DAGSTER_HOME for a local stack: dagster.yaml and, optionally, a fresh Postgres database.

PostgreSQL storage is what a deployment uses (the webserver, the daemon and
every run process write to one instance concurrently); SQLite is the
zero-setup default for the demo.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

#: The concurrency pool every HubSpot-calling asset declares.
HUBSPOT_POOL = "hubspot_api"


@dataclass(frozen=True)
class PostgresServer:
    """Where to create instance databases; parsed from a `postgresql://` URL."""

    hostname: str = "127.0.0.1"
    port: int = 5432
    username: str = "postgres"
    password: str = ""

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
        return cls(
            hostname=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            username=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )

    def _connect(self, database: str = "postgres"):
        import psycopg2  # installed with dagster-postgres

        conn = psycopg2.connect(
            host=self.hostname, port=self.port, user=self.username,
            password=self.password or None, dbname=database, connect_timeout=10,
        )
        conn.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
        return conn

    def create_database(self, prefix: str = "dagster_hubspot") -> str:
        """Creates an empty database with a unique name and returns the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drops a database, disconnecting leftover sessions (PostgreSQL 13+)."""
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise ValueError(f"refusing to drop database {name!r}")
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()


def instance_config(
    home: Path,
    *,
    postgres: PostgresServer | None = None,
    db_name: str | None = None,
    max_concurrent_runs: int = 4,
    pool_limit: int = 4,
) -> dict:
    """The dagster.yaml content for a local stack."""
    if postgres is not None:
        if not db_name:
            raise ValueError("a Postgres instance needs a database name")
        storage = {
            "postgres": {
                "postgres_db": {
                    "hostname": postgres.hostname,
                    "port": postgres.port,
                    "username": postgres.username,
                    "password": postgres.password,
                    "db_name": db_name,
                    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, which
                    # dagster-postgres does not install; it ships psycopg2.
                    "scheme": "postgresql+psycopg2",
                }
            }
        }
    else:
        storage = {"sqlite": {"base_dir": str(Path(home) / "storage")}}
    return {
        "storage": storage,
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(Path(home) / "artifacts")},
        },
        "concurrency": {
            "runs": {"max_concurrent_runs": max_concurrent_runs},
            # Only HubSpot-calling steps use a pool, so the default limit is the
            # hubspot_api limit; `op` granularity holds steps, not whole runs.
            "pools": {"default_limit": pool_limit, "granularity": "op"},
        },
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},
    }


def write_dagster_home(home: Path, config: dict) -> Path:
    """Creates `home` and writes its dagster.yaml; returns the home path."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(
        "# Written by hubspot_assets_tests.harness for a local stack.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return home
