"""The demo: a local HubSpot sandbox copied into MongoDB by Dagster.

    python -m hubspot_assets_tests.harness.demo                # the Dagster UI (Ctrl-C stops all)
    python -m hubspot_assets_tests.harness.demo --headless     # one sync in-process, a summary
    python -m hubspot_assets_tests.harness.demo --workdir DIR  # history, sources, data kept in DIR
    python -m hubspot_assets_tests.harness.demo --headless --source ID  # from $HUBSPOT_SOURCES_FILE

Without `--source`, the demo starts a sandbox holding one HubSpot account
(`--contacts N` for a larger one) and registers it as source `demo`. Without
MONGODB_URI, it starts the MongoDB stand-in. Without `--workdir` all of it
lives in a temporary directory that is deleted when the demo stops; with
`--workdir DIR` everything is kept there (workdir.py) and the next start on
DIR carries on: the account has changed a little, and a sync is incremental.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from hubspot_assets_tests.harness.ports import port_in_use
from hubspot_assets_tests.harness.services import MongoStandinService, SandboxService
from hubspot_assets_tests.harness.sources_file import LocalSource
from hubspot_assets_tests.harness.workdir import DemoWorkdir, account_sizes

DEMO_SOURCE_ID = "demo"
HEADLESS_CONFIG = "dagster-headless.yaml"
#: The demo registry's cadence: hubspot_sync_schedule runs an incremental sync every 5 minutes.
DEMO_SCHEDULE = {"sync": "*/5 * * * *"}
#: While the UI runs, the sandbox account changes this often, as a live account would.
ADVANCE_SECONDS = 300.0
MONGODB_DATABASE = "hubspot"


def demo_sandbox_spec(contacts: int | None = None) -> dict:
    """One account: the sandbox's demo account (at its default sizes, or scaled to `contacts`)."""
    from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN

    account = {"portal_id": DEMO_PORTAL_ID, "token": DEMO_TOKEN}
    if contacts is not None:
        account.update(account_sizes(contacts))
    return {"accounts": [account], "settings": {}}


def demo_source(sandbox_url: str) -> LocalSource:
    from hubspot_assets_tests.sandbox import DEMO_TOKEN

    return LocalSource(DEMO_SOURCE_ID, DEMO_TOKEN, base_url=sandbox_url, tier="professional")


def _stop_on_sigterm() -> None:
    # `kill PID` should clean up like Ctrl-C does.
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


# -- what both modes share --------------------------------------------------------------

def _open_workdir(args: argparse.Namespace) -> DemoWorkdir:
    """--workdir (kept), or a temporary directory that main() removes unless something failed."""
    if args.workdir:
        workdir = DemoWorkdir(Path(args.workdir), kept=True)
        print(f"working directory {workdir.root} ("
              + ("resumed: run history, sources and stored data from before"
                 if workdir.resumed else "new: kept after the demo stops") + ")")
        return workdir
    args.workdir_created = Path(tempfile.mkdtemp(prefix="hubspot-demo-")).resolve()
    print(f"no --workdir: run history, sources file and stored data live in "
          f"{args.workdir_created} and are deleted when the demo stops "
          f"(keep them with --workdir DIR)")
    return DemoWorkdir(args.workdir_created, kept=False)


def _start_sandbox(args: argparse.Namespace, workdir: DemoWorkdir,
                   cleanup: ExitStack) -> SandboxService:
    """The demo account as it was when this directory last ran, plus one step of changes."""
    from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID

    contacts = workdir.settle_account(args.contacts)
    port = workdir.state.sandbox_port if workdir.kept else 0
    if port and port_in_use(port):
        raise SystemExit(f"port {port}, where this working directory's sandbox listens, is in "
                         "use: is another demo running on it? Stop that one first.")
    print(f"starting the HubSpot sandbox ({contacts:,} contacts and the other types in "
          "proportion) ...", flush=True)
    sandbox = cleanup.enter_context(SandboxService(
        demo_sandbox_spec(contacts), workdir=workdir.root, port=port))
    for step in workdir.state.steps:  # replayed at their recorded times: the same account
        sandbox.advance(DEMO_PORTAL_ID, now_ms=step["now"])
    if workdir.resumed:
        # Time has passed since the last session: the account changed a little.
        _advance(sandbox, workdir, "since the last session")
    workdir.state.sessions += 1
    if workdir.kept:
        workdir.save_state()
    return sandbox


def _advance(sandbox: SandboxService, workdir: DemoWorkdir, when: str) -> None:
    """One change step of the demo account, recorded so that the next start replays it."""
    from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID

    summary = sandbox.advance(DEMO_PORTAL_ID)
    workdir.state.steps.append({"now": summary["now"]})
    if workdir.kept:
        workdir.save_state()
    changed = sum(len(v) for key in ("updated", "archived", "created")
                  for v in summary[key].values())
    print(f"the sandbox account changed {when}: {changed} records updated, archived or "
          "created (an incremental sync picks them up)", flush=True)


