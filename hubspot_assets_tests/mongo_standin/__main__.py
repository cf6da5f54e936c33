"""`python -m hubspot_assets_tests.mongo_standin --port N`: serve until SIGTERM/SIGINT.

Prints the connection URI on one line (stdout) once it accepts connections.
`--data-dir DIR` keeps the data in DIR across restarts (persistence.py).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from hubspot_assets_tests.mongo_standin.commands import COMPRESS_ABOVE_BYTES
from hubspot_assets_tests.mongo_standin.persistence import SnapshotError
from hubspot_assets_tests.mongo_standin.server import MongoStandin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hubspot_assets_tests.mongo_standin",
        description="In-memory MongoDB stand-in (mockupdb + mongomock) for development and "
                    "tests. Data is lost when it stops, unless --data-dir is given.")
    parser.add_argument("--port", type=int, default=27017, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--compress-above-mb", type=float, default=COMPRESS_ABOVE_BYTES / 2**20,
                        help="compress large documents once this much is stored (default "
                             "%(default)g; 0: always)")
    parser.add_argument("--data-dir", type=Path,
                        help="load DIR's snapshot on start, save one every --snapshot-seconds "
                             "while writes arrive and on SIGTERM/SIGINT")
    parser.add_argument("--snapshot-seconds", type=float, default=30.0,
                        help="with --data-dir: seconds between snapshots (default %(default)g)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        standin = MongoStandin(port=args.port, host=args.host, verbose=args.verbose,
                               compress_above=int(args.compress_above_mb * 2**20),
                               data_dir=args.data_dir,
                               snapshot_seconds=args.snapshot_seconds).start()
    except SnapshotError as error:
        print(error, file=sys.stderr)
        return 2
    if standin.keeper is not None:
        # Before the URI: whoever waits for the URI may read this as well.
        print(f"data directory {args.data_dir} ({standin.keeper.loaded} documents loaded)",
              file=sys.stderr, flush=True)
    try:
        print(standin.uri, flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
