"""Fixtures for the client's unit tests: a scripted stub server and client factory."""

from __future__ import annotations

import uuid

import pytest

from hubspot_assets.hubspot import ClientConfig, HubSpotClient, RateBudget

from .stub_server import StubServer

TOKEN = "pat-na1-unit-test-secret-0123456789"


@pytest.fixture
def stub():
    servers = []

    def start(handler):
        server = StubServer(handler).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_client(tmp_path):
    clients = []

    def make(base_url: str, **overrides) -> HubSpotClient:
        values = dict(token=TOKEN, base_url=base_url, limiter_backend="memory",
                      limiter_dir=str(tmp_path), backoff_base=0.01, backoff_max=0.05,
                      connect_timeout=2, read_timeout=2, token_source="$HUBSPOT_TOKEN_TEST",
                      # The stub is no HubSpot: name the account, so no
                      # account-details call precedes each test's script.
                      source_label="unit", account_id=1, budget=RateBudget(ten_second=10_000, daily=1_000_000,
                                                              search_per_second=1_000))
        values.update(overrides)
        key = overrides.pop("limiter_key", None) or f"unit-{uuid.uuid4().hex[:8]}"
        values.pop("limiter_key", None)
        client = HubSpotClient(ClientConfig(**values), limiter_key=key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
