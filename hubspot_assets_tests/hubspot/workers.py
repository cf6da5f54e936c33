"""Code run in child processes by the shared-budget tests (must be importable)."""

from __future__ import annotations

import json
import sys
import time

from hubspot_assets.hubspot import ClientConfig, HubSpotClient


def fetch_properties(config_json: str, limiter_key: str, calls: int, start_at: float) -> dict:
    """Make `calls` requests through one client from `start_at` (epoch seconds) on,
    so every process starts together, after its imports; return its counters."""
    config = ClientConfig.from_values(json.loads(config_json))
    with HubSpotClient(config, limiter_key=limiter_key) as client:
        time.sleep(max(0.0, start_at - time.time()))
        list(client.map_concurrent(lambda _: client.list_properties("companies"), range(calls)))
        return client.stats.snapshot()


if __name__ == "__main__":  # python -m ...workers CONFIG_JSON KEY CALLS START_AT
    print(json.dumps(fetch_properties(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                      float(sys.argv[4]))))
