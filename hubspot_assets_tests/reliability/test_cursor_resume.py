"""A cursor that fails in the middle of paging, past the client's retries, is resumed
from that cursor: every record once, nothing fetched twice."""

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.hubspot.config import ClientConfig
from hubspot_assets_tests.sandbox import AccountSpec, SandboxConfig, SandboxServer, truth


def test_a_failing_cursor_is_resumed_not_restarted(monkeypatch):
    monkeypatch.setattr("hubspot_assets.hubspot.paging.CURSOR_RESUME_PAUSE", 0.05)
    # One client thread: the seeded fault sequence is the same on every run.
    config = SandboxConfig(accounts=[AccountSpec(1, "tok", sizes={"contacts": 1000})],
                           window_seconds=1.0, fault_rate=0.3, fault_kinds=("cursor",),
                           fault_seed=3, cursor_failures=6)
    with SandboxServer(config) as server, HubSpotClient(ClientConfig(
            token="tok", base_url=server.url, limiter_backend="memory", max_attempts=4,
            backoff_max=0.05, two_ended_after_pages=0)) as client:  # the list chain alone
        ids = [r["id"] for r in client.iter_objects("contacts", ["email"])]
        stats = server.stats()
        live = [r["id"] for r in truth.iter_records(server.account(1), "contacts")]
    assert ids == live
    assert stats["faults"]["cursor"] >= 6  # at least one cursor outlasted the 4 attempts
    pages = stats["by_endpoint"]["objects.list"]
    pages_of_100 = -(-len(live) // 100)
    assert sum(pages.values()) == pages_of_100 + stats["faults"]["cursor"], pages  # none twice
