"""Request, retry and error policy against a scripted local HTTP server."""

import datetime as dt
import logging
import socket
import threading
import time

import pytest

from hubspot_assets.hubspot import errors

from .conftest import TOKEN
from .stub_server import Reply

OK = {"results": [{"name": "email"}]}


def _script(*replies):
    it = iter(replies)
    last = [Reply(200, OK)]

    def handler(call):
        try:
            last[0] = next(it)
        except StopIteration:
            pass
        return last[0]
    return handler


def test_sends_bearer_token_and_counts(stub, make_client):
    server = stub(_script(Reply(200, OK, headers={"X-HubSpot-RateLimit-Remaining": "42",
                                                   "X-HubSpot-RateLimit-Max": "190"})))
    client = make_client(server.url)
    assert client.list_properties("contacts") == OK["results"]
    assert server.calls[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in server.calls[0].raw_url
    snap = client.stats.snapshot()
    assert snap["calls"] == {"GET /crm/v3/properties/{objectType}": {"200": 1}}
    assert snap["rate_limit_headers"]["remaining"] == 42
    assert snap["bytes_received"] > 0


@pytest.mark.parametrize("bad", [
    Reply(500, {"status": "error", "message": "boom"}),
    Reply(502, "<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"}),
    Reply(200, '{"results": [', {}),
    Reply(200, "<!DOCTYPE html><html>maintenance</html>", {"Content-Type": "text/html"}),
    Reply(200, OK, truncate=True),
    Reply(200, OK, drop=True),
    Reply(200, OK, delay=3.0),  # longer than the 2 s read timeout
])
def test_transient_failures_are_retried(stub, make_client, bad):
    server = stub(_script(bad, bad, Reply(200, OK)))
    client = make_client(server.url)
    assert client.list_properties("contacts") == OK["results"]
    assert client.stats.snapshot()["retries"] == 2


def test_gives_up_with_typed_error_after_max_attempts(stub, make_client):
    server = stub(lambda call: Reply(503, {"message": "down", "correlationId": "cid-503"}))
    client = make_client(server.url, max_attempts=3)
    with pytest.raises(errors.ServerError) as info:
        client.list_schemas()
    assert len(server.calls) == 3
    err = info.value
    assert (err.status, err.correlation_id, err.attempts) == (503, "cid-503", 3)
    assert err.endpoint == "/crm/v3/schemas"
    assert "cid-503" in str(err)


def test_unauthorized_is_not_retried_and_names_the_fix(stub, make_client):
    body = {"status": "error", "message": "Authentication credentials not found.",
            "correlationId": "cid-401", "category": "INVALID_AUTHENTICATION"}
    server = stub(lambda call: Reply(401, body))
    client = make_client(server.url)
    with pytest.raises(errors.Unauthorized) as info:
        client.list_schemas()
    assert len(server.calls) == 1
    text = str(info.value)
    assert "$HUBSPOT_TOKEN_TEST" in text and "cid-401" in text and "unit" in text
    assert TOKEN not in text


