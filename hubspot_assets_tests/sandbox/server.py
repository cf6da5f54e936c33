"""The HTTP layer: routing, auth, rate limits, latency, faults, control endpoints.

`SandboxServer` runs a `ThreadingHTTPServer` (HTTP/1.1 keep-alive, so a
`requests.Session` reuses connections) in a background thread.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import api, marketing, property_history, reference_data, truth
from .account import Account
from .config import SETTABLE, SandboxConfig
from .faults import HTML_ERROR_PAGE, NON_JSON_BODY, FaultInjector
from .limits import RateLimiter
from .stats import Stats

_T = r"([^/]+)"
_sensitive = reference_data.sensitive_guard  # object reads naming sensitive properties
# (method, path regex, endpoint name, handler, kind); kind: "search" | "assoc" | None
ROUTES = [
    ("GET", r"/account-info/v3/details", "account.details", api.account_details, None),
    ("GET", r"/crm/v3/schemas", "schemas.list", api.list_schemas, None),
    ("GET", r"/crm-object-schemas/v3/schemas", "schemas.list", api.list_schemas, None),
    ("GET", rf"/crm/v3/schemas/{_T}", "schemas.get", api.get_schema, None),
    ("GET", rf"/crm-object-schemas/v3/schemas/{_T}", "schemas.get", api.get_schema, None),
    ("GET", rf"/crm/v3/properties/{_T}", "properties.list", reference_data.list_properties, None),
    ("GET", rf"/crm/v3/objects/{_T}", "objects.list", _sensitive(api.list_objects), None),
    ("POST", rf"/crm/v3/objects/{_T}/search", "objects.search", _sensitive(api.search), "search"),
    ("POST", rf"/crm/v3/objects/{_T}/batch/read", "objects.batch_read",
     _sensitive(property_history.with_history(api.batch_read)), None),
    ("GET", rf"/crm/v3/objects/{_T}/{_T}", "objects.get", _sensitive(api.get_object), None),
    ("GET", rf"/crm/v3/objects/{_T}/{_T}/associations/{_T}", "associations.object_v3",
     api.object_associations_v3, None),
    ("GET", r"/events/v3/events/event-types", "events.types", api.event_types, None),
    ("GET", r"/events/v3/events/?", "events.list", api.list_events, None),
    ("POST", rf"/crm/v4/associations/{_T}/{_T}/batch/read", "associations.batch_read",
     api.association_batch_read, "assoc"),
    ("GET", rf"/crm/v4/associations/{_T}/{_T}/labels", "associations.labels",
     api.association_labels, None),
    ("GET", rf"/crm/associations/v4/{_T}/{_T}/labels", "associations.labels",
     api.association_labels, None),
    ("GET", rf"/crm/v4/objects/{_T}/{_T}/associations/{_T}", "associations.object",
     api.object_associations, None),
    ("GET", r"/crm/v3/owners/?", "owners.list", reference_data.list_owners, None),
    ("GET", rf"/crm/v3/pipelines/{_T}", "pipelines.list", reference_data.list_pipelines, None),
    ("POST", r"/crm/v3/lists/search", "lists.search", marketing.search_lists, None),
    ("GET", r"/crm/v3/lists/?", "lists.get", marketing.get_lists, None),
    ("GET", rf"/crm/v3/lists/{_T}/memberships", "lists.memberships",
     marketing.list_memberships, None),
    ("GET", r"/marketing/v3/forms/?", "forms.list", marketing.list_forms, None),
    ("GET", rf"/form-integrations/v1/submissions/forms/{_T}", "forms.submissions",
     marketing.list_submissions, None),
    ("GET", r"/marketing/v3/emails/?", "emails.list", marketing.list_emails, None),
    ("GET", r"/marketing/v3/campaigns/?", "campaigns.list", marketing.list_campaigns, None),
    ("GET", r"/email/public/v1/events/?", "email_events.list", marketing.list_email_events,
     None),
]
_COMPILED = [(m, re.compile(p + r"\Z"), name, fn, kind) for m, p, name, fn, kind in ROUTES]


class SandboxServer:
    """A local HubSpot: `SandboxServer(config).start()`, then `.url`; `.stop()`."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.accounts: dict[int, Account] = {}
        self.by_token: dict[str, Account] = {}
        for spec in self.config.accounts:
            account = Account(spec)
            self.accounts[spec.portal_id] = account
            for token in spec.tokens:
                self.by_token[token] = account
        c = self.config
        self.limiter = RateLimiter(c.ten_second_limit, c.daily_limit, c.search_per_second,
                                   c.window_seconds)
        self.faults = FaultInjector(c.fault_rate, c.fault_kinds, c.fault_seed)
        self.stats_counter = Stats(c.window_seconds)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "SandboxServer":
        handler = type("Handler", (_Handler,), {"sandbox": self})
        httpd = ThreadingHTTPServer((self.config.host, self.config.port), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 256
        httpd.allow_reuse_address = True
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="hubspot-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "SandboxServer":
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    # -- Python control API (mirrors /_sandbox/) ----------------------------------------------
    def account(self, portal_id: int) -> Account:
        return self.accounts[int(portal_id)]

    def advance(self, portal_id: int, now_ms: int | None = None, bulk_import: int = 0,
                update_fraction: float = 0.0) -> dict:
        return self.account(portal_id).advance(now_ms=now_ms, bulk_import=bulk_import,
                                               update_fraction=update_fraction)

    def truth(self, portal_id: int, checksums: bool = True, associations: bool = True) -> dict:
        return truth.summary(self.account(portal_id), checksums=checksums, associations=associations)

    def stats(self) -> dict:
        return self.stats_counter.snapshot()

    def reset_stats(self, limits: bool = True) -> None:
        """Zero the counters and (by default) the rate-limit windows."""
        self.stats_counter.reset()
        if limits:
            self.limiter.reset()

    def settings(self) -> dict:
        return {name: getattr(self.config, name) for name in sorted(SETTABLE)}

    def update_settings(self, **changes) -> dict:
        unknown = set(changes) - SETTABLE
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}; settable: {sorted(SETTABLE)}")
        c = self.config
        candidate = c.updated(**changes)  # validates fault kinds
        for name in changes:
            setattr(c, name, getattr(candidate, name))
        self.limiter.configure(c.ten_second_limit, c.daily_limit, c.search_per_second, c.window_seconds)
        if {"fault_rate", "fault_kinds", "fault_seed"} & set(changes):
            self.faults.configure(c.fault_rate, c.fault_kinds, c.fault_seed)
        self.stats_counter.window = c.window_seconds
        return self.settings()


