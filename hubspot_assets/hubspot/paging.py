"""How to walk HubSpot result sets without holding them: cursors, property
chunks that keep URLs short, and search windows that survive the 10,000 cap.

Nothing here does I/O; callers pass a `fetch` function that does one request.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote_plus

from hubspot_assets.timestamps import to_epoch_ms

from .errors import HubSpotError, MalformedResponse

logger = logging.getLogger(__name__)

# Room kept in every URL for the `after` cursor, which HubSpot may lengthen.
CURSOR_RESERVE = 256

# A page behind a cursor that still fails after the transport's retries gets
# this many more rounds of them, after a pause of CURSOR_RESUME_PAUSE seconds
# times the round: paging resumes from the cursor instead of starting over.
CURSOR_RESUME_ROUNDS = 2
CURSOR_RESUME_PAUSE = 1.0


def next_cursor(page: dict) -> str | None:
    """`paging.next.after`, or None on the last page."""
    paging = page.get("paging") if isinstance(page, dict) else None
    after = ((paging or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def results_of(page: Any, what: str, key: str | None = None) -> list:
    """The `results` list of a page, or a MalformedResponse naming the endpoint.

    With `key` (e.g. "id" for records and events), every result must be an
    object holding it: a record without an id could be neither stored nor
    told apart from another, so the whole page counts as malformed.
    """
    results = page.get("results") if isinstance(page, dict) else None
    if results is None:
        results = []
    if not isinstance(results, list):
        raise MalformedResponse(f"{what}: 'results' is not a list")
    if key is not None:
        for result in results:
            if not isinstance(result, dict) or result.get(key) in (None, ""):
                raise MalformedResponse(f"{what}: a result without {key!r}: {str(result)[:80]}")
    return results


def iter_pages(fetch: Callable[[str | None], dict], what: str) -> Iterator[dict]:
    """Follow `paging.next.after` from the first page to the last, lazily.

    A cursor HubSpot already gave once would loop forever: that is an error.
    """
    after: str | None = None
    seen: set[str] = set()
    while True:
        page = _fetch_resuming(fetch, after, what)
        yield page
        after = next_cursor(page)
        if after is None:
            return
        if after in seen:
            raise MalformedResponse(f"{what}: HubSpot returned cursor {after!r} twice")
        seen.add(after)
        if len(seen) > 10_000:  # keep the loop guard itself bounded
            seen.clear()


def _fetch_resuming(fetch: Callable[[str | None], dict], after: str | None, what: str) -> dict:
    """`fetch(after)`, resuming a failing cursor a few times before giving up on it."""
    for round_ in range(1, CURSOR_RESUME_ROUNDS + 2):
        try:
            return fetch(after)
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
                 properties: list[str], page_size: int = 200, cap: int = 10_000) -> None:
        self.fetch = fetch
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
            logger.info("search hit the %d-result cap; finishing %s=%d by hs_object_id",
                        self.cap, self.prop, boundary_ts)
            yield from self._tie_break(boundary_ts, boundary_ids, until_ms)
            lower, op = boundary_ts, "GT"

    def _tie_break(self, ts: int, already: set[str], until_ms: int | None) -> Iterator[dict]:
        last_id: str | None = None
        while True:
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
        while True:
            page = self.fetch({**body, "after": after} if after else body)
            results = results_of(page, "search", key="id")
            yield from results
            consumed += len(results)
            after = next_cursor(page)
            if after is None or not results:
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


_CAPPED = object()