def test_missing_scope_names_the_scope(stub, make_client):
    body = {"status": "error", "category": "MISSING_SCOPES", "correlationId": "cid-403",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "errors": [{"message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}]}
    server = stub(lambda call: Reply(403, body))
    client = make_client(server.url)
    with pytest.raises(errors.MissingScope) as info:
        client.list_properties("deals")
    assert info.value.scope == "crm.objects.deals.read"
    assert "crm.objects.deals.read" in str(info.value)
    assert len(server.calls) == 1


@pytest.mark.parametrize("status,kind", [(404, errors.NotFound), (400, errors.BadRequest),
                                         (414, errors.BadRequest)])
def test_other_client_errors_are_final(stub, make_client, status, kind):
    server = stub(lambda call: Reply(status, {"message": "nope"}))
    client = make_client(server.url)
    with pytest.raises(kind):
        client.list_properties("nope")
    assert len(server.calls) == 1


def _rate_limited(policy, retry_after=None, extra=None):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    headers.update(extra or {})
    return Reply(429, {"status": "error", "message": f"You have reached your {policy} limit.",
                       "errorType": "RATE_LIMIT", "correlationId": "cid-429",
                       "policyName": policy}, headers)


def test_429_honours_retry_after(stub, make_client):
    server = stub(_script(_rate_limited("TEN_SECONDLY_ROLLING", retry_after=0.5), Reply(200, OK)))
    client = make_client(server.url)
    client.list_schemas()
    gap = server.calls[1].at - server.calls[0].at
    assert 0.5 <= gap < 1.5
    snap = client.stats.snapshot()
    assert snap["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 1}


def test_429_without_retry_after_waits_the_window(stub, make_client):
    server = stub(_script(_rate_limited("TEN_SECONDLY_ROLLING",
                                        extra={"X-HubSpot-RateLimit-Interval-Milliseconds": "700"}),
                          Reply(200, OK)))
    client = make_client(server.url)
    client.list_schemas()
    assert 0.7 <= server.calls[1].at - server.calls[0].at < 1.5


def test_secondly_429_waits_a_second(stub, make_client):
    server = stub(_script(_rate_limited("SECONDLY"), Reply(200, {"results": [], "total": 0})))
    client = make_client(server.url)
    assert list(client.search_modified("companies", since=0, properties=["name"])) == []
    assert 1.0 <= server.calls[1].at - server.calls[0].at < 2.0


def test_daily_429_raises_after_one_attempt(stub, make_client):
    server = stub(lambda call: _rate_limited("DAILY"))
    client = make_client(server.url)
    started = time.monotonic()
    with pytest.raises(errors.RateLimitExhausted) as info:
        client.list_schemas()
    assert time.monotonic() - started < 1.0
    assert len(server.calls) == 1
    assert "daily" in str(info.value) and "resets" in str(info.value)
    assert info.value.resets_at


def test_endless_429s_end_in_a_bounded_error(stub, make_client):
    server = stub(lambda call: _rate_limited("TEN_SECONDLY_ROLLING", retry_after=0.01))
    client = make_client(server.url, max_rate_limit_retries=3)
    with pytest.raises(errors.RateLimited):
        client.list_schemas()
    assert len(server.calls) == 4


def test_no_token_in_logs_or_errors(stub, make_client, caplog):
    server = stub(lambda call: Reply(500, {"message": f"echo {call.headers['Authorization']}"}))
    client = make_client(server.url, max_attempts=2)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.ServerError) as info:
        client.list_schemas()
    assert TOKEN not in caplog.text
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value.__dict__)


def test_in_flight_bound(stub, make_client):
    peak, active, lock = [0], [0], threading.Lock()

    def handler(call):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return Reply(200, OK)

    server = stub(handler)
    client = make_client(server.url, max_in_flight=3)
    results = list(client.map_concurrent(lambda _: client.list_schemas(), range(12)))
    assert len(results) == 12
    assert peak[0] == 3


def test_json_the_fast_decoder_refuses_is_still_read(stub, make_client):
    # orjson stops at 64-bit integers and NaN; the stdlib reads both.
    raw = b'{"results": [{"name": "big", "n": 123456789012345678901234567890, "x": NaN}]}'
    client = make_client(stub(_script(Reply(200, raw))).url)
    (prop,) = client.list_properties("contacts")
    assert prop["n"] == 123456789012345678901234567890 and prop["x"] != prop["x"]


# -- bounded time per request -------------------------------------------------
def test_a_dripping_body_fails_at_the_deadline_and_counts_as_a_timeout(stub, make_client):
    # One byte every 0.2 s never trips the 2 s per-read timeout; the 1 s deadline must.
    server = stub(lambda call: Reply(200, OK, drip=0.2))
    client = make_client(server.url, request_deadline=1.0, max_attempts=2)
    started = time.monotonic()
    with pytest.raises(errors.TransportError, match="deadline") as info:
        client.list_schemas()
    elapsed = time.monotonic() - started
    assert 2.0 <= elapsed < 3.5, elapsed  # two attempts of 1 s, plus a short backoff
    assert len(server.calls) == 2 and info.value.attempts == 2
    assert client.stats.snapshot()["retries"] == 1


def test_a_dripping_attempt_is_retried_like_a_timeout(stub, make_client):
    server = stub(_script(Reply(200, OK, drip=0.2), Reply(200, OK)))
    client = make_client(server.url, request_deadline=0.5)
    started = time.monotonic()
    assert client.list_properties("contacts") == OK["results"]
    assert time.monotonic() - started < 2.0
    assert client.stats.snapshot()["retries"] == 1


def test_a_slow_but_complete_body_within_the_deadline_is_read(stub, make_client):
    body = {"results": []}  # 14 bytes at 0.01 s: well inside the deadline
    server = stub(lambda call: Reply(200, body, drip=0.01))
    client = make_client(server.url, request_deadline=5.0)
    assert client.list_schemas() == []
    assert client.stats.snapshot()["retries"] == 0


# -- Retry-After clamped ------------------------------------------------------
@pytest.mark.parametrize("value", ["-5", "abc", "nan", "inf", "-inf"])
def test_an_unusable_retry_after_waits_the_window(stub, make_client, value):
    # The documented default for a 429 without a usable Retry-After: the rest of
    # the rolling window (here its interval header, 0.4 s).
    reply = _rate_limited("TEN_SECONDLY_ROLLING", retry_after=value,
                          extra={"X-HubSpot-RateLimit-Interval-Milliseconds": "400"})
    server = stub(_script(reply, Reply(200, OK)))
    client = make_client(server.url)
    started = time.monotonic()
    assert client.list_properties("contacts") == OK["results"]
    assert 0.4 <= server.calls[1].at - server.calls[0].at < 1.0
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("policy,value", [
    ("TEN_SECONDLY_ROLLING", "1e20"), ("TEN_SECONDLY_ROLLING", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ("DAILY", "1e20"), ("DAILY", "inf"), ("DAILY", "abc")])
def test_a_huge_retry_after_is_exhaustion_not_a_crash(stub, make_client, value, policy):
    # Past max_retry_after (or DAILY): today's exhaustion path, at once; the
    # reset estimate stays within the two days any daily reset can be away.
    server = stub(lambda call: _rate_limited(policy, retry_after=value))
    client = make_client(server.url)
    started = time.monotonic()
    with pytest.raises(errors.RateLimitExhausted) as info:
        client.list_schemas()
    assert time.monotonic() - started < 1.0
    assert len(server.calls) == 1
    resets = dt.datetime.fromisoformat(info.value.resets_at)
    assert resets <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2, minutes=1)


# -- page shapes --------------------------------------------------------------
def test_a_page_of_the_wrong_shape_is_retried_then_malformed(stub, make_client):
    server = stub(lambda call: Reply(200, {"total": 0}))  # no `results`
    client = make_client(server.url, max_attempts=3)
    with pytest.raises(errors.MalformedResponse, match="no 'results'") as info:
        list(client.iter_events("e_visited_page"))
    assert len(server.calls) == 3 and info.value.attempts == 3
    assert info.value.endpoint == "/events/v3/events"


@pytest.fixture
def header_dripper():
    """A raw TCP server that sends its status line and headers one byte at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 100
            for byte in head:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def test_dripping_headers_fail_at_the_deadline_too(header_dripper, make_client):
    client = make_client(header_dripper, request_deadline=1.0, max_attempts=2)
    started = time.monotonic()
    with pytest.raises(errors.TransportError, match="request_deadline"):
        client.list_schemas()
    assert 2.0 <= time.monotonic() - started < 3.5