_BAD_JSON = object()


def _cursor_of(params: dict, body) -> str | None:
    """The paging cursor a request carries (query `after`, body `after` or an input's)."""
    if params.get("after"):
        return params["after"][-1]
    if isinstance(body, dict):
        if body.get("after"):
            return str(body["after"])
        for item in body.get("inputs") or []:
            if isinstance(item, dict) and item.get("after"):
                return str(item["after"])
    return None


class _Dropped(Exception):
    """The handler closed the connection on purpose (a fault)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubspot-sandbox/1"
    # Headers and body leave in one segment, and without Nagle's delay: small
    # responses otherwise wait ~40 ms for the client's delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    sandbox: SandboxServer  # set on the per-server subclass
    _stat: dict | None = None  # stats context of the request being handled

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests run thousands of requests
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # -- response writers -----------------------------------------------------------------------
    def _send(self, status: int, payload: bytes, content_type: str = "application/json;charset=utf-8",
              headers: dict | None = None, truncate: bool = False) -> None:
        # Count the request before its bytes leave: a client that reads the
        # response and then asks /_sandbox/stats must see it.
        self._count(f"{status}-truncated" if truncate else status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(payload[: len(payload) // 2] if truncate else payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if truncate:
            self.close_connection = True

    def _json(self, status: int, body, headers: dict | None = None, truncate: bool = False) -> None:
        if isinstance(body, api.RawJson):
            payload = body.encode()
        else:
            payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self._send(status, payload, headers=headers, truncate=truncate)

    def _count(self, status) -> None:
        """Record this request in the stats once (control requests are not counted)."""
        ctx = self._stat
        if ctx is not None and not ctx.get("done"):
            ctx["done"] = True
            self.sandbox.stats_counter.record(ctx["endpoint"], status, ctx.get("policy"), ctx.get("fault"))

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise api.bad_request("Invalid input JSON on line 1") from None

    # -- dispatch -------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        sb = self.sandbox
        parts = urlsplit(self.path)
        path = parts.path
        self._stat = None
        if len(self.requestline) > sb.config.max_url_length:
            # HubSpot's edge answers an over-long URL before any API logic.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._stat = {"endpoint": "uri_too_long"}
            self._send(414, b"<html><body><h1>414 Request-URI Too Large</h1></body></html>",
                       "text/html")
            return
        if path.startswith("/_sandbox/"):
            self._control(method, path, parts.query)
            return
        params = parse_qs(parts.query, keep_blank_values=True)
        ctx = self._stat = {"endpoint": "unknown"}
        try:
            try:
                body = self._read_body()
            except api.ApiError:
                body = _BAD_JSON  # reported after auth and limits, like HubSpot
            route = None
            for m, rx, name, fn, kind in _COMPILED:
                match = rx.match(path)
                if match and m == method:
                    route = (name, fn, kind, match.groups())
                    break
            if route is None:
                self._json(404, api.error_body(f"Unable to route {method} {path}", "OBJECT_NOT_FOUND"))
                return
            ctx["endpoint"], fn, kind, args = route
            token = self._token()
            account = sb.by_token.get(token) if token else None
            if account is None:
                self._json(401, api.error_body(
                    "Authentication credentials not found. This API supports OAuth 2.0 "
                    "authentication and you can find more details at "
                    "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
                    if not token else
                    "The access token is invalid or has expired. Check your private app token.",
                    "INVALID_AUTHENTICATION"))
                return
            search = kind == "search"
            exempt = kind == "assoc" and sb.config.associations_exempt
            if not (search or exempt):  # the peak is of what the ten-second limit counts
                sb.stats_counter.arrival(token)
            decision = sb.limiter.check(token, account.portal_id, search=search,
                                        burst_exempt=exempt)
            headers = decision.headers if sb.config.rate_limit_headers else {}
            if decision.policy:
                ctx["policy"] = decision.policy
                self._json(429, self._rate_limit_body(decision.policy), headers=headers)
                return
            self._latency()
            fault = ctx["fault"] = sb.faults.draw()
            if sb.faults.cursor_fails(_cursor_of(params, body), fault, sb.config.cursor_failures):
                ctx["fault"] = "cursor"
                self._json(503, api.error_body("Service Unavailable: the cursor's backend is "
                                               "down, please retry", "SERVICE_UNAVAILABLE"))
                return
            if fault == "cursor":  # drawn for a request without a cursor: nothing to fail
                fault = ctx["fault"] = None
            if fault and self._fault_answered(fault):
                return
            if fault == "slow":
                time.sleep(sb.config.slow_ms / 1000)
            if body is _BAD_JSON:
                raise api.bad_request("Invalid input JSON on line 1")
            # Paging links name the host the client called (HubSpot's are absolute).
            host = self.headers.get("Host") or f"{sb.config.host}:{sb.port}"
            req = api.Request(account, params, body, sb.config.association_page_size,
                              base_url=f"http://{host}", path=path)
            with account.lock:
                status, out = fn(req, *args)
            self._json(status, out, headers=headers, truncate=fault == "truncate")
        except api.ApiError as exc:
            self._json(exc.status, exc.body, headers=exc.headers)
        except _Dropped:
            self._count("dropped")
        except Exception as exc:  # a bug in the sandbox must still answer like HubSpot would
            self._json(500, api.error_body(f"internal error: {type(exc).__name__}: {exc}", "INTERNAL_ERROR"))

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _rate_limit_body(self, policy: str) -> dict:
        return {"status": "error", "message": self.sandbox.limiter.message(policy),
                "errorType": "RATE_LIMIT", "correlationId": api.error_body("", "")["correlationId"],
                "policyName": policy, "requestId": api.error_body("", "")["correlationId"]}

    def _latency(self) -> None:
        c = self.sandbox.config
        delay = c.latency_ms + (random.random() * c.jitter_ms if c.jitter_ms else 0.0)
        if delay > 0:
            time.sleep(delay / 1000)

    def _fault_answered(self, fault: str) -> bool:
        """Send the wrong answer for fault kinds that replace the response."""
        if fault in ("500", "502", "503"):
            messages = {"500": ("internal error", "INTERNAL_ERROR"),
                        "502": ("Bad Gateway", "BAD_GATEWAY"),
                        "503": ("Service Unavailable: please retry", "SERVICE_UNAVAILABLE")}
            msg, cat = messages[fault]
            self._json(int(fault), api.error_body(msg, cat))
            return True
        if fault == "429":  # e.g. a limit we do not model: no rate-limit headers
            self._json(429, self._rate_limit_body("TEN_SECONDLY_ROLLING"))
            return True
        if fault == "html":
            self._send(502, HTML_ERROR_PAGE.encode(), "text/html")
            return True
        if fault == "nonjson":
            self._send(200, NON_JSON_BODY.encode())
            return True
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise _Dropped()
        return False

    # -- control endpoints ------------------------------------------------------------------
    def _control(self, method: str, path: str, query: str) -> None:
        sb = self.sandbox
        params = parse_qs(query)
        try:
            body = self._read_body() or {}
        except api.ApiError as exc:
            self._json(400, exc.body)
            return
        parts = path.strip("/").split("/")[1:]
        try:
            if method == "GET" and parts == ["health"]:
                self._json(200, {"ok": True})
            elif method == "GET" and parts == ["stats"]:
                self._json(200, sb.stats())
            elif method == "POST" and parts == ["stats", "reset"]:
                limits = (params.get("limits") or ["true"])[-1].lower() != "false"
                sb.reset_stats(limits=limits)
                self._json(200, {"ok": True})
            elif method == "GET" and parts == ["settings"]:
                self._json(200, sb.settings())
            elif method == "POST" and parts == ["settings"]:
                self._json(200, sb.update_settings(**body))
            elif method == "GET" and parts == ["accounts"]:
                self._json(200, {"accounts": [truth.describe(a) for a in sb.accounts.values()]})
            elif len(parts) == 2 and parts[0] == "truth" and method == "GET":
                def flag(name):
                    return (params.get(name) or ["true"])[-1].lower() != "false"
                self._json(200, sb.truth(int(parts[1]), checksums=flag("checksums"),
                                         associations=flag("associations")))
            elif len(parts) == 2 and parts[0] == "advance" and method == "POST":
                steps = int(body.get("steps", 1))
                out = [sb.advance(int(parts[1]), now_ms=body.get("now"),
                                  bulk_import=int(body.get("bulk_import", 0)),
                                  update_fraction=float(body.get("update_fraction", 0)))
                       for _ in range(max(steps, 1))]
                self._json(200, out[0] if len(out) == 1 else {"steps": out})
            else:
                self._json(404, {"status": "error", "message": f"no control endpoint {method} {path}"})
        except (KeyError, ValueError, TypeError) as exc:
            self._json(400, {"status": "error", "message": f"{type(exc).__name__}: {exc}"})