def _register_demo_source(workdir: DemoWorkdir, sandbox: SandboxService) -> None:
    if workdir.write_sources_once(demo_source(sandbox.url), schedule=DEMO_SCHEDULE):
        return
    print(f"keeping {workdir.sources_file} as it is (the demo never rewrites it)")


def _sources_help(workdir: DemoWorkdir, headless: bool) -> str:
    applied = ("The next `--headless --workdir` run reads both." if headless else
               "The sources sensor reads sources.yaml every 30 s; .env is read when\n"
               "               Dagster starts: Ctrl-C and start the demo again with this "
               "--workdir.")
    return f"""Sources file:  {workdir.sources_file}   (yours to edit; never rewritten)
Tokens:        {workdir.env_file}   (NAME=value lines; Dagster loads .env from the
               directory it runs in, here {workdir.root})
Add a source:  append to sources.yaml
                 - id: acme
                   token_env: HUBSPOT_TOKEN_ACME
                   tier: professional
               and a line HUBSPOT_TOKEN_ACME=<private app token> to .env.
               {applied}"""


def _start_mongo(workdir: DemoWorkdir,
                 cleanup: ExitStack) -> tuple[str, MongoStandinService | None]:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        print("MONGODB_URI is set: the data goes to that server and stays there")
        return uri, None
    standin = MongoStandinService(log_dir=workdir.logs, env=dict(os.environ),
                                  data_dir=workdir.mongo_dir if workdir.kept else None)
    cleanup.callback(standin.stop)
    return standin.start(), standin


# -- the UI -----------------------------------------------------------------------------

def serve(args: argparse.Namespace) -> int:
    from hubspot_assets_tests.harness.stack import LocalStack, StackSettings

    if port_in_use(args.port):
        print(f"port {args.port} is in use; pick another with --port", file=sys.stderr)
        return 2
    workdir = _open_workdir(args)
    args.workdir_obj = workdir
    with ExitStack() as cleanup:
        sandbox = _start_sandbox(args, workdir, cleanup)
        _register_demo_source(workdir, sandbox)
        postgres_database = None
        if args.postgres_url and workdir.kept:
            postgres_database = _kept_postgres_database(args.postgres_url, workdir)
        settings = StackSettings(
            workdir=workdir.root,
            sources=[demo_source(sandbox.url)],
            mongodb_uri=os.environ.get("MONGODB_URI") or None,
            postgres_url=args.postgres_url,
            host=args.host,
            port=args.port,
            mode="dev",
            # The sources sensor adds the partition and starts the first sync itself.
            register_partitions=False,
            run_new_sources=True,
            keep_sources_file=True,
            mongo_data_dir=workdir.mongo_dir if workdir.kept else None,
            postgres_database=postgres_database,
            # The token comes from DIR/.env, which `dagster dev` loads: as a user would add one.
            tokens_in_env=False,
            # hubspot_sync_schedule keeps the demo current (used if sources.yaml is new).
            schedule=DEMO_SCHEDULE,
        )
        print("starting MongoDB and Dagster (about 20 s) ...", flush=True)
        stack = cleanup.enter_context(LocalStack(settings))
        _print_instructions(stack.url, sandbox.url, stack.mongodb_uri, workdir)
        advanced = time.monotonic()
        while all(p.alive() for p in stack.processes) and sandbox.process.alive():
            time.sleep(1)
            if time.monotonic() - advanced >= ADVANCE_SECONDS:
                advanced = time.monotonic()
                _advance(sandbox, workdir, time.strftime("at %H:%M:%S"))
        print("a demo process exited unexpectedly:\n" + stack.diagnostics(), file=sys.stderr)
        args.keep_workdir = True  # its logs explain why
        return 1


def _kept_postgres_database(url: str, workdir: DemoWorkdir) -> str:
    """One database per working directory, created on its first start and kept."""
    from hubspot_assets_tests.harness.instance import PostgresServer

    if not workdir.state.postgres_database:
        workdir.state.postgres_database = PostgresServer.from_url(url).create_database()
        workdir.save_state()
    return workdir.state.postgres_database


