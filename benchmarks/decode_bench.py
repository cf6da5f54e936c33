"""JSON decoding of one full batch-read page: the stdlib against orjson.

    .venv/bin/python benchmarks/decode_bench.py [--repeat 20]

Decoding is most of a large sync's CPU in the worker (py-spy), so the
transport decodes with orjson; this prints what that buys on a page of 100
contacts with every property of the sandbox, as the client asks for them.
"""

from __future__ import annotations

import argparse
import json
import time

import orjson
import requests

from hubspot_assets_tests.sandbox import AccountSpec, SandboxConfig, SandboxServer

TOKEN = "decode-bench-token"


def batch_read_page() -> tuple[bytes, int]:
    """The raw body of a 100-record batch read with every property, and the property count."""
    config = SandboxConfig(accounts=[AccountSpec(1, TOKEN, sizes={"contacts": 100})])
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with SandboxServer(config) as sandbox:
        names = [p["name"] for p in requests.get(f"{sandbox.url}/crm/v3/properties/contacts",
                                                 headers=headers, timeout=30).json()["results"]]
        body = {"inputs": [{"id": str(i)} for i in range(1, 101)], "properties": names}
        page = requests.post(f"{sandbox.url}/crm/v3/objects/contacts/batch/read", json=body,
                             headers=headers, timeout=30)
        page.raise_for_status()
        return page.content, len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    content, properties = batch_read_page()
    assert json.loads(content) == orjson.loads(content)
    times = {}
    for name, decode in (("json", json.loads), ("orjson", orjson.loads)):
        started = time.perf_counter()
        for _ in range(args.repeat):
            decode(content)
        times[name] = (time.perf_counter() - started) / args.repeat * 1000
    print(f"page of 100 contacts x {properties} properties, {len(content):,} bytes: "
          f"json {times['json']:.1f} ms, orjson {times['orjson']:.1f} ms "
          f"({times['json'] / times['orjson']:.1f}x)")


if __name__ == "__main__":
    main()
