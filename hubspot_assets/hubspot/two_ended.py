"""Read one object type from both ends of its id range at once.

HubSpot's list endpoint is a cursor chain: page k+1 needs page k's opaque
cursor, so one type lists at one page per round trip (about six pages a
second at 150 ms) however large the rate budget is, and nothing can split the
chain. CRM search can: it filters and sorts on `hs_object_id` and draws on its
own per-second budget. So, once a listing proves long, a second chain reads
the type from the highest id down through search (`hs_object_id < bound`,
newest first, 200 per page) while the list chain climbs from the lowest id;
they stop where they meet. On a large type this roughly doubles the records
per second and uses the ten-second budget to the full; search pages hold 200
ids against the list's 100, so it also spends fewer calls.

Who takes which id is decided in one place, `Frontier`, so each id is
emitted by exactly one side. The list side relies on HubSpot listing in
ascending id order (as `HubSpotClient._chunked_merge` does) and checks it on
every page: on the first page out of order it stops relying on it, lists to
the end and the search side stops, which is still complete (see `Frontier`).
Search paging bounds the id, not an offset, so records created or deleted
during the read shift nothing and the 10,000-result cap never applies.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable, Iterator

from .concurrency import iter_concurrent, map_concurrent
from .errors import HubSpotError, MalformedResponse
from .paging import ListingLimits, iter_pages, results_of

logger = logging.getLogger(__name__)

ListPage = Callable[[str | None], dict]  # after-cursor -> list page, ascending ids
SearchPage = Callable[[int | None], dict]  # exclusive upper id bound -> page, descending ids
ReadPage = Callable[[list[dict]], list[dict]]  # a page's results -> full records


def record_id(record: dict) -> int:
    """A record's id as a number (HubSpot's are numeric strings)."""
    try:
        return int(record["id"])
    except (KeyError, TypeError, ValueError):
        raise MalformedResponse(f"record without a numeric id: {str(record)[:80]}") from None


class Frontier:
    """Hands each id to one side: the list side takes ids below the lowest id
    the search side has taken (`high`); the search side takes ids above the
    highest the list side has taken (`low`).

    Both sides claim whole pages in the order they read them, under one lock,
    so `low` only rises and `high` only falls. An id one side drops is one
    the other side has enumerated and will take (or took):
    - ordered listing: when a list page reaches `high` the search side has
      enumerated everything from `high` up; when a search page reaches `low`
      the list side has listed everything up to `low`. Either way both stop.
    - unordered listing: the list side lists to its end, taking every id
      below `high`; the search side stops, and an id it dropped (at most
      `low`) lies below the final `high`, so the list side takes it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.low: int | None = None
        self.high: int | None = None
        self.ordered = True
        self.met = False       # the sides have crossed: nothing left to read
        self.listed = False    # the list side reached the end of its listing
        self.taken = {"list": 0, "search": 0}

    @property
    def search_may_continue(self) -> bool:
        return self.ordered and not self.met and not self.listed

    def take_listed(self, page: list[dict]) -> list[dict]:
        """The records of a list page the list side keeps."""
        ids = [record_id(r) for r in page]
        with self._lock:
            if self.ordered and not _ascending(ids, self.low):
                self.ordered = False
                logger.warning("list page out of ascending id order: listing to the end "
                               "without the search side")
            kept = [(r, i) for r, i in zip(page, ids) if self.high is None or i < self.high]
            keep = [r for r, _ in kept]
            if kept:
                top = max(i for _, i in kept)
                self.low = top if self.low is None else max(self.low, top)
            if self.ordered and len(keep) < len(page):
                self.met = True
            self.taken["list"] += len(keep)
            return keep

    def take_searched(self, page: list[dict]) -> list[dict]:
        """The records of a search page the search side keeps (descending ids)."""
        ids = [record_id(r) for r in page]
        with self._lock:
            kept = [(r, i) for r, i in zip(page, ids) if self.low is None or i > self.low]
            keep = [r for r, _ in kept]
            if kept:
                bottom = min(i for _, i in kept)
                self.high = bottom if self.high is None else min(self.high, bottom)
            if len(keep) < len(page):
                self.met = True
            self.taken["search"] += len(keep)
            return keep

    def finish_listing(self) -> None:
        with self._lock:
            self.listed = True


