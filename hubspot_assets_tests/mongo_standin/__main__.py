"""`python -m hubspot_assets_tests.mongo_standin --port N`: serve until SIGTERM/SIGINT.

Prints the connection URI on one line (stdout) once it accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from hubspot_assets_tests.mongo_standin.commands import COMPRESS_ABOVE_BYTES
from hubspot_assets_tests.mongo_standin.server import MongoStandin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hubspot_assets_tests.mongo_standin",
        description="In-memory MongoDB stand-in (mockupdb + mongomock) for development and "
                    "tests. Data is lost when it stops.")
    parser.add_argument("--port", type=int, default=27017, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--compress-above-mb", type=float, default=COMPRESS_ABOVE_BYTES / 2**20,
                        help="compress large documents once this much is stored (default "
                             "%(default)g; 0: always)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    standin = MongoStandin(port=args.port, host=args.host, verbose=args.verbose,
                           compress_above=int(args.compress_above_mb * 2**20)).start()
    try:
        print(standin.uri, flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
