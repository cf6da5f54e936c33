"""Configuration of a sandbox: accounts (what data) and server knobs (how it behaves)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

DEMO_PORTAL_ID = 4_242_001
# Obviously fake: never shaped like a real private-app token.
DEMO_TOKEN = "sandbox-demo-token"

# Record counts for types an AccountSpec leaves out. Every other standard type
# gets OTHER_TYPE_SIZE; custom objects are named by their short name here.
DEFAULT_SIZES: dict[str, int] = {
    "contacts": 60, "companies": 12, "deals": 20, "tickets": 8, "products": 6,
    "line_items": 15, "notes": 10, "calls": 6, "tasks": 6, "emails": 5, "meetings": 5,
    "pets": 10, "vehicles": 8,
}
OTHER_TYPE_SIZE = 2
MAX_RECORDS_PER_TYPE = 90_000_000  # ids are type_base + index with 10^8 per type

ALL_FAULT_KINDS = ("500", "502", "503", "429", "slow", "drop", "truncate", "nonjson", "html")
# Opt-in (not in the default mix, so seeded fault sequences stay as they were):
# a paging cursor whose requests fail `cursor_failures` times in a row.
CURSOR_FAULT = "cursor"
KNOWN_FAULT_KINDS = (*ALL_FAULT_KINDS, CURSOR_FAULT)


@dataclass(frozen=True)
class AccountSpec:
    """One HubSpot account (portal); the bearer token selects it.

    `sizes` maps type names (`contacts`, custom `pets` or `p<portal>_pets`) to
    record counts. `denied_types` lists type names whose read scope the token
    lacks (403), plus the pseudo-types `events`, `schemas` and `account-info`.
    `bulk_import` is the size of the block of contacts sharing one
    `hs_lastmodifieddate` millisecond (None: 10,500 when contacts >= 21,000).
    `big_company_contacts`: contacts all associated to the first company
    (None: 1,200 when contacts >= 2,400).
    `search_lag_seconds`: CRM search does not yet find records changed (or
    created) in the last N seconds of the wall clock, as HubSpot's search
    index lags writes; list, read and batch read see them at once.
    `late_event_lags_ms`: each `advance` also sends, per event type and lag, one
    event that occurred that long before it appears (events sent late).
    `events_need_object`: the events API refuses account-wide reads (no
    `objectId`) with a 400 asking for an object, as HubSpot's older guide
    describes ("returns events for one CRM record at a time").
    """

    portal_id: int
    token: str
    seed: int = 1
    sizes: dict[str, int] | None = None
    denied_types: frozenset[str] = frozenset()
    events_per_type: int = 40
    bulk_import: int | None = None
    big_company_contacts: int | None = None
    extra_tokens: tuple[str, ...] = ()  # more apps (tokens) on the same account
    search_lag_seconds: float = 0.0
    late_event_lags_ms: tuple[int, ...] = ()
    events_need_object: bool = False

    def __post_init__(self):
        object.__setattr__(self, "denied_types", frozenset(self.denied_types))
        object.__setattr__(self, "extra_tokens", tuple(self.extra_tokens))
        object.__setattr__(self, "late_event_lags_ms", tuple(self.late_event_lags_ms))
        for name, n in (self.sizes or {}).items():
            if not 0 <= int(n) <= MAX_RECORDS_PER_TYPE:
                raise ValueError(f"size of {name} must be within 0..{MAX_RECORDS_PER_TYPE}")

    @property
    def tokens(self) -> tuple[str, ...]:
        return (self.token, *self.extra_tokens)


@dataclass
class SandboxConfig:
    """Server-wide knobs. Limits are HubSpot Professional's by default.

    `window_seconds` is the rolling burst window (10 s at HubSpot; tests scale
    it down); the search budget is `search_per_second` per `window_seconds/10`.
    Mutable at runtime through `POST /_sandbox/settings` (see SETTABLE).
    """

    accounts: list[AccountSpec] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    ten_second_limit: int = 190
    daily_limit: int = 625_000
    search_per_second: int = 5
    window_seconds: float = 10.0
    associations_exempt: bool = False  # HubSpot's spec exempts v4 batch from the burst limit
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = ALL_FAULT_KINDS
    fault_seed: int = 0
    slow_ms: float = 15_000.0
    cursor_failures: int = 6
    association_page_size: int = 500
    max_url_length: int = 16_000
    rate_limit_headers: bool = True

    def __post_init__(self):
        self.fault_kinds = tuple(self.fault_kinds)
        unknown = set(self.fault_kinds) - set(KNOWN_FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {KNOWN_FAULT_KINDS}")
        if not self.accounts:
            self.accounts = [AccountSpec(DEMO_PORTAL_ID, DEMO_TOKEN)]

    def updated(self, **changes) -> "SandboxConfig":
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict) -> "SandboxConfig":
        """From JSON-shaped data: `{"settings": {SandboxConfig fields},
        "accounts": [{AccountSpec fields}]}` (lists where the classes take tuples/sets)."""
        accounts = [AccountSpec(**{**a, "denied_types": frozenset(a.get("denied_types", ())),
                                   "extra_tokens": tuple(a.get("extra_tokens", ()))})
                    for a in data.get("accounts", [])]
        return cls(accounts=accounts, **data.get("settings", {}))


SETTABLE = frozenset(f.name for f in fields(SandboxConfig)) - {"accounts", "host", "port"}
