"""Benchmark of the HubSpot sandbox (a script, not a test).

    .venv/bin/python benchmarks/sandbox_bench.py [--seconds 5] [--clients 4]

Prints start-up time and RSS of the sandbox process with 1,000 and with
1,000,000 contacts, then requests per second serving 100-record pages (no
latency, limits lifted) from several client processes, with the default
properties and with a 100-property chunk.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import time
from urllib.parse import quote, urlsplit

import psutil
import requests

from hubspot_assets_tests.sandbox import DEMO_TOKEN, SandboxProcess
from hubspot_assets_tests.sandbox.catalog import standard_properties

NO_LIMITS = ["--ten-second-limit", "1000000000", "--daily-limit", "1000000000",
             "--search-per-second", "1000000000"]


def _rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def startup(contacts: int) -> None:
    proc = SandboxProcess(["--size", f"contacts={contacts}", *NO_LIMITS])
    t0 = time.perf_counter()
    url = proc.start()
    elapsed = time.perf_counter() - t0
    try:
        rss_start = _rss_mb(proc.pid)
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {DEMO_TOKEN}"
        after, pages = None, 0
        while pages < 50:  # touch the data: up to 50 pages deep
            params = {"limit": 100, **({"after": after} if after else {})}
            body = s.get(url + "/crm/v3/objects/contacts", params=params).json()
            pages += 1
            after = body.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
        print(f"contacts={contacts:>9,}: start-up {elapsed * 1000:7.0f} ms (process start to URL), "
              f"RSS {rss_start:6.1f} MB at start, {_rss_mb(proc.pid):6.1f} MB after {pages} pages")
    finally:
        proc.stop()


def _client(url: str, properties: str | None, seconds: float, out: mp.Queue) -> None:
    """Follow cursors for `seconds`. Plain http.client (keep-alive): requests'
    own per-call overhead would otherwise make the clients the bottleneck."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    extra = "&properties=" + quote(properties, safe=",") if properties else ""
    pages = nbytes = errors = 0
    after = None
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        conn.request("GET", f"/crm/v3/objects/contacts?limit=100{extra}"
                     + (f"&after={after}" if after else ""), headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.status != 200:
            errors += 1
            continue
        body = json.loads(payload)
        pages += 1
        nbytes += len(payload)
        after = body.get("paging", {}).get("next", {}).get("after")
    conn.close()
    out.put((pages, nbytes, errors))


def throughput(clients: int, seconds: float, properties: str | None, label: str) -> None:
    proc = SandboxProcess(["--size", "contacts=1000000", *NO_LIMITS])
    url = proc.start()
    try:
        out: mp.Queue = mp.Queue()
        workers = [mp.Process(target=_client, args=(url, properties, seconds, out))
                   for _ in range(clients)]
        cpu0 = psutil.Process(proc.pid).cpu_times()
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        results = [out.get() for _ in workers]
        elapsed = time.perf_counter() - t0
        for w in workers:
            w.join()
        cpu1 = psutil.Process(proc.pid).cpu_times()
        pages = sum(r[0] for r in results)
        mb = sum(r[1] for r in results) / 2**20
        errors = sum(r[2] for r in results)
        server_cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        print(f"{label}: {pages / elapsed:7.0f} pages/s ({pages} pages of 100 records, "
              f"{mb / elapsed:6.1f} MB/s, {clients} client processes, {elapsed:.1f} s, "
              f"errors {errors}, server CPU {server_cpu / pages * 1000:.2f} ms/page)")
    finally:
        proc.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--clients", type=int, default=4)
    args = p.parse_args()
    print(f"CPU cores: {psutil.cpu_count()}")
    for n in (1_000, 1_000_000):
        startup(n)
    throughput(args.clients, args.seconds, None, "default properties     ")
    chunk = ",".join(p.name for p in standard_properties("contacts")[:100])
    throughput(args.clients, args.seconds, chunk, "100-property chunk     ")


if __name__ == "__main__":
    main()
