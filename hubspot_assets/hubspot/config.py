"""Client configuration: plain values in, no I/O.

`ClientConfig` is what a caller (the Dagster resource, a script, a test) builds;
`RateBudget` is the HubSpot rate limit the shared limiter enforces.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

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
    # Within a process, permits are held until a window after their response
    # (`window_holds`), which absorbs any delay; the pad covers the processes
    # sharing a store. Pads alone needed 0.3 s on a 2-core box at load 15
    # (0.97 of the budget) and still let a search request through early.
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


@dataclass(frozen=True)
class ClientConfig:
    """Everything the client needs; `repr()` never shows the token.

    `token_source` names where the token came from (for example
    ``"$HUBSPOT_TOKEN_ACME"``) so error messages can point at the fix.
    `limiter_backend=None` means: Redis when `redis_url` is set, else SQLite.
    """

    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    budget: RateBudget = field(default_factory=RateBudget)
    limiter_backend: str | None = None
    limiter_dir: str | None = None
    redis_url: str | None = None
    max_in_flight: int = 8
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6
    max_rate_limit_retries: int = 10
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_limiter_wait: float = 300.0
    max_retry_after: float = 120.0
    max_url_length: int = 8000
    page_size: int = 100
    search_page_size: int = 200
    search_result_cap: int = 10_000
    association_batch_size: int = 1000
    batch_read_size: int = 100
    # A live listing this many pages long (with more to come) is joined by a
    # search chain from the highest id (`two_ended`); 0 turns that off.
    two_ended_after_pages: int = 5
    events_page_size: int = 100
    token_source: str | None = None
    source_label: str | None = None
    user_agent: str = "hubspot-assets/0.1"

    def __post_init__(self) -> None:
        if not self.token or not isinstance(self.token, str):
            raise ValueError("ClientConfig.token is empty: supply the HubSpot private app token")
        if isinstance(self.budget, Mapping):
            object.__setattr__(self, "budget", RateBudget(**self.budget))
        backend = self.resolved_backend
        if backend not in LIMITER_BACKENDS:
            raise ValueError(f"limiter_backend must be one of {LIMITER_BACKENDS}, not {backend!r}")
        if backend == "redis" and not self.redis_url:
            raise ValueError("limiter_backend='redis' needs redis_url")
        if self.max_in_flight < 1 or self.max_attempts < 1:
            raise ValueError("max_in_flight and max_attempts must be >= 1")
        if not 1 <= self.association_batch_size <= 1000:
            raise ValueError("association_batch_size must be within 1..1000 (HubSpot's cap)")
        if not 1 <= self.batch_read_size <= 100:
            raise ValueError("batch_read_size must be within 1..100 (HubSpot's cap)")
        if self.two_ended_after_pages < 0:
            raise ValueError("two_ended_after_pages must be >= 0 (0 turns two-ended reads off)")
        if self.max_url_length < 512:
            raise ValueError("max_url_length below 512 cannot hold a request")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def resolved_backend(self) -> str:
        if self.limiter_backend:
            return self.limiter_backend
        return "redis" if self.redis_url else "sqlite"

    @property
    def resolved_limiter_dir(self) -> str:
        """Directory of the SQLite buckets: shared by every process on this host."""
        return self.limiter_dir or os.path.join(tempfile.gettempdir(), "hubspot_assets_ratelimit")

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> "ClientConfig":
        """Build from a plain mapping (resource config, YAML), ignoring None values.

        `budget` may be a mapping of RateBudget fields or carry a `tier` key.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown ClientConfig keys: {sorted(unknown)}")
        kwargs = {k: v for k, v in values.items() if v is not None}
        budget = kwargs.get("budget")
        if isinstance(budget, Mapping):
            budget = dict(budget)
            tier = budget.pop("tier", None)
            kwargs["budget"] = RateBudget.for_tier(tier, **budget) if tier else RateBudget(**budget)
        return cls(**kwargs)

    def with_overrides(self, **changes: Any) -> "ClientConfig":
        return replace(self, **changes)
