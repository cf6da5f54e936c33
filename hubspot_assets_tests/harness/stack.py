"""A local Dagster deployment of the code location: webserver, daemon, instance, config.

`LocalStack` writes a DAGSTER_HOME (dagster.yaml), a workspace.yaml and the
sources file, starts the MongoDB stand-in unless a URI is given, then starts
Dagster's own processes with the environment the code location reads. In
`split` mode the webserver starts first, so partitions can be registered and
sensors switched off through GraphQL before the daemon's first tick; `dev`
mode runs `dagster dev` (what the demo shows).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hubspot_assets_tests.harness.graphql import DagsterGraphQL
from hubspot_assets_tests.harness.instance import (
    HUBSPOT_POOL,
    PostgresServer,
    instance_config,
    write_dagster_home,
)
from hubspot_assets_tests.harness.ports import free_port
from hubspot_assets_tests.harness.processes import (
    MARKER_ENV,
    ManagedProcess,
    end_marked_processes,
)
from hubspot_assets_tests.harness.services import MongoStandinService
from hubspot_assets_tests.harness.sources_file import (
    SCHEDULE_OFF,
    LocalSource,
    token_environment,
    write_sources_file,
)

PARTITIONS_DEF_NAME = "hubspot_sources"


@dataclass(frozen=True)
class CodeLocation:
    """What workspace.yaml loads: by default the real code location."""

    module: str = "hubspot_assets.defs"
    attribute: str = "defs"
    name: str = "hubspot_assets"
    package: bool = False  # python_module (as the repo's workspace.yaml) vs python_package

    def workspace(self) -> dict:
        key, name_key = ("python_package", "package_name") if self.package else (
            "python_module", "module_name")
        return {"load_from": [{key: {
            name_key: self.module, "attribute": self.attribute, "location_name": self.name,
        }}]}


@dataclass
class StackSettings:
    """What to run and how; every field but `workdir` and `sources` has a local default."""

    workdir: Path
    sources: list[LocalSource]
    location: CodeLocation = field(default_factory=CodeLocation)
    mongodb_uri: str | None = None  # None: start the MongoDB stand-in
    mongodb_database: str = "hubspot"
    postgres_url: str | None = None  # None: SQLite instance storage under workdir
    host: str = "127.0.0.1"
    port: int | None = None  # webserver port; None: a free one
    mode: str = "split"  # "split": webserver + daemon; "dev": `dagster dev`
    register_partitions: bool = True  # add every source id via GraphQL before the daemon
    run_new_sources: bool = False  # let the sources sensor start a first sync of each source
    # The registry's `schedule:` block. Off by default: a test stack runs only what
    # its test launches (None: the code location's built-in cadences).
    schedule: dict | None = field(default_factory=lambda: dict(SCHEDULE_OFF))
    stopped_sensors: tuple[str, ...] = ()
    max_concurrent_runs: int = 4
    pool_limit: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 240.0


class LocalStack:
    """Start with `start()` (or `with`), stop with `stop()`; `diagnostics()` on failure."""

    def __init__(self, settings: StackSettings):
        self.settings = settings
        self.stack_id = uuid.uuid4().hex[:12]
        self.workdir = Path(settings.workdir).resolve()
        self.log_dir = self.workdir / "logs"
        self.home = self.workdir / "dagster_home"
        self.sources_file = self.workdir / "sources.yaml"
        self.workspace_file = self.workdir / "workspace.yaml"
        self.mongodb_uri = settings.mongodb_uri
        self.port = settings.port or free_port()
        self.url = f"http://{settings.host}:{self.port}"
        self.graphql = DagsterGraphQL(self.url, location=settings.location.name)
        self.processes: list[ManagedProcess] = []
        self._mongo: MongoStandinService | None = None
        self._postgres: PostgresServer | None = None
        self._db_name: str | None = None
        self.env: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalStack:
        # If the caller is interrupted before stop() (pytest can skip a session
        # teardown on Ctrl-C), still end the processes and drop the database.
        atexit.register(self.stop)
        try:
            self._start_mongo()
            self._write_files()
            self.env = self._environment()
            if self.settings.mode == "dev":
                self._start_dev()
            else:
                self._start_split()
        except BaseException:
            print(self.diagnostics(), file=sys.stderr)
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops Dagster first (it writes to MongoDB and Postgres), then the services."""
        atexit.unregister(self.stop)
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        if self._mongo is not None:
            self._mongo.stop()
            self._mongo = None
        # Run workers and code servers that left their parent's process group.
        leftovers = end_marked_processes(self.stack_id)
        if leftovers:
            print(f"ended {len(leftovers)} leftover process(es): {leftovers}", file=sys.stderr)
        if self._postgres is not None and self._db_name:
            try:
                self._postgres.drop_database(self._db_name)
            except Exception as error:  # keep stopping; report the database left behind
                print(f"could not drop database {self._db_name}: {error}", file=sys.stderr)
            self._db_name = None
        self.graphql.close()

    def diagnostics(self, lines: int = 60) -> str:
        """The tail of every process's log, for failure messages."""
        parts = [p.log_tail(lines) for p in self.processes]
        if self._mongo is not None:
            parts.append(self._mongo.process.log_tail(lines))
        return "\n".join(parts) or "(no processes started)"

    # -- pieces -----------------------------------------------------------------------

    def _start_mongo(self) -> None:
        if self.mongodb_uri:
            return
        self._mongo = MongoStandinService(log_dir=self.log_dir, env=self._marked_env())
        self.mongodb_uri = self._mongo.start(timeout=60)

    def _write_files(self) -> None:
        settings = self.settings
        write_sources_file(self.sources_file, settings.sources,
                           run_new_sources=settings.run_new_sources, schedule=settings.schedule)
        self.workspace_file.parent.mkdir(parents=True, exist_ok=True)
        self.workspace_file.write_text(yaml.safe_dump(settings.location.workspace()))
        if settings.postgres_url:
            self._postgres = PostgresServer.from_url(settings.postgres_url)
            self._db_name = self._postgres.create_database()
        write_dagster_home(self.home, instance_config(
            self.home,
            postgres=self._postgres,
            db_name=self._db_name,
            max_concurrent_runs=settings.max_concurrent_runs,
            pool_limit=settings.pool_limit,
        ))

    def _marked_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env[MARKER_ENV] = self.stack_id
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _environment(self) -> dict[str, str]:
        env = self._marked_env()
        env.update({
            "DAGSTER_HOME": str(self.home),
            "MONGODB_URI": self.mongodb_uri or "",
            "MONGODB_DATABASE": self.settings.mongodb_database,
            "HUBSPOT_SOURCES_FILE": str(self.sources_file),
            "HUBSPOT_LIMITER_DIR": str(self.workdir / "limiter"),
        })
        env.update(token_environment(self.settings.sources))
        env.update(self.settings.extra_env)
        return env

    def _dagster_process(self, name: str, *args: str) -> ManagedProcess:
        process = ManagedProcess(name, list(args), env=self.env, log_dir=self.log_dir,
                                 cwd=self.workdir)
        self.processes.append(process)
        return process.start()

    def _wait_webserver(self, process: ManagedProcess) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout
        process.wait_http(f"{self.url}/server_info", timeout=self.settings.startup_timeout)
        self.graphql.wait_location_loaded(timeout=max(10.0, deadline - time.monotonic()))
        # dagster.yaml's default_limit only applies once a step claims the pool;
        # setting it now shows the limit in the UI from the start.
        self.graphql.set_pool_limit(HUBSPOT_POOL, self.settings.pool_limit)

    def _start_split(self) -> None:
        webserver = self._dagster_process(
            "dagster-webserver", _bin("dagster-webserver"),
            "-w", str(self.workspace_file), "-h", self.settings.host, "-p", str(self.port),
        )
        self._wait_webserver(webserver)
        for sensor in self.settings.stopped_sensors:
            self.graphql.stop_sensor(sensor)
        if self.settings.register_partitions:
            self.register_sources([s.id for s in self.settings.sources])
        self._dagster_process(
            "dagster-daemon", _bin("dagster-daemon"), "run", "-w", str(self.workspace_file),
        )

    def _start_dev(self) -> None:
        dev = self._dagster_process(
            "dagster-dev", _bin("dagster"), "dev", "-w", str(self.workspace_file),
            "-h", self.settings.host, "-p", str(self.port),
        )
        self._wait_webserver(dev)

    def write_sources(self, sources: list[LocalSource]) -> None:
        """Rewrites the sources file while the stack runs, as an operator would.

        The token variables of the Dagster processes were fixed when they started.
        """
        self.settings.sources = list(sources)
        write_sources_file(self.sources_file, self.settings.sources,
                           run_new_sources=self.settings.run_new_sources,
                           schedule=self.settings.schedule)

    def register_sources(self, source_ids: list[str]) -> None:
        """Adds partitions through GraphQL, as the UI's "Add partition" does."""
        for source_id in source_ids:
            self.graphql.add_dynamic_partition(PARTITIONS_DEF_NAME, source_id)


def _bin(name: str) -> str:
    """A console script of the running interpreter's environment (the venv's)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    raise FileNotFoundError(
        f"{name} not found beside {sys.executable}; run scripts/setup to install the project"
    )
