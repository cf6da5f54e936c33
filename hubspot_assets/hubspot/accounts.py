"""Which HubSpot account a token reads: the key of its search and daily budgets.

HubSpot's daily limit is per account, shared by every app on it, while the
ten-second limit is per app (see `limiter`). A private-app token does not say
which account it belongs to, so the client asks HubSpot once per token:
`GET /account-info/v3/details` answers `portalId` with the account's settings
(https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/get-account-details;
its only scope is `oauth`, which every private app has). The answer is cached
per process and noted in the limiter's shared store (a token's account never
changes), keyed by the app's digest, never the token: one call per token, not
one per run.

If the call is refused or fails, the app's own key stands in for the account
(logged): the daily budget is then per app, exact unless several apps of one
account run at once.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable, Protocol

from .errors import Forbidden, HubSpotError, LimiterTimeout, RateLimitExhausted, Unauthorized
from .limiter import account_key

logger = logging.getLogger(__name__)

ACCOUNT_INFO_PATH = "/account-info/v3/details"

# app key -> account key (or the app key itself after a refusal).
_KNOWN: dict[str, str] = {}
_LOCKS: dict[str, threading.Lock] = {}
_LOCK = threading.Lock()


class Notes(Protocol):
    """Where processes share what they learned (`RequestLimiter` is one)."""

    def recall(self, name: str) -> str | None: ...

    def remember(self, name: str, value: str) -> None: ...


def _lock_for(app: str) -> threading.Lock:
    with _LOCK:
        return _LOCKS.setdefault(app, threading.Lock())


def account_key_for(app: str, fetch_details: Callable[[], Any],
                    portal_id: int | None = None, label: str = "",
                    notes: Notes | None = None) -> str:
    """The account key of app `app`: `portal_id` when the operator gave it, else
    what this process or (through `notes`) another one learned, else learned
    from `fetch_details()` (HubSpot's account details).

    Clients of one app in one process wait for the first one's answer.
    """
    if portal_id is not None:
        return account_key(portal_id)
    note = f"{app}.account"
    with _lock_for(app):
        known = _KNOWN.get(app) or (notes.recall(note) if notes is not None else None)
        if known is not None and (known == app or re.fullmatch(r"account-\d+", known)):
            _KNOWN[app] = known
            return known
        try:
            details = fetch_details()
        except (Unauthorized, RateLimitExhausted, LimiterTimeout):
            raise  # every other request would fail the same way: say so once
        except HubSpotError as exc:
            # A refusal (403) is cached: the token's scopes do not change within a run.
            return _fall_back(app, label, f"{type(exc).__name__}: {exc}",
                              cache=isinstance(exc, Forbidden))
        found = details.get("portalId") if isinstance(details, dict) else None
        if isinstance(found, bool) or not isinstance(found, int):
            return _fall_back(app, label, f"no integer portalId in the answer of "
                                          f"{ACCOUNT_INFO_PATH}", cache=False)
        key = _KNOWN[app] = account_key(found)
        if notes is not None:
            notes.remember(note, key)
        logger.info("%s reads HubSpot account %s", label or app, found)
        return key


def _fall_back(app: str, label: str, why: str, cache: bool) -> str:
    """The app's own key stands in for its account."""
    logger.warning(
        "could not learn the HubSpot account of %s (%s); its daily and search budgets are "
        "keyed by the app (%s) instead, which is exact unless other apps of the same account "
        "run at once", label or app, why, app)
    if cache:
        _KNOWN[app] = app
    return app


def forget_accounts() -> None:
    """Drop the cache (tests)."""
    with _LOCK:
        _KNOWN.clear()
