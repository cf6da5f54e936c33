"""Behavioural events of one event type, derived from their index.

Event k < n of a type occurs at `t0 + k*step` (strictly increasing), on a
record of the type's object chosen by hash. Events added by `advance` get
indices n, n+1, ... in the order they appear; most occur when they appear, but
an event *sent late* (HubSpot takes the sender's `occurredAt`, which may lie
in the past) is slotted in among the older ones. Listings are in time order:
`(occurredAt, index)` is the sort key, the base events are an arithmetic range
and the added ones a sorted list, so occurredAfter/occurredBefore stay binary
searches and a cursor (the key of the next event) survives late arrivals.

Each event type happens to one object type: HubSpot's custom event definitions
have one `primaryObject` ("CONTACT, COMPANY, DEAL, TICKET ... default CONTACT",
HubSpot/HubSpot-public-api-spec-collection, PublicApiSpecs/Events/Manage Event
Definitions/Rollouts/138888/v3/manageEventDefinitions.json).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator

from .data import SPAN_MS, T0_MS, RecordStore
from .encoding import iso_ms, mix2, name_salt, uuid_from

_PAGES = ("/pricing", "/blog/how-to-sync", "/contact-us", "/", "/docs/api", "/careers")
_FORMS = ("Newsletter", "Demo request", "Webinar signup")
_PLANS = ("starter", "professional", "enterprise")
_STAGES = ("proposal viewed", "contract sent", "pricing call")

#: Custom event types on objects other than contacts: (name after `pe<portal>_`, type).
OBJECT_EVENT_TYPES = (("company_signal", "companies"), ("deal_milestone", "deals"))
#: The `objectType` an event of each object type carries (as in `objectType=contact`,
#: the events API reference's example), and what a filter may name it by.
OBJECT_LABELS = {"contacts": "contact", "companies": "company", "deals": "deal",
                 "tickets": "ticket"}
_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "tickets": "0-5"}


class EventStream:
    """All events of one event type in one account."""

    def __init__(self, name: str, n: int, objects: RecordStore, seed: int, ordinal: int,
                 object_type: str = "contacts"):
        self.name = name
        self.objects = objects
        self.object_type = object_type
        self.label = OBJECT_LABELS.get(object_type, object_type)
        self.n = n if objects.n > 0 else 0  # events need something to happen to
        self.salt = mix2(seed, name_salt(name))
        self.t0 = T0_MS + 12 * 3_600_000 + ordinal * 1_000
        self.step = max(1, SPAN_MS // max(self.n, 1))
        self.appended: list[tuple[int, int]] = []  # (occurred_ms, object index), by index
        self.appeared: list[int] = []  # when each added event became visible (ms)
        self._sorted: list[tuple[int, int]] = []  # (occurred_ms, k) of the added events

    @property
    def total(self) -> int:
        return self.n + len(self.appended)

    def names(self) -> set[str]:
        """What an `objectType` filter may call this stream's object type."""
        return {self.label, self.object_type, _TYPE_IDS.get(self.object_type, self.label)}

    def occurred(self, k: int) -> int:
        return self.t0 + k * self.step if k < self.n else self.appended[k - self.n][0]

    def lateness(self, k: int) -> int:
        """How long after its occurredAt event k appeared (0: on time)."""
        return 0 if k < self.n else self.appeared[k - self.n] - self.occurred(k)

    def contact_index(self, k: int) -> int:
        if k < self.n:
            return mix2(self.salt, k) % self.objects.n
        return self.appended[k - self.n][1]

    def object_id(self, k: int) -> str:
        return str(self.objects.record_id(self.contact_index(k)))

    def keys(self, after_ms: int | None, before_ms: int | None, start: tuple[int, int] | None,
             descending: bool) -> Iterator[tuple[int, int]]:
        """(occurred_ms, k) of the events with after_ms < occurredAt < before_ms, in
        time order, from the key ``start`` on (inclusive)."""
        lo, hi = self.index_range(after_ms, before_ms)
        late = self._sorted
        lo2 = 0 if after_ms is None else bisect.bisect_right(late, (after_ms, float("inf")))
        hi2 = len(late) if before_ms is None else bisect.bisect_left(late, (before_ms, -1))
        seq, key = range(self.n), (lambda k: (self.occurred(k), k))
        if start is not None and not descending:
            lo = max(lo, bisect.bisect_left(seq, start, key=key))
            lo2 = max(lo2, bisect.bisect_left(late, start))
        elif start is not None:
            hi = min(hi, bisect.bisect_right(seq, start, key=key))
            hi2 = min(hi2, bisect.bisect_right(late, start))
        if not descending:
            return heapq.merge((key(k) for k in range(lo, hi)),
                               itertools.islice(late, lo2, max(lo2, hi2)))
        return heapq.merge((key(k) for k in range(hi - 1, lo - 1, -1)),
                           (late[i] for i in range(hi2 - 1, lo2 - 1, -1)), reverse=True)

    def index_range(self, after_ms: int | None, before_ms: int | None) -> tuple[int, int]:
        """Base events with after_ms < occurredAt < before_ms, as [lo, hi) (no added ones)."""
        seq = range(self.n)
        lo = 0 if after_ms is None else bisect.bisect_right(seq, after_ms, key=self.occurred)
        hi = self.n if before_ms is None else bisect.bisect_left(seq, before_ms, key=self.occurred)
        return lo, max(lo, hi)

    def in_order(self) -> Iterator[int]:
        """Every event index, oldest first (as an ascending listing returns them)."""
        return (k for _, k in self.keys(None, None, None, False))

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
        elif self.object_type == "deals":
            props = {"milestone": _STAGES[h % len(_STAGES)]}
        else:
            props = {"plan": _PLANS[h % len(_PLANS)], "seats": str(1 + h % 50)}
        # Event property values are strings (`ExternalUnifiedEvent.properties`,
        # additionalProperties string, in HubSpot-public-api-spec-collection
        # PublicApiSpecs/Events/Events/Rollouts/147897/v3/events.json): an
        # unset property is absent, never null.
        props = {key: value for key, value in props.items() if value is not None}
        return {"objectType": self.label, "objectId": self.object_id(k), "eventType": self.name,
                "occurredAt": iso_ms(self.occurred(k)), "id": uuid_from(h, mix2(self.salt, k)),
                "properties": props}

    def append(self, ts: int, object_index: int) -> None:
        """An event that occurs as it appears, after every event so far."""
        times = [self.occurred(self.n - 1)] if self.n else []
        times += [self._sorted[-1][0]] if self._sorted else []
        last = max(times) if times else ts - 1
        self._add(max(ts, last + 1), object_index, ts)

    def append_late(self, occurred_ms: int, object_index: int, appeared_ms: int) -> None:
        """An event sent late: it appears at ``appeared_ms`` but occurred earlier."""
        self._add(occurred_ms, object_index, appeared_ms)

    def _add(self, occurred_ms: int, object_index: int, appeared_ms: int) -> None:
        k = self.total
        self.appended.append((occurred_ms, object_index))
        self.appeared.append(max(appeared_ms, occurred_ms))
        bisect.insort(self._sorted, (occurred_ms, k))


