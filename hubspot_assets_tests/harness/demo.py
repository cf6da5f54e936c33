"""The demo: a local HubSpot sandbox copied into MongoDB by Dagster.

    python -m hubspot_assets_tests.harness.demo                 # serve the Dagster UI (Ctrl-C stops all)
    python -m hubspot_assets_tests.harness.demo --headless      # sync the demo source in-process, print a table
    python -m hubspot_assets_tests.harness.demo --headless --source ID   # a source of $HUBSPOT_SOURCES_FILE

Without `--source`, the demo starts a sandbox holding one HubSpot account and
registers it as source `demo`. Without MONGODB_URI, it starts the MongoDB
stand-in (in memory: the copy is gone when the demo stops).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from hubspot_assets_tests.harness.ports import port_in_use
from hubspot_assets_tests.harness.services import MongoStandinService, SandboxService
from hubspot_assets_tests.harness.sources_file import (
    LocalSource,
    token_environment,
    write_sources_file,
)

DEMO_SOURCE_ID = "demo"


def demo_sandbox_spec() -> dict:
    """One account: the sandbox's demo account at its default sizes and HubSpot's limits."""
    from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

    return {"accounts": [{"portal_id": DEMO_PORTAL_ID, "token": DEMO_TOKEN}], "settings": {}}


def demo_source(sandbox_url: str) -> LocalSource:
    from hubspot_assets_tests.sandbox import DEMO_TOKEN

    return LocalSource(DEMO_SOURCE_ID, DEMO_TOKEN, base_url=sandbox_url, tier="professional")


def _stop_on_sigterm() -> None:
    # `kill PID` should clean up like Ctrl-C does.
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# -- the UI -----------------------------------------------------------------------------

def serve(args: argparse.Namespace) -> int:
    from hubspot_assets_tests.harness.stack import LocalStack, StackSettings

    if port_in_use(args.port):
        print(f"port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 2
    workdir = _workdir(args, "hubspot-demo-")
    with ExitStack() as cleanup:
        print(f"demo files and logs: {workdir}")
        print("starting the HubSpot sandbox ...", flush=True)
        sandbox = cleanup.enter_context(SandboxService(demo_sandbox_spec(), workdir=workdir))
        settings = StackSettings(
            workdir=workdir,
            sources=[demo_source(sandbox.url)],
            mongodb_uri=os.environ.get("MONGODB_URI") or None,
            postgres_url=args.postgres_url,
            host=args.host,
            port=args.port,
            mode="dev",
            # The sources sensor adds the partition and starts the first sync itself.
            register_partitions=False,
            run_new_sources=True,
            # hubspot_sync_schedule keeps the demo current: an incremental sync every 5 minutes.
            schedule={"sync": "*/5 * * * *"},
        )
        print("starting MongoDB and Dagster (about 20 s) ...", flush=True)
        stack = cleanup.enter_context(LocalStack(settings))
        _print_instructions(stack.url, sandbox.url, stack.mongodb_uri, workdir)
        while all(p.alive() for p in stack.processes) and sandbox.process.alive():
            time.sleep(1)
        print("a demo process exited unexpectedly:\n" + stack.diagnostics(), file=sys.stderr)
        args.keep_workdir = True  # its logs explain why
        return 1


def _workdir(args: argparse.Namespace, prefix: str) -> Path:
    """--workdir, or a temporary directory that main() removes unless something failed."""
    if args.workdir:
        return Path(args.workdir).resolve()
    args.workdir_created = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    return args.workdir_created


def _print_instructions(url: str, sandbox_url: str, mongodb_uri: str | None, workdir: Path):
    print(f"""
Dagster UI:        {url}
HubSpot sandbox:   {sandbox_url}   (source id: {DEMO_SOURCE_ID})
MongoDB:           {mongodb_uri}   (database hubspot, collection source_{DEMO_SOURCE_ID}_stream)

What to click:
  1. {url}/locations/hubspot_assets/asset-groups/hubspot: the stages and their lineage.
  2. Within ~30 s the hubspot_sources_sensor adds partition '{DEMO_SOURCE_ID}' and starts a
     first sync: watch it under Runs ({url}/runs).
  3. To sync again: select all assets -> Materialize all -> pick partition '{DEMO_SOURCE_ID}'
     (or "Launch backfill" over several partitions).
  4. Click an asset to see its metadata: records, API calls, 429s, errors.
