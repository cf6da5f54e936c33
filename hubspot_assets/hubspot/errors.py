"""Typed errors. Each carries what HubSpot support and the operator need
(status, category, correlationId, endpoint) and a message naming the fix.
None of them ever holds the token: messages are built from the response body,
the request path (no query string) and caller-supplied labels only.
"""

from __future__ import annotations

from typing import Any

from .secrets import scrub


class HubSpotError(Exception):
    """Base class; `retryable` tells callers whether trying later could help."""

    retryable = False
    default_hint = ""

    def __init__(
        self,
        problem: str,
        *,
        status: int | None = None,
        category: str | None = None,
        sub_category: str | None = None,
        correlation_id: str | None = None,
        method: str | None = None,
        endpoint: str | None = None,
        hint: str | None = None,
        attempts: int | None = None,
    ) -> None:
        # Fields may come from the server (a header echo in the correlationId, say):
        # scrubbed of every token this process knows before anything renders them.
        self.problem = scrub(problem)
        self.status = status
        self.category = _scrubbed(category)
        self.sub_category = _scrubbed(sub_category)
        self.correlation_id = _scrubbed(correlation_id)
        self.method = method
        self.endpoint = _scrubbed(endpoint)
        self.hint = scrub(hint if hint is not None else self.default_hint)
        self.attempts = attempts
        super().__init__(self._render())

    def _render(self) -> str:
        where = " ".join(p for p in (self.method, self.endpoint) if p)
        facts = [f"status={self.status}" if self.status is not None else None,
                 f"category={self.category}" if self.category else None,
                 f"subCategory={self.sub_category}" if self.sub_category else None,
                 f"correlationId={self.correlation_id}" if self.correlation_id else None,
                 f"attempts={self.attempts}" if self.attempts else None]
        detail = ", ".join(f for f in facts if f)
        text = self.problem
        if where or detail:
            text += f" [{where}{'; ' if where and detail else ''}{detail}]"
        if self.hint:
            text += f". {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary for run metadata."""
        return {"error": type(self).__name__, "message": str(self), "status": self.status,
                "category": self.category, "correlationId": self.correlation_id,
                "endpoint": self.endpoint}


class ClientError(HubSpotError):
    """A 4xx HubSpot will answer the same way again: not retried."""


class Unauthorized(ClientError):
    """401: the token is wrong, expired or revoked."""


class Forbidden(ClientError):
    """403 that is not about scopes (e.g. the account's tier lacks the feature)."""


class MissingScope(Forbidden):
    """403 MISSING_SCOPES: the private app lacks a scope; `scopes` names it."""

    def __init__(self, problem: str, *, scopes: tuple[str, ...] = (), **kw: Any) -> None:
        self.scopes = tuple(scrub(s) for s in scopes)
        super().__init__(problem, **kw)

    @property
    def scope(self) -> str | None:
        return self.scopes[0] if self.scopes else None


class NotFound(ClientError):
    """404: unknown object type, property, event type or record."""


class BadRequest(ClientError):
    """400/414/422 and other 4xx: the request itself is wrong."""


class RateLimited(HubSpotError):
    """429s kept coming past the retry bound."""

    retryable = True


class RateLimitExhausted(HubSpotError):
    """The daily budget is spent (HubSpot's DAILY 429 or our own daily bucket).

    `resets_at` is an ISO-8601 timestamp (best estimate) of when it frees up.
    """

    def __init__(self, problem: str, *, resets_at: str | None = None, **kw: Any) -> None:
        self.resets_at = resets_at
        super().__init__(problem, **kw)


class LimiterTimeout(HubSpotError):
    """The shared limiter could not grant a request within the configured bound."""

    retryable = True


class ServerError(HubSpotError):
    """5xx responses past the retry bound."""

    retryable = True


class TransportError(HubSpotError):
    """Timeouts and dropped connections past the retry bound."""

    retryable = True


class MalformedResponse(HubSpotError):
    """Truncated, non-JSON or HTML bodies (or an impossible shape) past the retry bound."""

    retryable = True


class ListingDidNotEnd(HubSpotError):
    """A listing that cannot be trusted to end: a cursor seen twice, pages that
    add no new record, or more pages than any account holds. Fetching it again
    would loop the same way, so it is not retried; the unit fails, loudly."""


def _scrubbed(value: str | None) -> str | None:
    return scrub(value) if value is not None else None
