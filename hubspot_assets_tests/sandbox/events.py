"""Behavioural events of one event type, derived from their index.

Event k of a type occurs at `t0 + k*step` (strictly increasing), on a contact
chosen by hash; events added by `advance` are appended with later times, so
the whole stream stays sorted by time and occurredAfter/occurredBefore become
an index range (binary search).
"""

from __future__ import annotations

import bisect

from .data import SPAN_MS, T0_MS, RecordStore
from .encoding import iso_ms, mix2, name_salt, uuid_from

_PAGES = ("/pricing", "/blog/how-to-sync", "/contact-us", "/", "/docs/api", "/careers")
_FORMS = ("Newsletter", "Demo request", "Webinar signup")
_PLANS = ("starter", "professional", "enterprise")


class EventStream:
    """All events of one event type in one account."""

    def __init__(self, name: str, n: int, contacts: RecordStore, seed: int, ordinal: int):
        self.name = name
        self.contacts = contacts
        self.n = n if contacts.n > 0 else 0  # events need something to happen to
        self.salt = mix2(seed, name_salt(name))
        self.t0 = T0_MS + 12 * 3_600_000 + ordinal * 1_000
        self.step = max(1, SPAN_MS // max(self.n, 1))
        self.appended: list[tuple[int, int]] = []  # (occurred_ms, contact index)

    @property
    def total(self) -> int:
        return self.n + len(self.appended)

    def occurred(self, k: int) -> int:
        return self.t0 + k * self.step if k < self.n else self.appended[k - self.n][0]

    def contact_index(self, k: int) -> int:
        if k < self.n:
            return mix2(self.salt, k) % self.contacts.n
        return self.appended[k - self.n][1]

    def object_id(self, k: int) -> str:
        return str(self.contacts.record_id(self.contact_index(k)))

    def index_range(self, after_ms: int | None, before_ms: int | None) -> tuple[int, int]:
        """Events with after_ms < occurredAt < before_ms, as [lo, hi)."""
        seq = range(self.total)
        lo = 0 if after_ms is None else bisect.bisect_right(seq, after_ms, key=self.occurred)
        hi = self.total if before_ms is None else bisect.bisect_left(seq, before_ms, key=self.occurred)
        return lo, max(lo, hi)

    def render(self, k: int) -> dict:
        h = mix2(self.salt, k * 7 + 1)
        if self.name == "e_visited_page":
            props = {"hs_url": f"https://www.example.com{_PAGES[h % len(_PAGES)]}",
                     "hs_referrer": None if h % 3 else "https://www.google.com/",
                     "hs_session_id": str(h % 1_000_000)}
        elif self.name.startswith("e_form"):
            props = {"hs_form_title": _FORMS[h % len(_FORMS)], "hs_form_id": uuid_from(h, self.salt)}
        elif self.name.startswith("e_"):
            props = {"hs_email_campaign_id": str(h % 90_000 + 10_000), "hs_device_type": "COMPUTER"}
        else:
            props = {"plan": _PLANS[h % len(_PLANS)], "seats": str(1 + h % 50)}
        # Event property values are strings (`ExternalUnifiedEvent.properties`,
        # additionalProperties string, in HubSpot-public-api-spec-collection
        # PublicApiSpecs/Events/Events/Rollouts/147897/v3/events.json): an
        # unset property is absent, never null.
        props = {key: value for key, value in props.items() if value is not None}
        return {"objectType": "contact", "objectId": self.object_id(k), "eventType": self.name,
                "occurredAt": iso_ms(self.occurred(k)), "id": uuid_from(h, mix2(self.salt, k)),
                "properties": props}

    def append(self, ts: int, contact_index: int) -> None:
        last = self.occurred(self.total - 1) if self.total else ts - 1
        self.appended.append((max(ts, last + 1), contact_index))
