"""Keep HubSpot tokens out of every text that leaves the client: one plain function.

A server (or a proxy in front of it) may quote the request back in an error
body or header: the token raw, URL-encoded, or base64 of the token or of the
whole `Bearer <token>` header. `scrub` removes every such form; tokens that
clients were built with in this process are remembered (`remember`), so error
texts built far from the client (e.g. a header echoed into a correlationId) are
scrubbed too.
"""

from __future__ import annotations

import base64
import functools
import logging
import threading
from urllib.parse import quote, quote_plus

REDACTED = "<token>"
# Shorter strings would redact unrelated text (no real token is this short).
_MIN_SECRET = 8
_known: set[str] = set()
_lock = threading.Lock()


class InvalidToken(ValueError):
    """A token that cannot be sent as it is (the message never shows it)."""


def check_token(token: str, where: str) -> str:
    """``token`` unchanged, or InvalidToken naming ``where`` it came from and the fix."""
    if token != token.strip():
        problem = "has whitespace or a newline around it"
    elif any(c.isspace() for c in token):
        problem = "contains whitespace or a newline"
    else:
        return token
    # Never echo the value: only where it came from and what is wrong with it.
    raise InvalidToken(f"the HubSpot token in {where} {problem}; set it to the private app "
                       "token alone (e.g. no trailing newline from a secrets file)")


@functools.lru_cache(maxsize=64)
def secret_forms(token: str) -> tuple[str, ...]:
    """Every form of ``token`` a server might echo: raw, URL-encoded, base64 (standard and
    URL-safe, padded or not) of the token and of its Authorization header; longest first."""
    if not token:
        return ()
    forms = {token, quote(token, safe=""), quote_plus(token)}
    for plain in (token, f"Bearer {token}"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(plain.encode()).decode()
            forms |= {encoded, encoded.rstrip("=")}
    return tuple(sorted((f for f in forms if len(f) >= _MIN_SECRET), key=len, reverse=True))


def remember(token: str) -> None:
    """Scrub ``token`` from every text `scrub` sees in this process from now on."""
    if token:
        with _lock:
            _known.add(token)


def scrub(text: object, *tokens: str) -> str:
    """``text`` with every form of ``tokens`` and of the remembered tokens replaced by <token>."""
    out = str(text)
    with _lock:
        every = {*tokens, *_known}
    forms = sorted({f for t in every for f in secret_forms(t)}, key=len, reverse=True)
    for form in forms:
        if form in out:
            out = out.replace(form, REDACTED)
    return out


class ScrubbingFilter(logging.Filter):
    """Scrub a log record's rendered message (the client logs server-sent fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            record.msg, record.args = scrub(record.getMessage()), ()
        return True


# A logger's filters see only its own records, so each client module gets one:
# their warnings quote headers (correlationId, Retry-After) before any error exists.
for _name in ("client", "limiter", "paging", "transport", "two_ended"):
    logging.getLogger(f"hubspot_assets.hubspot.{_name}").addFilter(ScrubbingFilter())
