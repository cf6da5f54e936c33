"""One HTTP request to HubSpot, done right: permit, send, read, classify, retry.

Everything above this module deals in parsed JSON and typed errors. The rules:
- every attempt takes a limiter permit first, inside the in-flight bound;
- 429: honour Retry-After, else wait by policyName (DAILY raises at once);
- 5xx, timeouts, dropped connections, truncated or non-JSON bodies: exponential
  backoff with jitter, bounded attempts, then a typed error;
- other 4xx: a typed error at once;
- one attempt ends by `request_deadline` (connect to last body byte), or
  counts as a timeout;
- a caller's `check` may reject a 2xx body of the wrong shape: that is a
  malformed body, retried like a truncated one.
The token only ever goes into the Authorization header of the session.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from hubspot_assets.timestamps import aware, utcnow

from . import errors, secrets
from .config import ClientConfig
from .limiter import SEARCH, RequestLimiter
from .stats import ClientStats

logger = logging.getLogger(__name__)

_RATE_HEADERS = {
    "x-hubspot-ratelimit-max": "max",
    "x-hubspot-ratelimit-remaining": "remaining",
    "x-hubspot-ratelimit-interval-milliseconds": "interval_ms",
    "x-hubspot-ratelimit-daily": "daily",
    "x-hubspot-ratelimit-daily-remaining": "daily_remaining",
    "x-hubspot-ratelimit-secondly": "secondly",
    "x-hubspot-ratelimit-secondly-remaining": "secondly_remaining",
}

# The latest any account's daily limit can reset (midnight in its time zone, at
# most UTC+14, so within ~38 h): a longer Retry-After is not a real wait and
# must not overflow the reset-time arithmetic.
_MAX_RESET_SECONDS = 2 * 86_400.0


class RequestDeadline(requests.Timeout):
    """The attempt outlived `request_deadline`: a timeout like any other."""


# Failures worth another attempt; anything else from requests is a bug or misconfiguration.
_TRANSIENT = (requests.Timeout, requests.ConnectionError,
              requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


@dataclass
class Response:
    status: int
    data: Any
    headers: Mapping[str, str] = field(repr=False)
    correlation_id: str | None = None


@dataclass
class _Attempt:
    """What one failed attempt tells the retry loop."""

    error: errors.HubSpotError
    wait: float | None = None  # None: exponential backoff; a number: server-directed wait


class Transport:
    """A pooled `requests.Session` plus the limiter, retry and error policy."""

    def __init__(self, config: ClientConfig, limiter: RequestLimiter, stats: ClientStats) -> None:
        self.config = config
        self.limiter = limiter
        self.stats = stats
        self.session = requests.Session()
        # One pool sized to the in-flight bound: every worker keeps its keep-alive connection.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=config.max_in_flight, max_retries=0)
        # Pools that let each attempt's deadline find its socket (`_Deadline`).
        adapter.poolmanager.pool_classes_by_scheme = {"http": _TrackedHTTPPool,
                                                      "https": _TrackedHTTPSPool}
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({
            "Authorization": f"Bearer {config.token}",
            "Accept": "application/json",
            "User-Agent": config.user_agent,
        })
        self._in_flight = threading.BoundedSemaphore(config.max_in_flight)
        self._pause_lock = threading.Lock()
        self._paused_until: dict[str, float] = {}

    def close(self) -> None:
        self.session.close()

    # -- the public entry point -------------------------------------------------
    def request(self, method: str, path: str, *, endpoint: str, params: Any = None,
                json_body: Any = None, lane: str = "standard",
                check: Callable[[Any], None] | None = None) -> Response:
        """Send until success or a final error; `endpoint` is the stats label.

        `check(data)` may raise `MalformedResponse` for a 2xx body of the wrong
        shape (a page without `results`, say): that attempt is then retried.
        """
        url = self.config.base_url + path
        body = None if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if body is not None else None
        failures = rate_limits = 0
        while True:
            outcome = self._attempt(method, url, path, endpoint, params, body, headers, lane,
                                    check)
            if isinstance(outcome, Response):
                return outcome
            err = outcome.error
            if isinstance(err, errors.RateLimited):
                rate_limits += 1
                if rate_limits > self.config.max_rate_limit_retries:
                    err.attempts = failures + rate_limits
                    raise self._final(err, f"HubSpot kept answering 429 after {rate_limits} "
                                           "waits", "Another app may be using this account's "
                                           "budget; lower RateBudget or retry later")
                wait = outcome.wait if outcome.wait is not None else 1.0
                self._pause(lane, wait)
                self.stats.add_rate_limit_wait(wait)
                self.stats.record_retry("429")
                continue
            if not err.retryable:
                self.stats.record_error(type(err).__name__)
                raise err
            failures += 1
            if failures >= self.config.max_attempts:
                err.attempts = failures + rate_limits
                raise self._final(err, None, None)
            wait = self._backoff(failures)
            reason = type(err).__name__
            logger.warning("HubSpot %s %s failed (%s, correlationId=%s); attempt %d/%d, "
                           "retrying in %.2fs", method, path, err.problem, err.correlation_id,
                           failures, self.config.max_attempts, wait)
            self.stats.record_retry(reason)
            self.stats.add_backoff_wait(wait)
            time.sleep(wait)

    # -- one attempt ---------------------------------------------------------
    def _attempt(self, method, url, path, endpoint, params, body, headers, lane, check):
        self._wait_for_pause(lane)
        with self._in_flight:
            waited = self.limiter.acquire(lane)
            self.stats.add_limiter_wait(waited)
            deadline = self.config.request_deadline
            try:
                with _Deadline(time.monotonic() + deadline) as watch:
                    try:
                        # No single wait may outlast the deadline either.
                        resp = self.session.request(
                            method, url, params=params, data=body, headers=headers,
                            timeout=(min(self.config.connect_timeout, deadline),
                                     min(self.config.read_timeout, deadline)))
                        content = resp.content  # inside the try: truncation surfaces here
                    except _TRANSIENT:
                        if not watch.cut:
                            raise
                if watch.cut:
                    raise RequestDeadline(f"no complete response within request_deadline="
                                          f"{deadline:g}s")
            except _TRANSIENT as exc:
                self.stats.record_call(endpoint, type(exc).__name__, 0, len(body or b""))
                return _Attempt(errors.TransportError(
                    f"{type(exc).__name__} talking to HubSpot: {self._redact(str(exc))[:300]}",
                    method=method, endpoint=path))
            finally:
                self.limiter.release(lane)
        self.stats.record_call(endpoint, resp.status_code, len(content), len(body or b""))
        self._note_rate_headers(resp.headers, lane)
        return self._classify(method, path, resp, content, lane, check)

    def _classify(self, method, path, resp, content, lane, check=None):
        status = resp.status_code
        payload, parse_error = _parse_json(content)
        # Error texts come from the server: never let one echo the token into a log.
        info = ({k: self._redact(v) if v else v for k, v in _error_fields(payload).items()}
                if isinstance(payload, dict) else {})
        cid = info.get("correlation_id") or resp.headers.get("X-HubSpot-Correlation-Id")
        common = dict(status=status, method=method, endpoint=path, correlation_id=cid,
                      category=info.get("category"), sub_category=info.get("sub_category"))
        if 200 <= status < 300:
            if status == 204 or not content:
                payload = parse_error = None
            if parse_error:
                return _Attempt(errors.MalformedResponse(
                    f"HubSpot sent an unreadable {status} body ({parse_error})", **common))
            if check is not None:
                try:
                    check(payload)
                except errors.MalformedResponse as exc:
                    return _Attempt(errors.MalformedResponse(
                        f"HubSpot sent a {status} body of the wrong shape ({exc.problem})",
                        **common))
            logger.debug("HubSpot %s %s -> %s (correlationId=%s)", method, path, status, cid)
            return Response(status, payload, resp.headers, cid)
        if status == 429:
            return self._rate_limited(resp, payload, info, common)
        if status >= 500:
            what = ("an HTML error page" if _looks_html(content)
                    else info.get("message") or "no details")
            return _Attempt(errors.ServerError(f"HubSpot server error {status}: {what}", **common))
        return _Attempt(self._client_error(status, payload, info, common))

    def _rate_limited(self, resp, payload, info, common) -> _Attempt:
        policy = str((payload or {}).get("policyName") or "") if isinstance(payload, dict) else ""
        self.stats.record_429(policy)
        retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
        logger.warning("HubSpot 429 %s on %s %s (correlationId=%s, Retry-After=%s)", policy or "?",
                       common["method"], common["endpoint"], common["correlation_id"], retry_after)
        if policy == "DAILY":
            resets = _daily_reset(retry_after)
            return _Attempt(errors.RateLimitExhausted(
                f"HubSpot's daily API limit for this account is spent{self._context()}",
                resets_at=resets, hint=f"It resets at midnight in the HubSpot account's time zone "
                f"(by {resets} at the latest); resume the sync then. No retries were spent",
                **common))
        if retry_after is None:
            if policy == "SECONDLY":
                retry_after = 1.0
            else:  # TEN_SECONDLY_ROLLING or unknown: the rest of the rolling window
                interval = _int_header(resp.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
                retry_after = (interval / 1000 if interval and interval > 0
                               else self.config.budget.window_seconds)
            retry_after += random.uniform(0, 0.1 * retry_after)
        if retry_after > self.config.max_retry_after:
            resets = utcnow() + dt.timedelta(seconds=min(retry_after, _MAX_RESET_SECONDS))
            return _Attempt(errors.RateLimitExhausted(
                f"HubSpot asked to wait {retry_after:.0f}s (policy {policy or '?'}), more than "
                f"max_retry_after={self.config.max_retry_after:.0f}s{self._context()}",
                resets_at=resets.isoformat(timespec="seconds"),
                hint="Resume the sync after that time, or raise max_retry_after", **common))
        return _Attempt(errors.RateLimited(f"HubSpot rate limit {policy or '429'}", **common),
                        wait=retry_after)

    def _client_error(self, status, payload, info, common) -> errors.HubSpotError:
        message = self._redact(info.get("message") or (f"HTTP {status}"))[:300]
        ctx = self._context()
        where = f" in {self.config.token_source}" if self.config.token_source else ""
        if status == 401:
            return errors.Unauthorized(
                f"HubSpot rejected the access token{ctx}: {message}",
                hint=f"Check that the private app token{where} is current, not revoked, and "
                     "belongs to the intended HubSpot account", **common)
        if status == 403:
            scopes = _required_scopes(payload)
            if scopes or (info.get("category") or "").upper() == "MISSING_SCOPES":
                names = ", ".join(scopes) or "unknown"
                return errors.MissingScope(
                    f"The HubSpot private app{ctx} lacks the scope(s) {names}: {message}",
                    scopes=tuple(scopes), hint=f"Grant {names} to the private app in HubSpot "
                    f"(Settings > Integrations > Private apps) whose token is configured{where}, "
                    "or leave this object type out of the sync", **common)
            return errors.Forbidden(f"HubSpot refused access{ctx}: {message}",
                                    hint="The account's tier may lack this feature", **common)
        if status == 404:
            return errors.NotFound(f"HubSpot found no such resource{ctx}: {message}",
                                   hint="Check the object type, event type or id exists in "
                                        "this account", **common)
        if status == 414:
            return errors.BadRequest(f"HubSpot rejected the URL as too long{ctx}",
                                     hint="Lower ClientConfig.max_url_length", **common)
        return errors.BadRequest(f"HubSpot rejected the request{ctx}: {message}",
                                 hint="This is a bug in the request; it will not be retried",
                                 **common)

    # -- waiting -------------------------------------------------------------
    def _backoff(self, failures: int) -> float:
        """Exponential backoff with 'equal jitter': never zero, never in lockstep."""
        ceiling = min(self.config.backoff_max, self.config.backoff_base * 2 ** (failures - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _pause(self, lane: str, seconds: float) -> None:
        """Hold every worker of the lane back: one 429 means the window is full for all."""
        group = SEARCH if lane == SEARCH else "standard"
        with self._pause_lock:
            until = time.monotonic() + seconds
            self._paused_until[group] = max(self._paused_until.get(group, 0.0), until)

    def _wait_for_pause(self, lane: str) -> None:
        group = SEARCH if lane == SEARCH else "standard"
        with self._pause_lock:
            until = self._paused_until.get(group, 0.0)
        delay = until - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _note_rate_headers(self, headers: Mapping[str, str], lane: str) -> None:
        seen = {}
        for header, name in _RATE_HEADERS.items():
            value = _int_header(headers, header)
            if value is not None:
                seen[name] = value
        if not seen:
            return
        self.stats.record_rate_headers(seen)
        # Someone outside our limiter (another app) is using the window: leave a slot's time.
        if seen.get("remaining") == 0 and seen.get("max") and seen.get("interval_ms"):
            self._pause(lane, seen["interval_ms"] / 1000 / seen["max"])

    # -- messages ------------------------------------------------------------
    def _context(self) -> str:
        return f" (source {self.config.source_label})" if self.config.source_label else ""

    def _redact(self, text: str) -> str:
        # Every form of the token (raw, URL-encoded, base64, of `Bearer <token>` too).
        return secrets.scrub(text, self.config.token)

    def _final(self, err: errors.HubSpotError, problem: str | None, hint: str | None):
        """Rebuild `err` with its attempt count (and optionally new wording) for raising."""
        kind = type(err)
        kwargs = dict(status=err.status, category=err.category, sub_category=err.sub_category,
                      correlation_id=err.correlation_id, method=err.method,
                      endpoint=err.endpoint, attempts=err.attempts)
        default_hint = {errors.TransportError: "Check network access to HubSpot or raise "
                                               "read_timeout/request_deadline/max_attempts",
                        errors.ServerError: "HubSpot is having trouble; retry the run later",
                        errors.MalformedResponse: "A proxy or HubSpot cut the response short or "
                                                  "sent it in the wrong shape; "
                                                  "retry the run later"}.get(kind)
        self.stats.record_error(kind.__name__)
        return kind(problem or f"{err.problem}, gave up after {err.attempts} attempts",
                    hint=hint or default_hint, **kwargs)


# -- parsing helpers ----------------------------------------------------------
def _parse_json(content: bytes) -> tuple[Any, str | None]:
    if not content:
        return None, "empty body"
    try:
        # orjson decodes a 2 MB batch-read page in about half json's time,
        # and decoding is most of a large sync's CPU; it refuses a few things
        # json accepts (integers past 64 bits, NaN), so json has the last word.
        return orjson.loads(content), None
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content), None
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "HTML page" if _looks_html(content) else f"invalid JSON: {str(exc)[:80]}"
        return None, kind


def _looks_html(content: bytes) -> bool:
    head = content[:200].lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _error_fields(body: dict) -> dict[str, Any]:
    """HubSpot's standard error body; every field is optional."""
    def text(key):
        value = body.get(key)
        return str(value) if value is not None else None
    return {"message": text("message"), "category": text("category"),
            "sub_category": text("subCategory"), "correlation_id": text("correlationId")}


