"""Command line: `python -m hubspot_assets_tests.sandbox [options]`.

Prints `sandbox listening on http://HOST:PORT` and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .config import ALL_FAULT_KINDS, DEMO_PORTAL_ID, DEMO_TOKEN, AccountSpec, SandboxConfig
from .server import SandboxServer


def _key_value(text: str) -> tuple[str, int]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected TYPE=COUNT, got {text!r}")
    return key, int(value.replace("_", ""))


def _account(text: str) -> tuple[int, str]:
    portal, sep, token = text.partition(":")
    if not sep or not token:
        raise argparse.ArgumentTypeError(f"expected PORTAL_ID:TOKEN, got {text!r}")
    return int(portal), token


def build_parser() -> argparse.ArgumentParser:
    d = SandboxConfig.__dataclass_fields__
    p = argparse.ArgumentParser(prog="python -m hubspot_assets_tests.sandbox", description="A local HubSpot API stand-in.")
    p.add_argument("--config", metavar="FILE.json",
                   help='accounts and settings as JSON: {"settings": {SandboxConfig fields}, '
                        '"accounts": [{AccountSpec fields}]}; other flags are then ignored '
                        "except --host/--port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--account", type=_account, action="append", metavar="PORTAL_ID:TOKEN",
                   help=f"an account (repeatable); default {DEMO_PORTAL_ID}:{DEMO_TOKEN}")
    p.add_argument("--seed", type=int, default=1, help="data seed (account k gets seed+k)")
    p.add_argument("--size", type=_key_value, action="append", default=[], metavar="TYPE=COUNT",
                   help="records of a type, e.g. contacts=100000 (repeatable)")
    p.add_argument("--deny", action="append", default=[], metavar="TYPE",
                   help="type (or `events`, `schemas`) the tokens lack the scope for")
    p.add_argument("--events-per-type", type=int, default=40)
    p.add_argument("--bulk-import", type=int, default=None,
                   help="contacts sharing one hs_lastmodifieddate millisecond")
    p.add_argument("--ten-second-limit", type=int, default=d["ten_second_limit"].default)
    p.add_argument("--daily-limit", type=int, default=d["daily_limit"].default)
    p.add_argument("--search-per-second", type=int, default=d["search_per_second"].default)
    p.add_argument("--window", type=float, default=d["window_seconds"].default,
                   help="burst window in seconds (HubSpot: 10)")
    p.add_argument("--associations-exempt", action="store_true",
                   help="v4 association batch reads skip the burst limit")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--fault-kinds", default=",".join(ALL_FAULT_KINDS),
                   help=f"comma-separated subset of {','.join(ALL_FAULT_KINDS)}")
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--slow-ms", type=float, default=d["slow_ms"].default)
    p.add_argument("--association-page-size", type=int, default=d["association_page_size"].default)
    p.add_argument("--max-url-length", type=int, default=d["max_url_length"].default)
    return p


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    if args.config:
        with open(args.config) as handle:
            config = SandboxConfig.from_dict(json.load(handle))
        config.host, config.port = args.host, args.port
        return config
    sizes = dict(args.size)
    accounts = [AccountSpec(portal, token, seed=args.seed + k, sizes=sizes,
                            denied_types=frozenset(args.deny), events_per_type=args.events_per_type,
                            bulk_import=args.bulk_import)
                for k, (portal, token) in enumerate(args.account or [(DEMO_PORTAL_ID, DEMO_TOKEN)])]
    return SandboxConfig(
        accounts=accounts, host=args.host, port=args.port,
        ten_second_limit=args.ten_second_limit, daily_limit=args.daily_limit,
        search_per_second=args.search_per_second, window_seconds=args.window,
        associations_exempt=args.associations_exempt, latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms, fault_rate=args.fault_rate,
        fault_kinds=tuple(k for k in args.fault_kinds.split(",") if k),
        fault_seed=args.fault_seed, slow_ms=args.slow_ms,
        association_page_size=args.association_page_size, max_url_length=args.max_url_length)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = SandboxServer(config_from_args(args)).start()
    stopped = threading.Event()

    def stop(signum, frame):
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sandbox listening on {server.url}", flush=True)
    try:
        while not stopped.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
