"""The once-per-run MongoDB check: a busy server is waited for, a wrong URI is not."""

import socket
import time
from urllib.parse import urlsplit

import pytest

from hubspot_assets.mongo.connection import CHECK_TIMEOUT_MS, MongoConfigurationError, _ping
from hubspot_assets_tests.reliability.tcp_proxy import CuttingProxy


@pytest.fixture
def standin_address(mongo_uri):
    parts = urlsplit(mongo_uri)
    if "," in parts.netloc or parts.scheme != "mongodb":
        pytest.skip("needs a single mongodb:// host to put a proxy in front of")
    return parts.hostname, parts.port or 27017


def test_a_server_slower_than_the_quick_check_is_waited_for(standin_address, mongo_database):
    delay = CHECK_TIMEOUT_MS / 1000 + 2  # past the quick check's wait
    proxy = CuttingProxy(*standin_address, connect_delay=delay)
    try:
        started = time.monotonic()
        assert _ping(f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
                     mongo_database) is None
        assert time.monotonic() - started >= delay
    finally:
        proxy.close()


def test_nothing_listening_is_a_configuration_error_at_once(mongo_database):
    with socket.create_server(("127.0.0.1", 0)) as reserved:
        port = reserved.getsockname()[1]
    started = time.monotonic()  # the port is closed again: connections are refused
    error = _ping(f"mongodb://127.0.0.1:{port}/", mongo_database)
    assert isinstance(error, MongoConfigurationError) and "Connection refused" in str(error)
    assert time.monotonic() - started < CHECK_TIMEOUT_MS / 1000 + 2