def _ascending(ids: list[int], after: int | None) -> bool:
    previous = after
    for i in ids:
        if previous is not None and i <= previous:
            return False
        previous = i
    return True


@dataclass
class TwoEndedRead:
    """One type's live records, read by a list chain and a search chain at once.

    `read` turns up to `read_size` results into full records (a batch read by
    id), or is None when pages already carry every property. The search side
    starts only after `search_after_pages` list pages with more to come, so
    small types cost no search call.

    Each side reads `read_workers` slices at once: a batch read of 100 full
    records takes about two round trips' time (rendering and decoding a few
    MB), so with fewer workers the reads, not the budget, would pace a side.
    """

    what: str
    list_page: ListPage
    search_page: SearchPage
    read: ReadPage | None
    search_after_pages: int
    read_size: int = 100
    read_workers: int = 4
    limits: ListingLimits | None = None
    list_endpoint: str | None = None  # names the listing in errors (default: "list <what>")

    def __iter__(self) -> Iterator[dict]:
        self.frontier = Frontier()
        self._long_listing = threading.Event()
        # Records wait here only while the consumer is behind; every large type
        # of a stage reads at once, so this buffer is paid once per type.
        for _, record in iter_concurrent(self._side, ("list", "search"), max_workers=2,
                                         buffer=self.read_size):
            yield record
        taken = self.frontier.taken
        logger.info("%s: %d records from the list side, %d from the search side", self.what,
                    taken["list"], taken["search"])

    def _side(self, side: str) -> Iterator[dict]:
        pages = self._listed() if side == "list" else self._searched()
        if self.read is None:
            for page in pages:
                yield from page
            return
        slices = (page[i:i + self.read_size] for page in pages
                  for i in range(0, len(page), self.read_size))
        for records in map_concurrent(self.read, slices, max_workers=self.read_workers,
                                      lookahead=self.read_workers + 1):
            yield from records

    def _listed(self) -> Iterator[list[dict]]:
        frontier = self.frontier
        pages = iter_pages(self.list_page, self.list_endpoint or f"list {self.what}",
                           limits=self.limits)
        try:
            count = 0
            while not (frontier.met and frontier.ordered):
                page = next(pages, None)
                if page is None:
                    break
                count += 1
                keep = frontier.take_listed(results_of(page, "list objects", key="id"))
                if keep:
                    yield keep
                if count == self.search_after_pages and page.get("paging"):
                    self._long_listing.set()
        finally:
            frontier.finish_listing()
            self._long_listing.set()  # a short listing releases the search side to stop

    def _searched(self) -> Iterator[list[dict]]:
        frontier = self.frontier
        self._long_listing.wait()
        below: int | None = None
        while frontier.search_may_continue:
            try:
                page = self.search_page(below)
                results = results_of(page, "search objects", key="id")
                # Each page must lie wholly below the last one's lowest id: a page
                # that does not (a server ignoring the filter) would repeat ids
                # or never end. Stopping here loses nothing (see below).
                if below is not None and any(record_id(r) >= below for r in results):
                    raise MalformedResponse(f"search {self.what}: a page not below id {below}")
            except HubSpotError as exc:
                # Nothing is lost: every id the search side has not taken stays
                # below `high`, where the list side takes it.
                logger.warning("%s: search side stopped (%s); the listing reads the rest",
                               self.what, exc.problem)
                return
            if not results:
                return
            keep = frontier.take_searched(results)
            if keep:
                yield keep
            if len(keep) < len(results):
                return
            below = min(record_id(r) for r in results)