def _required_scopes(body: Any) -> list[str]:
    """Scope names from a 403 body: errors[].context.required*Scopes or context."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found
    contexts = [body.get("context")]
    contexts += [e.get("context") for e in body.get("errors") or [] if isinstance(e, dict)]
    for ctx in contexts:
        if not isinstance(ctx, dict):
            continue
        for key, values in ctx.items():
            if "scope" in key.lower() and isinstance(values, list):
                found += [str(v) for v in values if str(v) not in found]
    return found


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110
    section 10.2.3); None when absent or unusable.

    A negative, NaN, infinite or unparseable value is no instruction at all:
    None, so the caller waits by policy (the rolling window) as when the header
    is missing. A huge finite value is returned as is: the caller treats a wait
    past `max_retry_after` as exhaustion.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (aware(when) - utcnow()).total_seconds())


def _daily_reset(retry_after: float | None) -> str:
    """Best estimate of the reset time: Retry-After if sent, else the next UTC midnight
    (HubSpot resets at midnight in the account's time zone, which we do not know)."""
    now = utcnow()
    if retry_after is not None:
        when = now + dt.timedelta(seconds=min(retry_after, _MAX_RESET_SECONDS))
    else:
        when = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return when.isoformat(timespec="seconds")



# The connection each attempt uses, for its deadline watchdog: set by the
# attempt's thread, filled in by the pool when it hands out a connection.
_attempt_local = threading.local()


class _Deadline:
    """Cuts an attempt's socket at `due` (monotonic), whatever the attempt is
    waiting for: response headers, or a body that drips a byte a second.

    requests' timeouts bound each socket read, never the whole exchange, so
    only a cut bounds it: the blocked read then fails at once (and a body
    without a length, which would now look complete, is rejected by `cut`).
    One timer thread per attempt: about 0.3 ms to start and cancel (`python -m
    timeit -s "import threading" "t = threading.Timer(120, lambda: None);
    t.daemon = True; t.start(); t.cancel(); t.join()"`), against round trips
    of 100+ ms.
    """

    def __init__(self, due: float) -> None:
        self.conn: Any = None
        self.cut = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, due - time.monotonic()), self._cut)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        _attempt_local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        _attempt_local.deadline = None

    def _cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.cut = True
        sock = getattr(self.conn, "sock", None)  # None while connecting: connect_timeout
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: the read fails or has finished


class _TrackedPool:
    """A connection pool that tells the current attempt's `_Deadline` which
    connection it got (kept-alive or new)."""

    def _get_conn(self, timeout: float | None = None):
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        deadline = getattr(_attempt_local, "deadline", None)
        if deadline is not None:
            deadline.conn = conn
        return conn


class _TrackedHTTPPool(_TrackedPool, HTTPConnectionPool):
    pass


class _TrackedHTTPSPool(_TrackedPool, HTTPSConnectionPool):
    pass
