"""Client configuration: plain values in, no I/O.

`ClientSettings` holds the knobs an operator may turn, declared once here with
their defaults, bounds and descriptions (the Dagster resource nests them as
they are). `ClientConfig` adds what one account needs (token, base URL, rate
budget) and HubSpot's protocol bounds. `RateBudget` is the HubSpot rate limit
the shared limiter enforces.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import secrets

DEFAULT_BASE_URL = "https://api.hubapi.com"
LIMITER_BACKENDS = ("sqlite", "redis", "memory")


@dataclass(frozen=True)
class RateBudget:
    """HubSpot's limits for one account, and how much of them we may use.

    Defaults are the Professional tier. `safety_margin` keeps a fraction of every
    limit unused (for other apps on the same account); `window_pad_seconds`
    lengthens the limiter's windows a little so that scheduling jitter between our
    clock and the moment HubSpot counts a request can never squeeze one more call
    into HubSpot's window than it allows.
    """

    ten_second: int = 190
    daily: int = 625_000
    search_per_second: int = 5
    window_seconds: float = 10.0
    search_window_seconds: float = 1.0
    safety_margin: float = 0.0
    # Permits are held until a window after their response (`window_holds`),
    # in slots shared by every process of the store, which absorbs any delay;
    # the pad is a margin of the buckets themselves. Pads alone needed 0.3 s
    # on a 2-core box at load 15 (0.97 of the budget) and still let a search
    # request through early; 0.1 s with per-process holds let 1-7 429s a sync
    # through with 3-4 step processes.
    window_pad_seconds: float = 0.1
    # HubSpot's published spec exempts search (and v4 association batch reads)
    # from the ten-second limit; both still count toward the daily one. Counting
    # associations against it is the cautious default.
    search_counts_toward_ten_second: bool = False
    associations_count_toward_ten_second: bool = True

    def __post_init__(self) -> None:
        for name in ("ten_second", "daily", "search_per_second"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"RateBudget.{name} must be >= 1")
        if not 0.0 <= self.safety_margin < 1.0:
            raise ValueError("RateBudget.safety_margin must be in [0, 1)")
        if self.window_seconds <= 0 or self.search_window_seconds <= 0:
            raise ValueError("RateBudget windows must be positive")
        if self.window_pad_seconds < 0:
            raise ValueError("RateBudget.window_pad_seconds must be >= 0")

    @classmethod
    def for_tier(cls, tier: str, **overrides: Any) -> "RateBudget":
        """Budget for a HubSpot tier name (free, starter, professional, enterprise, boosted)."""
        tiers = {
            "free": dict(ten_second=100, daily=250_000),
            "starter": dict(ten_second=100, daily=250_000),
            "professional": dict(ten_second=190, daily=625_000),
            "enterprise": dict(ten_second=190, daily=1_000_000),
            "boosted": dict(ten_second=250, daily=1_625_000),
        }
        try:
            base = tiers[tier.lower()]
        except KeyError:
            raise ValueError(f"unknown HubSpot tier {tier!r}; one of {sorted(tiers)}") from None
        return cls(**{**base, **overrides})

    def _usable(self, limit: int) -> int:
        return max(1, math.floor(limit * (1.0 - self.safety_margin)))

    @property
    def usable_ten_second(self) -> int:
        return self._usable(self.ten_second)

    @property
    def usable_daily(self) -> int:
        return self._usable(self.daily)

    @property
    def usable_search_per_second(self) -> int:
        return self._usable(self.search_per_second)


class ClientSettings(BaseModel):
    """How a client behaves on any account: the knobs an operator may turn."""

    # hide_input_in_errors: an error about any field must not print the token.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    limiter_backend: Optional[str] = Field(
        default=None,
        description="'sqlite' (processes on one host share a file-locked bucket), 'redis' "
        "(several hosts) or 'memory' (one process); default: redis when redis_url is set, "
        "else sqlite.")
    limiter_dir: Optional[str] = Field(
        default=None, description="Directory of the SQLite buckets (default: the system's "
        "temporary directory).")
    redis_url: Optional[str] = Field(default=None, description="Redis URL of the shared buckets.")
    max_in_flight: int = Field(default=8, ge=1, description="Concurrent requests per client.")
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(
        default=60.0, gt=0, description="Seconds to wait for a response before retrying.")
    # requests' timeouts bound each socket read, not the whole response: a
    # body that drips a byte a second never trips them. The deadline does.
    request_deadline: float = Field(
        default=120.0, gt=0, description="Longest one attempt may take, connect to last body "
        "byte, s; past it the attempt counts as a timeout and is retried.")
    max_attempts: int = Field(
        default=6, ge=1, description="Attempts per request before its error is reported.")
    max_rate_limit_retries: int = Field(
        default=10, ge=0, description="429 answers one request may get before it fails.")
    backoff_base: float = Field(default=0.5, ge=0, description="First pause between attempts, s.")
    backoff_max: float = Field(default=30.0, ge=0, description="Longest pause between attempts, s.")
    max_limiter_wait: float = Field(
        default=300.0, gt=0, description="Longest wait for a rate-limit permit, s.")
    max_retry_after: float = Field(
        default=120.0, gt=0, description="Longest Retry-After honoured, s.")
    # A live listing this many pages long (with more to come) is joined by a
    # search chain from the highest id (`two_ended`); 0 turns that off.
    two_ended_after_pages: int = Field(
        default=5, ge=0, description="List pages after which a long listing is also read from "
        "its highest id through CRM search (0 turns it off).")
    # Guards that make every listing end or fail (`paging.ListingGuard`).
    max_listing_pages: int = Field(
        default=1_000_000, ge=1, description="Pages one listing (object type, event type, "
        "search query, association id) may take before it fails as endless (1,000,000 pages "
        "of 100 is 100 million records).")
    max_stalled_pages: int = Field(
        default=10, ge=1, description="Consecutive pages with a next cursor but no record "
        "not seen on the pages just before, after which a listing fails as endless.")
    user_agent: str = Field(default="hubspot-assets/0.1", description="User-Agent header.")

    @field_validator("limiter_backend")
    @classmethod
    def _known_backend(cls, value: Optional[str]) -> Optional[str]:
        if value and value not in LIMITER_BACKENDS:
            raise ValueError(f"limiter_backend must be one of {LIMITER_BACKENDS}, not {value!r}")
        return value or None

    @model_validator(mode="after")
    def _redis_needs_url(self) -> "ClientSettings":
        if self.resolved_backend == "redis" and not self.redis_url:
            raise ValueError("limiter_backend='redis' needs redis_url")
        return self

    @property
    def resolved_backend(self) -> str:
        if self.limiter_backend:
            return self.limiter_backend
        return "redis" if self.redis_url else "sqlite"

    @property
    def resolved_limiter_dir(self) -> str:
        """Directory of the SQLite buckets: shared by every process on this host."""
        return self.limiter_dir or os.path.join(tempfile.gettempdir(), "hubspot_assets_ratelimit")


class ClientConfig(ClientSettings):
    """Everything one client needs; `repr()` never shows the token.

    `token_source` names where the token came from (for example
    ``"$HUBSPOT_TOKEN_ACME"``) so error messages can point at the fix.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True,
                              arbitrary_types_allowed=True)

    token: str = Field(repr=False, min_length=1)
    base_url: str = DEFAULT_BASE_URL
    budget: RateBudget = Field(default_factory=RateBudget)
    token_source: Optional[str] = None
    source_label: Optional[str] = None
    # The HubSpot account (portal) id, when the operator knows it; unset, the
    # client asks HubSpot once per token (`accounts`). It keys the daily budget.
    account_id: Optional[int] = Field(default=None, ge=1)
    # HubSpot's protocol bounds (its caps, or what its URLs and pages hold).
    max_url_length: int = Field(default=8000, ge=512)
    page_size: int = Field(default=100, ge=1, le=100)
    search_page_size: int = Field(default=200, ge=1, le=200)
    search_result_cap: int = Field(default=10_000, ge=1)
    association_batch_size: int = Field(default=1000, ge=1, le=1000)
    batch_read_size: int = Field(default=100, ge=1, le=100)
    events_page_size: int = Field(default=100, ge=1)

    @field_validator("token", mode="before")
    @classmethod
    def _token_present(cls, value: Any) -> Any:
        if not value or not isinstance(value, str):
            raise ValueError("ClientConfig.token is empty: supply the HubSpot private app token")
        # Remembered so every error text of this process is scrubbed of it.
        secrets.remember(secrets.check_token(value, "ClientConfig.token"))
        return value

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> Any:
        """A RateBudget, or a mapping of its fields (with an optional `tier` key)."""
        if isinstance(value, Mapping):
            values = dict(value)
            tier = values.pop("tier", None)
            return RateBudget.for_tier(tier, **values) if tier else RateBudget(**values)
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return value.rstrip("/")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "ClientConfig":
        """Build from a plain mapping (resource config, YAML, JSON), ignoring None values."""
        return cls(**{k: v for k, v in values.items() if v is not None})