def _print_instructions(url: str, sandbox_url: str, mongodb_uri: str | None,
                        workdir: DemoWorkdir):
    first = workdir.state.sessions == 1
    sync = (f"Within ~30 s the hubspot_sources_sensor adds partition '{DEMO_SOURCE_ID}' and "
            "starts a first sync" if first else
            "The partition and its run history are kept from before; sync again with step 3")
    kept = (f"Ctrl-C stops everything; `scripts/demo --workdir {workdir.root}` carries on."
            if workdir.kept else "Ctrl-C stops everything and deletes the temporary directory.")
    print(f"""
Dagster UI:        {url}
HubSpot sandbox:   {sandbox_url}   (source id: {DEMO_SOURCE_ID})
MongoDB:           {mongodb_uri}   (database {MONGODB_DATABASE}, source_{DEMO_SOURCE_ID}_*)
{_sources_help(workdir, headless=False)}

What to click:
  1. Catalog -> group hubspot, Lineage tab
     ({url}/locations/hubspot_assets/asset-groups/hubspot): the stages and their lineage.
  2. {sync}:
     watch it under Runs ({url}/runs); a run's log shows each stage's progress.
  3. To sync again: on that page, "Materialize all..." -> partition '{DEMO_SOURCE_ID}'
     (or "Launch backfill" over several partitions); Automation lists the sensor and schedules.
  4. Click an asset for its metadata: records, API calls, 429s, errors, per-type tables.
Logs: {workdir.logs}      {kept}
""", flush=True)


# -- headless ---------------------------------------------------------------------------

def run_headless(args: argparse.Namespace) -> int:
    """Materializes every asset of the sync job for one source in this process; prints a table."""
    workdir = _open_workdir(args)
    args.workdir_obj = workdir
    with ExitStack() as cleanup:
        if args.source:
            source_id = args.source
            if not os.environ.get("HUBSPOT_SOURCES_FILE"):
                print("--source needs HUBSPOT_SOURCES_FILE (the registry holding it)",
                      file=sys.stderr)
                return 2
        else:
            source_id = DEMO_SOURCE_ID
            sandbox = _start_sandbox(args, workdir, cleanup)
            _register_demo_source(workdir, sandbox)
            os.environ["HUBSPOT_SOURCES_FILE"] = str(workdir.sources_file)
        # As `dagster dev` does: .env values override the environment.
        os.environ.update(workdir.env_values())
        uri, standin = _start_mongo(workdir, cleanup)
        os.environ["MONGODB_URI"] = uri
        os.environ.setdefault("MONGODB_DATABASE", MONGODB_DATABASE)
        os.environ.setdefault("HUBSPOT_LIMITER_DIR", str(workdir.limiter))
        code = _materialize(source_id, workdir, verbose=args.verbose,
                            standin_gone=standin is not None and not workdir.kept)
        args.keep_workdir = code != 0
        if standin is not None:
            standin.stop()  # writes its last snapshot
    if workdir.kept:
        _print_inspection(workdir, standin is not None, source_id, demo=not args.source)
    return code


def _print_inspection(workdir: DemoWorkdir, standin: bool, source_id: str, demo: bool) -> None:
    lines = [f"\nKept in {workdir.root}: run history (dagster_home)"
             + (", sources.yaml, .env" if demo else "")
             + (", the stored data (mongo/)" if standin else "") + "."]
    if standin:
        lines.append(
            "Look at the data: start the stand-in on it and connect with any MongoDB client\n"
            f"  .venv/bin/python -m hubspot_assets_tests.mongo_standin --data-dir "
            f"{workdir.mongo_dir} --port 27017\n"
            f"  -> mongodb://127.0.0.1:27017/ (database {MONGODB_DATABASE}, collections "
            f"source_{source_id}_stream, _objects, _relationships, watermarks)")
    if demo:
        lines.append(f"Sync again (incremental): scripts/demo --headless --workdir "
                     f"{workdir.root}\nThe same in the UI:       scripts/demo --workdir "
                     f"{workdir.root}")
        lines.append(_sources_help(workdir, headless=True))
    print("\n".join(lines), flush=True)


def _instance(workdir: DemoWorkdir):
    """Dagster's instance in DIR/dagster_home: the storage the UI of the same DIR uses.

    Its own config file beside dagster.yaml, without compute-log capture: that
    capture points the process's stdout at a file while steps run, which would
    hide the live display (and the run's structured event log is kept anyway).
    """
    import dagster as dg
    import yaml

    from hubspot_assets_tests.harness.instance import instance_config, write_dagster_home

    config = instance_config(workdir.home)
    if not (workdir.home / "dagster.yaml").exists():
        # For the UI and the dagster CLI on this DIR (DAGSTER_HOME): the same storage.
        write_dagster_home(workdir.home, config)
    config["compute_logs"] = {"module": "dagster._core.storage.noop_compute_log_manager",
                              "class": "NoOpComputeLogManager"}
    workdir.home.mkdir(parents=True, exist_ok=True)
    (workdir.home / HEADLESS_CONFIG).write_text(
        "# Written by the headless demo (hubspot_assets_tests/harness/demo.py).\n"
        + yaml.safe_dump(config, sort_keys=False))
    return dg.DagsterInstance.from_config(str(workdir.home), config_filename=HEADLESS_CONFIG)