Logs: {workdir}/logs      Ctrl-C stops everything.
""", flush=True)


# -- headless ---------------------------------------------------------------------------

def run_headless(args: argparse.Namespace) -> int:
    """Materializes every asset of the sync job for one source in this process; prints a table."""
    workdir = _workdir(args, "hubspot-headless-")
    with ExitStack() as cleanup:
        if args.source:
            source_id = args.source
            if not os.environ.get("HUBSPOT_SOURCES_FILE"):
                print("--source needs HUBSPOT_SOURCES_FILE (the registry holding it)",
                      file=sys.stderr)
                return 2
        else:
            source_id = DEMO_SOURCE_ID
            sandbox = cleanup.enter_context(SandboxService(demo_sandbox_spec(), workdir=workdir))
            source = demo_source(sandbox.url)
            sources_file = write_sources_file(workdir / "sources.yaml", [source])
            os.environ["HUBSPOT_SOURCES_FILE"] = str(sources_file)
            os.environ.update(token_environment([source]))
        if not os.environ.get("MONGODB_URI"):
            standin = MongoStandinService(log_dir=workdir / "logs", env=dict(os.environ))
            cleanup.callback(standin.stop)
            os.environ["MONGODB_URI"] = standin.start()
        os.environ.setdefault("HUBSPOT_LIMITER_DIR", str(workdir / "limiter"))
        code = _materialize(source_id, verbose=args.verbose)
        args.keep_workdir = code != 0
        return code


def _materialize(source_id: str, verbose: bool = False) -> int:
    import warnings

    import dagster as dg

    # Preview/beta notices about Dagster features the code location uses are
    # for its developers, not for someone reading the demo's summary.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)

    # Imported only now: the definitions read optional settings from the environment.
    from hubspot_assets.defs.definitions import defs
    from hubspot_assets.defs.partitions import source_partitions
    from hubspot_assets_tests.harness.summary import (
        check_results,
        format_table,
        problems,
        stage_rows,
    )

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(source_partitions.name, [source_id])
    job = defs.resolve_job_def("hubspot_sync")
    started = time.monotonic()
    print(f"syncing source {source_id} (job hubspot_sync, in this process) ...", flush=True)
    # Quiet by default: the summary below reports failures without tracebacks.
    log_level = "DEBUG" if verbose else "CRITICAL"
    result = job.execute_in_process(
        partition_key=source_id, instance=instance, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    rows = stage_rows(instance, result.run_id)
    print()
    print(format_table(rows))
    for line in problems(rows):
        print("  " + line)
    checks = check_results(instance, result.run_id)
    failed = [name for name, passed in checks if not passed]
    print(f"asset checks: {len(checks) - len(failed)} passed"
          + (f", {len(failed)} warned: {', '.join(failed)}" if failed else ""))
    outcome = "succeeded" if result.success else "FAILED"
    print(f"\nsource {source_id}: run {result.run_id} {outcome} in "
          f"{time.monotonic() - started:.1f}s (MongoDB: {os.environ['MONGODB_URI']})")
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hubspot_assets_tests.harness.demo",
        description="Copy a (sandbox) HubSpot account into MongoDB with Dagster.",
    )
    parser.add_argument("--headless", action="store_true",
                        help="run the hubspot_sync job in this process and print a summary")
    parser.add_argument("--source", help="with --headless: a source id of $HUBSPOT_SOURCES_FILE "
                        "(default: the sandbox's demo account)")
    parser.add_argument("--verbose", action="store_true",
                        help="with --headless: show Dagster's event log while it runs")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="Dagster UI address")
    parser.add_argument("--workdir", help="where DAGSTER_HOME, configs and logs go "
                        "(default: a new temporary directory)")
    parser.add_argument("--postgres-url", default=os.environ.get("DEMO_POSTGRES_URL"),
                        help="keep Dagster's instance in a new database on this PostgreSQL "
                        "server (postgresql://user@host:port); default SQLite")
    args = parser.parse_args(argv)
    if args.source and not args.headless:
        parser.error("--source goes with --headless")
    _stop_on_sigterm()
    args.keep_workdir, args.workdir_created = False, None
    try:
        return run_headless(args) if args.headless else serve(args)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130
    finally:
        if args.workdir_created and not args.keep_workdir:
            shutil.rmtree(args.workdir_created, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
