"""How to walk HubSpot result sets without holding them: cursors, property
chunks that keep URLs short, and search windows that survive the 10,000 cap.

A listing is complete or it fails loudly: every page must hold a `results`
list of records with ids and a well-formed `paging.next` (else it is a
`MalformedResponse`), and every listing must make progress (`ListingGuard`:
a cursor seen twice, pages adding no new id, or more pages than any account
holds are `ListingDidNotEnd`).

Nothing here does I/O; callers pass a `fetch` function that does one request.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote_plus

from hubspot_assets.timestamps import to_epoch_ms

from .config import ClientSettings
from .errors import HubSpotError, ListingDidNotEnd, MalformedResponse

logger = logging.getLogger(__name__)

# Room kept in every URL for the `after` cursor, which HubSpot may lengthen.
CURSOR_RESERVE = 256

# A page behind a cursor that still fails after the transport's retries gets
# this many more rounds of them, after a pause of CURSOR_RESUME_PAUSE seconds
# times the round: paging resumes from the cursor instead of starting over.
CURSOR_RESUME_ROUNDS = 2
CURSOR_RESUME_PAUSE = 1.0


# Cursors remembered per listing to catch one HubSpot gives twice; a loop
# longer than this still ends, by the stall or page bound.
RECENT_CURSORS = 100_000


def next_cursor(page: Any, what: str = "page") -> str | None:
    """`paging.next.after`, or None on the last page (no `paging` or no `paging.next`).

    HubSpot's OpenAPI gives `after` as a required string (`NextPage`,
    `required: ["after"]`, in HubSpot-public-api-spec-collection
    PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json): a `next`
    without one is malformed, not the end.
    """
    if not isinstance(page, dict):
        raise MalformedResponse(f"{what}: the page is not a JSON object")
    paging = page.get("paging")
    if paging is None:
        return None
    nxt = paging.get("next") if isinstance(paging, dict) else paging
    if nxt is None:
        return None
    after = nxt.get("after") if isinstance(nxt, dict) else None
    if not isinstance(after, str) or not after:
        raise MalformedResponse(f"{what}: 'paging.next' without a usable 'after' "
                                f"({str(nxt)[:80]})")
    return after


def results_of(page: Any, what: str, key: str | None = None) -> list:
    """The `results` list of a page, or a MalformedResponse naming the endpoint.

    HubSpot's collection responses always carry `results`, empty or not
    (`required: ["results", ...]` in every `CollectionResponse*` and
    `BatchResponse*` schema of the same objects.json): a page without it is
    broken, never "no more records".

    With `key` (e.g. "id" for records and events), every result must be an
    object holding it: a record without an id could be neither stored nor
    told apart from another, so the whole page counts as malformed.
    """
    if not isinstance(page, dict):
        raise MalformedResponse(f"{what}: the page is not a JSON object")
    if "results" not in page:
        raise MalformedResponse(f"{what}: the page has no 'results'")
    results = page["results"]
    if not isinstance(results, list):
        raise MalformedResponse(f"{what}: 'results' is not a list")
    if key is not None:
        for result in results:
            if not isinstance(result, dict) or result.get(key) in (None, ""):
                raise MalformedResponse(f"{what}: a result without {key!r}: {str(result)[:80]}")
    return results


def check_page(page: Any, what: str = "page", key: str | None = "id") -> None:
    """Raise MalformedResponse unless `page` is a well-formed listing page
    (a `results` list, records holding `key`, a usable `paging.next`)."""
    results_of(page, what, key)
    next_cursor(page, what)


def check_association_page(page: Any, what: str = "association batch read") -> None:
    """Raise MalformedResponse unless `page` is a well-formed v4 association
    batch-read page: each result has `from.id`, a `to` list of entries with
    `toObjectId`, and a usable `paging.next` (see the v4 association spec)."""
    for result in results_of(page, what):
        source = result.get("from") if isinstance(result, dict) else None
        if not isinstance(source, dict) or source.get("id") in (None, ""):
            raise MalformedResponse(f"{what}: a result without 'from.id': {str(result)[:80]}")
        to = result.get("to")
        if not isinstance(to, list):
            raise MalformedResponse(f"{what}: 'to' of {source['id']} is not a list")
        for entry in to:
            if not isinstance(entry, dict) or entry.get("toObjectId") in (None, ""):
                raise MalformedResponse(f"{what}: an entry of {source['id']} without "
                                        f"'toObjectId': {str(entry)[:80]}")
        next_cursor(result, what)


@dataclass(frozen=True)
class ListingLimits:
    """How far a listing may go without ending (the `ClientSettings` knobs)."""

    max_pages: int = ClientSettings.model_fields["max_listing_pages"].default
    max_stalled: int = ClientSettings.model_fields["max_stalled_pages"].default

    @classmethod
    def of(cls, settings: ClientSettings) -> "ListingLimits":
        """The limits an operator set."""
        return cls(settings.max_listing_pages, settings.max_stalled_pages)


class ListingGuard:
    """Proves one listing makes progress, page by page, in bounded memory.

    It fails the listing (`ListingDidNotEnd`) on a cursor it has seen before
    (among the last RECENT_CURSORS), on `max_stalled` pages in a row that
    have a next cursor but no id absent from the pages just before them
    (empty pages included), and on a next cursor past `max_pages` pages.
    """

    def __init__(self, what: str, limits: ListingLimits | None = None) -> None:
        self.what = what
        self.limits = limits or ListingLimits()
        self.pages = 0
        self.stalled = 0
        self._cursors: set[str] = set()
        self._cursor_order: deque[str] = deque()
        self._recent: deque[set[str]] = deque(maxlen=self.limits.max_stalled)

    def page(self, ids: Iterable[str], after: str | None) -> None:
        """Account for one page: its record ids and its next cursor (None: the last)."""
        self.pages += 1
        if after is None:
            return
        if self.pages >= self.limits.max_pages:
            self._fail(f"still a next cursor after {self.pages} pages "
                       f"(max_listing_pages={self.limits.max_pages})")
        if after in self._cursors:
            self._fail(f"HubSpot returned cursor {after[:40]!r} twice")
        self._cursors.add(after)
        self._cursor_order.append(after)
        if len(self._cursor_order) > RECENT_CURSORS:
            self._cursors.discard(self._cursor_order.popleft())
        ids = set(ids)
        if any(all(i not in seen for seen in self._recent) for i in ids):
            self.stalled = 0
        else:
            self.stalled += 1
            if self.stalled >= self.limits.max_stalled:
                self._fail(f"{self.stalled} pages in a row with a next cursor and no new "
                           f"record (max_stalled_pages={self.limits.max_stalled})")
        self._recent.append(ids)

    def _fail(self, reason: str) -> None:
        raise did_not_end(self.what, reason)


def did_not_end(what: str, reason: str) -> ListingDidNotEnd:
    """The typed error for a listing `what` that cannot be trusted to end."""
    return ListingDidNotEnd(f"{what}: the listing does not end: {reason}", endpoint=what,
                            hint="HubSpot's paging is broken for this listing; the unit is "
                                 "left incomplete (its watermark does not advance)")


def iter_pages(fetch: Callable[[str | None], dict], what: str, key: str | None = "id",
               limits: ListingLimits | None = None) -> Iterator[dict]:
    """Follow `paging.next.after` from the first page to the last, lazily.

    Every page is checked (`check_page`, records holding `key`) and the
    listing must progress (`ListingGuard`): it ends complete or raises.
    """
    guard = ListingGuard(what, limits)
    after: str | None = None
    while True:
        page = _fetch_resuming(fetch, after, what, key)
        after = next_cursor(page, what)
        guard.page((str(r[key]) for r in page["results"]) if key else (), after)
        yield page
        if after is None:
            return


def _fetch_resuming(fetch: Callable[[str | None], dict], after: str | None, what: str,
                    key: str | None) -> dict:
    """`fetch(after)`, checked, resuming a failing cursor a few times before giving up on it."""
    for round_ in range(1, CURSOR_RESUME_ROUNDS + 2):
        try:
            page = fetch(after)
            check_page(page, what, key)
            return page
        except HubSpotError as exc:
            if after is None or not exc.retryable or round_ > CURSOR_RESUME_ROUNDS:
                raise
            pause = CURSOR_RESUME_PAUSE * round_
            logger.warning("%s: the page after cursor %s failed past the retries (%s); "
                           "resuming from it in %.1fs (round %d of %d)", what, after[:24],
                           exc.problem, pause, round_, CURSOR_RESUME_ROUNDS)
            time.sleep(pause)
    raise AssertionError("unreachable")


def chunk_properties(names: Iterable[str], url_without_properties: str,
                     max_url_length: int) -> list[list[str]]:
    """Split property names into comma-joined `properties=` groups so that every
    URL (plus a cursor) stays within `max_url_length`. Order is kept."""
    base = len(url_without_properties) + len("&properties=") + CURSOR_RESERVE
    budget = max_url_length - base
    chunks: list[list[str]] = [[]]
    used = 0
    for name in names:
        cost = len(quote_plus(name)) + (3 if chunks[-1] else 0)  # ',' is sent as %2C
        if chunks[-1] and used + cost > budget:
            chunks.append([])
            cost, used = len(quote_plus(name)), 0
        if cost > budget:
            raise ValueError(f"property name {name[:40]!r}... cannot fit in a "
                             f"{max_url_length}-character URL")
        chunks[-1].append(name)
        used += cost
    return [c for c in chunks if c] or [[]]


class SearchWindows:
    """Every record modified in [since, until) through CRM search, exactly once.

    Search stops at `cap` results per query, and more than `cap` records may
    share one timestamp (bulk imports). So: page a query sorted by the modified
    property; when the cap is near, the records *before* the last timestamp seen
    are complete. Finish that last timestamp with a tie-break query (equal
    timestamp, `hs_object_id` greater than the last id, sorted by id, restarted
    as often as needed), then continue strictly after it. Memory: at most one
    cap's worth of ids (those already sent at the boundary timestamp).
    """

    def __init__(self, fetch: Callable[[dict], dict], *, modified_property: str,
                 properties: list[str], page_size: int = 200, cap: int = 10_000,
                 limits: ListingLimits | None = None, what: str = "search") -> None:
        self.fetch = fetch
        self.limits = limits
        self.what = what
        self.prop = modified_property
        self.properties = properties
        self.page_size = min(page_size, cap)
        self.cap = cap

    def iter(self, since_ms: int | None, until_ms: int | None) -> Iterator[dict]:
        lower, op = since_ms, "GTE"
        while True:
            filters = [] if lower is None else [self._filter(self.prop, op, lower)]
            if until_ms is not None:
                filters.append(self._filter(self.prop, "LT", until_ms))
            boundary_ts: int | None = None
            boundary_ids: set[str] = set()
            capped = False
            for record in self._query(filters, self.prop):
                if record is _CAPPED:
                    capped = True
                    break
                ts = self._timestamp(record)
                if ts != boundary_ts:
                    boundary_ts, boundary_ids = ts, set()
                boundary_ids.add(str(record.get("id")))
                yield record
            if not capped:
                return
            if boundary_ts is None:
                raise MalformedResponse(f"search: records lack {self.prop}; cannot page past "
                                        f"{self.cap} results")
            # The next window starts strictly after boundary_ts: it must lie past
            # this window's start, or a server ignoring the filter loops us.
            if lower is not None and (boundary_ts < lower or (op == "GT" and boundary_ts == lower)):
                raise did_not_end(self.what, f"a capped window from {self.prop} {op} {lower} "
                                  f"ended at {boundary_ts}: no progress")
            logger.info("search hit the %d-result cap; finishing %s=%d by hs_object_id",
                        self.cap, self.prop, boundary_ts)
            yield from self._tie_break(boundary_ts, boundary_ids, until_ms)
            lower, op = boundary_ts, "GT"

    def _tie_break(self, ts: int, already: set[str], until_ms: int | None) -> Iterator[dict]:
        last_id: str | None = None
        while True:
            started_after = last_id
            filters = [self._filter(self.prop, "EQ", ts)]
            if last_id is not None:
                filters.append(self._filter("hs_object_id", "GT", last_id))
            capped = False
            for record in self._query(filters, "hs_object_id"):
                if record is _CAPPED:
                    capped = True
                    break
                last_id = str(record.get("id"))
                if last_id not in already:
                    yield record
            if not capped:
                return
            if last_id is None or (started_after is not None
                                   and _id_number(last_id) <= _id_number(started_after)):
                raise did_not_end(self.what, f"a capped tie-break query at {self.prop}={ts} "
                                  f"did not pass hs_object_id {started_after}")

    def _query(self, filters: list[dict], sort_property: str) -> Iterator[Any]:
        """One query's pages up to the cap; yields _CAPPED if more remain past it."""
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
            "properties": self.properties,
            "limit": self.page_size,
        }
        consumed = 0
        after: str | None = None
        guard = ListingGuard(self.what, self.limits)
        while True:
            page = self.fetch({**body, "after": after} if after else body)
            results = results_of(page, self.what, key="id")
            after = next_cursor(page, self.what)
            guard.page((str(r["id"]) for r in results), after)
            yield from results
            consumed += len(results)
            if after is None:
                return
            if consumed + self.page_size > self.cap:
                yield _CAPPED
                return

    def _timestamp(self, record: dict) -> int | None:
        props = record.get("properties") or {}
        return to_epoch_ms(props.get(self.prop) or record.get("updatedAt"))

    @staticmethod
    def _filter(prop: str, op: str, value: Any) -> dict:
        return {"propertyName": prop, "operator": op, "value": str(value)}


def _id_number(value: str) -> int:
    """A HubSpot id (a numeric string) as a number, for progress checks."""
    try:
        return int(value)
    except ValueError:
        raise MalformedResponse(f"search: a record id that is not a number: {value[:40]!r}") \
            from None


_CAPPED = object()