def _stream_counter(source_id: str):
    """Documents in the source's stream collection, for the progress display."""
    import pymongo

    from hubspot_assets.stream.naming import SourceNames

    client = pymongo.MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=2000)
    collection = client[os.environ["MONGODB_DATABASE"]][SourceNames(source_id).stream]
    return client, collection.estimated_document_count


def _materialize(source_id: str, workdir: DemoWorkdir, verbose: bool = False,
                 standin_gone: bool = False) -> int:
    import warnings

    import dagster as dg

    # Preview/beta notices about Dagster features the code location uses are
    # for its developers, not for someone reading the demo's summary.
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)

    # Imported only now: the definitions read optional settings from the environment.
    from hubspot_assets.defs.definitions import defs
    from hubspot_assets.defs.partitions import source_partitions
    from hubspot_assets_tests.harness.progress import BackgroundWatch, RunWatcher, make_display
    from hubspot_assets_tests.harness.run_history import record_job_history
    from hubspot_assets_tests.harness.summary import (
        check_results,
        format_table,
        problems,
        skipped_units,
        stage_rows,
    )

    instance = _instance(workdir)
    try:
        if not instance.has_dynamic_partition(source_partitions.name, source_id):
            instance.add_dynamic_partitions(source_partitions.name, [source_id])
        job = defs.resolve_job_def("hubspot_sync")
        previous = instance.get_runs_count(dg.RunsFilter(tags={"dagster/partition": source_id}))
        started = time.monotonic()
        print(f"syncing source {source_id} (job hubspot_sync, in this process; "
              f"{previous} earlier run(s) in this instance) ...", flush=True)
        # Quiet by default: the live display shows progress, the summary failures.
        log_level = "DEBUG" if verbose else "CRITICAL"
        run_id = str(uuid.uuid4())
        client, count_stored = _stream_counter(source_id)
        # Its own instance object: the run's one holds a lock around every event
        # log access, and the run's writes would starve the display's reads.
        watch_instance = _instance(workdir)
        watcher = RunWatcher(watch_instance, run_id, count_stored)
        display = make_display(sys.stdout) if not verbose else None
        with ExitStack() as watching:
            watching.callback(client.close)
            watching.callback(watch_instance.dispose)
            if display is not None:
                watching.enter_context(BackgroundWatch(watcher, display))
            result = job.execute_in_process(
                partition_key=source_id, instance=instance, raise_on_error=False, run_id=run_id,
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            )
        # No daemon runs here: write the run's job history as its sensors would.
        history = record_job_history(instance, result.run_id, os.environ["MONGODB_URI"],
                                     os.environ["MONGODB_DATABASE"])
        rows = stage_rows(instance, result.run_id)
        print()
        print(format_table(rows))
        for line in problems(rows):
            print("  " + line)
        skipped = skipped_units(rows)
        if skipped:
            print(f"skipped units ({len(skipped)}): what the token could not read, and why")
            for line in skipped:
                print("  " + line)
        checks = check_results(instance, result.run_id)
        failed = [name for name, passed in checks if not passed]
        print(f"asset checks: {len(checks) - len(failed)} passed"
              + (f", {len(failed)} warned: {', '.join(failed)}" if failed else ""))
        outcome = "succeeded" if result.success else "FAILED"
        where = os.environ["MONGODB_URI"]
        if standin_gone:
            where += ": the stand-in and its data end with this command; --workdir keeps them"
        print(f"\nsource {source_id}: run {result.run_id} {outcome} in "
              f"{time.monotonic() - started:.1f}s (MongoDB: {where}; job_history "
              f"document {history['_id'] if history else 'not written'})")
        return 0 if result.success else 1
    finally:
        instance.dispose()


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
                        help="with --headless: show Dagster's event log instead of the progress "
                        "display")
    parser.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="Dagster UI address")
    parser.add_argument("--workdir", help="keep run history, the sources file, .env and the "
                        "stored data in this directory across restarts (default: a temporary "
                        "directory, deleted on exit)")
    parser.add_argument("--contacts", type=int, help="contacts in the sandbox account (default "
                        "60; the other types scale with them): 20000 shows the rate limiter "
                        "and progress at work. Fixed for a --workdir by its first start")
    parser.add_argument("--postgres-url", default=os.environ.get("DEMO_POSTGRES_URL"),
                        help="keep Dagster's instance in a database on this PostgreSQL "
                        "server (postgresql://user@host:port); default SQLite")
    args = parser.parse_args(argv)
    if args.source and not args.headless:
        parser.error("--source goes with --headless")
    if args.contacts is not None and not 1 <= args.contacts <= 1_000_000:
        parser.error("--contacts must be within 1..1000000")
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