def object_event_streams(portal_id: int, stores: dict[str, RecordStore], n: int, seed: int,
                         first_ordinal: int) -> dict[str, EventStream]:
    """The custom event types on companies and deals (``pe<portal>_...``)."""
    return {f"pe{portal_id}_{name}": EventStream(f"pe{portal_id}_{name}", n, stores[object_type],
                                                 seed, first_ordinal + k, object_type)
            for k, (name, object_type) in enumerate(OBJECT_EVENT_TYPES)}


def send_late(streams: dict[str, EventStream], lags_ms: tuple[int, ...], now_ms: int,
              step: int) -> dict[str, list[str]]:
    """One event per lag and event type, appearing at ``now_ms`` but occurred ``lag`` earlier
    (a sender's backlog, an offline device); which record it is on depends only on the step.
    Returns the ids of the events sent, by event type."""
    sent: dict[str, list[str]] = {}
    for name, stream in streams.items():
        objects = stream.objects
        if not lags_ms or objects.total == 0:
            continue
        for j, lag in enumerate(lags_ms):
            i = mix2(stream.salt, step * 1_000 + j) % objects.total
            live = next((x for x in itertools.chain(range(i, objects.total), range(i))
                         if objects.is_live(x)), None)
            if live is None:
                break
            stream.append_late(now_ms - int(lag), live, now_ms)
            sent.setdefault(name, []).append(stream.render(stream.total - 1)["id"])
    return sent
