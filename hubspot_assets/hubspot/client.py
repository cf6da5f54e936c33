"""`HubSpotClient`: one method per HubSpot endpoint the pipeline reads.

Records come back as HubSpot's JSON, unchanged. Iterators are lazy: they fetch
a page when the consumer needs it, so memory does not depend on result size.

Reading every property of a type (`iter_objects`): a list URL holds only so
many property names. With N records and the names needing C URL-sized chunks,
listing chunk by chunk costs C x N/100 calls (and a merge); listing pages
without properties and batch-reading each page's 100 ids with *all* names in
the JSON body costs 2 x N/100 whatever the number of properties. So: when the
names fit in one URL, list with them (N/100 calls); otherwise list + batch read
(2 x N/100), the batch read of page k overlapping the listing of page k+1.
A listing that proves long is read from both ends at once (`two_ended`): CRM
search takes the highest ids while the list chain climbs from the lowest.
Archived records: batch read never returns them (and where its `archived`
flag goes differs between HubSpot's spec and practice), so deleted records are
listed chunk by chunk and merged per id, in lockstep (few, ~90 days' worth).
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import quote

from hubspot_assets.timestamps import iso_z, to_epoch_ms

from . import catalog
from . import limiter as lanes
from .accounts import ACCOUNT_INFO_PATH, account_key_for
from .concurrency import iter_concurrent, map_concurrent
from .config import ClientConfig
from .errors import MalformedResponse
from .limiter import RequestLimiter
from .paging import (ListingGuard, ListingLimits, SearchWindows, check_association_page,
                     check_page, chunk_properties, iter_pages, next_cursor, results_of)
from .stats import ClientStats
from .transport import Transport
from .two_ended import TwoEndedRead, record_id

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

ID_PROPERTY = "hs_object_id"  # every type has it; asking for it alone keeps pages small

# Unpaged collections (schemas, properties, labels): `results` must still be a list.
_check_results = partial(check_page, key=None)


def _seg(value: str) -> str:
    """One URL path segment (object type names, ids)."""
    return quote(str(value), safe="")


def _bool(value: bool) -> str:
    return "true" if value else "false"


class HubSpotClient:
    """Rate-limited HubSpot reader for one source account.

    Budgets follow the token, not the source: every client, thread and process
    with the same token and limiter store shares its app's ten-second budget and
    its account's search and daily ones (`limiter`). `limiter_key` only names
    the source in messages (default: `config.source_label`).
    """

    def __init__(self, config: ClientConfig, limiter_key: str | None = None) -> None:
        self.config = config
        self.label = limiter_key or config.source_label or "default"
        self.app_key = lanes.app_key(config.token)
        self.stats = ClientStats()
        # The account is learned with the first request (`_bind_account`).
        self.limiter = RequestLimiter(
            config.budget, self.app_key, account_pending=True, backend=config.resolved_backend,
            directory=config.resolved_limiter_dir, redis_url=config.redis_url,
            max_wait=config.max_limiter_wait, request_deadline=config.request_deadline)
        self.transport = Transport(config, self.limiter, self.stats)
        self._account_lock = threading.Lock()
        self.limits = ListingLimits.of(config)

    # -- lifecycle ---------------------------------------------------------
    def close(self) -> None:
        self.transport.close()
        self.limiter.close()

    def __enter__(self) -> "HubSpotClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"HubSpotClient(base_url={self.config.base_url!r}, label={self.label!r}, "
                f"app_key={self.app_key!r})")

    # -- plumbing ----------------------------------------------------------
    def account_details(self) -> dict:
        """The token's account (`GET /account-info/v3/details`: `portalId`, `timeZone`, ...)."""
        return self.transport.request("GET", ACCOUNT_INFO_PATH,
                                      endpoint=f"GET {ACCOUNT_INFO_PATH}").data

    def _bind_account(self) -> None:
        """Key the search and daily budgets by the token's account, before the first request."""
        if self.limiter.account_key is None:
            with self._account_lock:
                if self.limiter.account_key is None:
                    self.limiter.bind_account(account_key_for(
                        self.app_key, self.account_details, self.config.account_id, self.label,
                        notes=self.limiter))

    # `check`: a page of the wrong shape is a malformed body, retried by the transport.
    def _get(self, path: str, endpoint: str, params: Any = None, lane: str = lanes.STANDARD,
             check: Callable[[Any], None] | None = None):
        self._bind_account()
        return self.transport.request("GET", path, endpoint=f"GET {endpoint}", params=params,
                                      lane=lane, check=check).data

    def _post(self, path: str, endpoint: str, body: Any, params: Any = None,
              lane: str = lanes.STANDARD, check: Callable[[Any], None] | None = None):
        self._bind_account()
        return self.transport.request("POST", path, endpoint=f"POST {endpoint}", params=params,
                                      json_body=body, lane=lane, check=check).data

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T],
                       max_workers: int | None = None) -> Iterator[R]:
        """`fn(item)` for every item, `max_in_flight` at a time, results in input order."""
        return map_concurrent(fn, items, max_workers=max_workers or self.config.max_in_flight)

    def iter_concurrent(self, fn: Callable[[T], Iterable[R]], items: Iterable[T],
                        max_workers: int | None = None,
                        buffer: int = 1000) -> Iterator[tuple[T, R]]:
        """Stream several iterators at once, e.g. one per object type: yields
        `(item, value)` as values arrive, with at most `buffer` waiting."""
        return iter_concurrent(fn, items, max_workers=max_workers or self.config.max_in_flight,
                               buffer=buffer)

    # -- schemas and properties -------------------------------------------
    def list_schemas(self) -> list[dict]:
        """Custom object schemas (`GET /crm/v3/schemas`; no paging)."""
        page = self._get("/crm/v3/schemas", "/crm/v3/schemas", check=_check_results)
        return results_of(page, "GET /crm/v3/schemas")

    def list_properties(self, object_type: str, archived: bool = False) -> list[dict]:
        """Property definitions of a type (`GET /crm/v3/properties/{objectType}`)."""
        page = self._get(f"/crm/v3/properties/{_seg(object_type)}",
                         "/crm/v3/properties/{objectType}",
                         params={"archived": _bool(archived)} if archived else None,
                         check=_check_results)
        return results_of(page, "GET /crm/v3/properties")

    def property_names(self, object_type: str) -> list[str]:
        return [p["name"] for p in self.list_properties(object_type) if p.get("name")]

    # -- objects -----------------------------------------------------------
    def iter_objects(self, object_type: str, properties: list[str] | None = None,
                     archived: bool = False) -> Iterator[dict]:
        """Every record of a type with every named property (all when None), lazily."""
        names = list(properties) if properties is not None else self.property_names(object_type)
        path = f"/crm/v3/objects/{_seg(object_type)}"
        probe = (f"{self.config.base_url}{path}?limit={self.config.page_size}"
                 f"&archived={_bool(archived)}&after=")
        chunks = chunk_properties(names, probe, self.config.max_url_length)
        if archived:
            records = (self._list_records(object_type, chunks[0], archived) if len(chunks) == 1
                       else self._chunked_merge(object_type, chunks, archived))
        else:
            records = iter(self._live_records(object_type, names, len(chunks) == 1))
        return self._count(records, f"{'archived' if archived else 'objects'}:{object_type}")

    def iter_object_ids(self, object_type: str, archived: bool = False) -> Iterator[str]:
        """Every id of a type's live (or archived) records, ascending, lazily.

        The cheapest complete id read HubSpot offers: the list endpoint with
        `properties=hs_object_id` at its maximum `limit` (100), one call per 100
        ids, on the standard budget. (CRM search pages hold 200 but see neither
        archived records nor, for a moment, new ones: its index lags behind
        writes, so a missing id there proves nothing.)
        """
        for page in self._list_pages(object_type, [ID_PROPERTY], archived):
            for record in results_of(page, "list object ids", key="id"):
                self.stats.count_records(f"ids:{object_type}")
                yield str(record["id"])

    def _count(self, records: Iterator[dict], kind: str) -> Iterator[dict]:
        for record in records:
            self.stats.count_records(kind)
            yield record

    def _list_fetcher(self, object_type: str, names: list[str] | None,
                      archived: bool) -> Callable[[str | None], dict]:
        """One list page of a type, by cursor (`names` None: default properties)."""
        path = f"/crm/v3/objects/{_seg(object_type)}"

        def fetch(after: str | None) -> dict:
            params: dict[str, Any] = {"limit": self.config.page_size, "archived": _bool(archived)}
            if names:
                params["properties"] = ",".join(names)
            if after:
                params["after"] = after
            return self._get(path, "/crm/v3/objects/{objectType}", params=params,
                             check=check_page)

        return fetch

    def _list_pages(self, object_type: str, names: list[str] | None,
                    archived: bool) -> Iterator[dict]:
        return iter_pages(self._list_fetcher(object_type, names, archived),
                          f"GET /crm/v3/objects/{_seg(object_type)}", limits=self.limits)

    def _list_records(self, object_type: str, names: list[str], archived: bool) -> Iterator[dict]:
        for page in self._list_pages(object_type, names, archived):
            yield from results_of(page, "list objects", key="id")

    def _live_records(self, object_type: str, names: list[str],
                      names_fit_url: bool) -> TwoEndedRead:
        """Live records: listed from the lowest id and, once the listing proves
        long, searched from the highest id at the same time (`two_ended`).

        When the names fit in one URL every page carries them; otherwise pages
        carry ids only and each is batch-read with every name in the body, the
        read of page k overlapping the fetch of page k+1.
        """
        search_path = f"/crm/v3/objects/{_seg(object_type)}/search"
        page_names = names if names_fit_url else None

        def search_page(below: int | None) -> dict:
            body: dict[str, Any] = {
                "filterGroups": ([{"filters": [{"propertyName": "hs_object_id", "operator": "LT",
                                                "value": str(below)}]}] if below else []),
                "sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}],
                "properties": page_names or ["hs_object_id"],
                "limit": self.config.search_page_size,
            }
            return self._post(search_path, "/crm/v3/objects/{objectType}/search", body,
                              lane=lanes.SEARCH, check=check_page)

        def read_page(results: list[dict]) -> list[dict]:
            ids = [str(r["id"]) for r in results]
            found = {str(r["id"]): r for r in self._batch_read_once(object_type, ids, names)}
            missing = [i for i in ids if i not in found]
            if missing:
                # Deleted between the listing and the read: the archived listing
                # (or the next sync) has it; never emit a record with partial data.
                logger.warning("%d %s record(s) vanished between list and batch read: %s",
                               len(missing), object_type, missing[:5])
                self.stats.count_records(f"vanished:{object_type}", len(missing))
            return [found[i] for i in ids if i in found]

        return TwoEndedRead(object_type, self._list_fetcher(object_type, page_names, False),
                            search_page,
                            None if names_fit_url else read_page,
                            search_after_pages=self.config.two_ended_after_pages,
                            read_size=self.config.batch_read_size, limits=self.limits,
                            list_endpoint=f"GET /crm/v3/objects/{_seg(object_type)}")

    def _chunked_merge(self, object_type: str, chunks: list[list[str]],
                       archived: bool) -> Iterator[dict]:
        """List each property chunk and merge per record id, in lockstep.

        HubSpot lists in ascending id order, so the other chunks' pages are read
        only as far as the lead page's highest id: memory stays at a few pages.
        """
        lead = self._list_pages(object_type, chunks[0], archived)
        others = [self._list_pages(object_type, c, archived) for c in chunks[1:]]
        pending: list[dict[str, dict]] = [{} for _ in others]
        high: list[int] = [-1 for _ in others]
        done = [False for _ in others]
        for page in lead:
            records = results_of(page, "list objects", key="id")
            if not records:
                continue
            top = max(record_id(r) for r in records)
            for i, pager in enumerate(others):
                while not done[i] and high[i] < top:
                    try:
                        extra = results_of(next(pager), "list objects", key="id")
                    except StopIteration:
                        done[i] = True
                        break
                    for r in extra:
                        pending[i][str(r["id"])] = r
                        high[i] = max(high[i], record_id(r))
            for record in records:
                rid = str(record["id"])
                for i in range(len(others)):
                    other = pending[i].pop(rid, None)
                    if other is None:
                        logger.warning("%s %s missing from property chunk %d; emitted "
                                       "without those properties", object_type, rid, i + 1)
                        continue
                    record.setdefault("properties", {}).update(other.get("properties") or {})
                yield record

    def batch_read(self, object_type: str, ids: Iterable[str],
                   properties: list[str] | None = None) -> list[dict]:
        """Live records by id (`POST .../batch/read`, 100 ids per call); unknown or
        archived ids are skipped."""
        names = list(properties) if properties is not None else self.property_names(object_type)
        out: list[dict] = []
        batch: list[str] = []
        for raw_id in ids:
            batch.append(str(raw_id))
            if len(batch) == self.config.batch_read_size:
                out += self._batch_read_once(object_type, batch, names)
                batch = []
        if batch:
            out += self._batch_read_once(object_type, batch, names)
        return out

    def _batch_read_once(self, object_type: str, ids: list[str], names: list[str]) -> list[dict]:
        if not ids:
            return []
        body = {"inputs": [{"id": i} for i in ids], "properties": names}
        page = self._post(f"/crm/v3/objects/{_seg(object_type)}/batch/read",
                          "/crm/v3/objects/{objectType}/batch/read", body, check=check_page)
        return results_of(page, "batch read", key="id")

    def count_objects(self, object_type: str) -> int | None:
        """HubSpot's count of a type's live records: one CRM search call (`limit: 1`).

        The search response (`CollectionResponseWithTotalSimplePublicObjectForwardPaging`
        in HubSpot's OpenAPI files) carries `total`, the number of matches; with no
        filter that is every live record. Costs one call of the search lane.
        """
        body = {"limit": 1, "properties": ["hs_object_id"]}
        page = self._post(f"/crm/v3/objects/{_seg(object_type)}/search",
                          "/crm/v3/objects/{objectType}/search", body, lane=lanes.SEARCH)
        total = page.get("total") if isinstance(page, dict) else None
        return total if isinstance(total, int) and total >= 0 else None

    def search_modified(self, object_type: str, since: Any, until: Any = None,
                        properties: list[str] | None = None,
                        modified_property: str | None = None) -> Iterator[dict]:
        """Records modified in [since, until) via CRM search, each once, lazily.

        `since`/`until`: datetime, epoch ms or ISO string (`since=None`: from the
        beginning). Safe past the 10,000-result cap and with more than 10,000
        records on one timestamp (see `paging.SearchWindows`).
        """
        prop = modified_property or catalog.modified_property(object_type)
        names = list(properties) if properties is not None else self.property_names(object_type)
        for required in (prop, "hs_object_id"):
            if required not in names:
                names.append(required)
        path = f"/crm/v3/objects/{_seg(object_type)}/search"

        def fetch(body: dict) -> dict:
            return self._post(path, "/crm/v3/objects/{objectType}/search", body,
                              lane=lanes.SEARCH, check=check_page)

        windows = SearchWindows(fetch, modified_property=prop, properties=names,
                                page_size=self.config.search_page_size,
                                cap=self.config.search_result_cap, limits=self.limits,
                                what=f"POST {path}")
        return self._count(windows.iter(to_epoch_ms(since), to_epoch_ms(until)),
                           f"search:{object_type}")

    # -- events ------------------------------------------------------------
    def list_event_types(self) -> list[str]:
        """Event type names (`GET /events/v3/events/event-types`; Enterprise only)."""
        page = self._get("/events/v3/events/event-types", "/events/v3/events/event-types")
        types = page.get("eventTypes") if isinstance(page, dict) else None
        if not isinstance(types, list):
            raise MalformedResponse("event types: 'eventTypes' missing")
        return [str(t) for t in types]

    def iter_events(self, event_type: str | None, occurred_after: Any = None,
                    occurred_before: Any = None, object_type: str | None = None,
                    object_id: str | None = None) -> Iterator[dict]:
        """Every event of one type (optionally within a time range), lazily.

        With ``object_type`` and ``object_id``: the events of that one record
        (of every type when ``event_type`` is None).
        """
        base: dict[str, Any] = {"limit": self.config.events_page_size}
        if event_type:
            base["eventType"] = event_type
        if object_type:
            base["objectType"] = object_type
        if object_id is not None:
            base["objectId"] = str(object_id)
        label = event_type or f"{object_type} {object_id}"
        for key, value in (("occurredAfter", occurred_after), ("occurredBefore", occurred_before)):
            if value is not None:
                base[key] = iso_z(value)

        def fetch(after: str | None) -> dict:
            params = {**base, "after": after} if after else base
            return self._get("/events/v3/events", "/events/v3/events", params=params,
                             check=check_page)

        def records() -> Iterator[dict]:
            for page in iter_pages(fetch, f"GET /events/v3/events ({label})",
                                   limits=self.limits):
                yield from results_of(page, "events", key="id")

        return self._count(records(), f"events:{event_type or object_type}")

    # -- associations ------------------------------------------------------
    def iter_associations(self, from_type: str, to_type: str,
                          ids: Iterable[str]) -> Iterator[tuple[str, dict]]:
        """`(from_id, to_entry)` for every association of every id, all pages.

        Up to 1,000 inputs per request; an id whose associations span pages is
        sent again with its `after` cursor (ahead of new ids) until exhausted.
        Ids without associations (207 NO_ASSOCIATIONS_FOUND) yield nothing.
        """
        path = f"/crm/v4/associations/{_seg(from_type)}/{_seg(to_type)}/batch/read"
        endpoint = "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read"
        size = self.config.association_batch_size
        source = iter(ids)
        follow_ups: list[dict] = []
        # One guard per id being paged: its cursors must not repeat nor stall.
        guards: dict[str, ListingGuard] = {}
        exhausted = False
        while True:
            inputs = follow_ups[:size]
            follow_ups = follow_ups[size:]
            while len(inputs) < size and not exhausted:
                nxt = next(source, None)
                if nxt is None:
                    exhausted = True
                else:
                    inputs.append({"id": str(nxt)})
            if not inputs:
                return
            page = self._post(path, endpoint, {"inputs": inputs}, lane=lanes.ASSOCIATIONS,
                              check=check_association_page)
            paged = {i["id"] for i in inputs if "after" in i}
            for result in results_of(page, "association batch read"):
                from_id = str(result["from"]["id"])
                for entry in result["to"]:
                    self.stats.count_records(f"associations:{from_type}->{to_type}")
                    yield from_id, entry
                after = next_cursor(result, endpoint)
                if after or from_id in guards:
                    guard = guards.setdefault(from_id, ListingGuard(
                        f"POST {path} (from id {from_id})", self.limits))
                    guard.page((str(e["toObjectId"]) for e in result["to"]), after)
                if after:
                    follow_ups.append({"id": from_id, "after": after})
                else:
                    guards.pop(from_id, None)
                paged.discard(from_id)
            self._note_batch_errors(page, f"{from_type}->{to_type}")
            # An id sent with its cursor must come back: dropping it would end
            # its associations short without a word.
            if paged - _error_ids(page):
                raise MalformedResponse(
                    f"association batch read {from_type}->{to_type}: no result for id(s) "
                    f"{sorted(paged)[:5]} sent with a cursor", endpoint=endpoint)

    def _note_batch_errors(self, page: dict, what: str) -> None:
        for error in (page.get("errors") or []) if isinstance(page, dict) else []:
            sub = str(error.get("subCategory") or "")
            if sub.endswith("NO_ASSOCIATIONS_FOUND"):
                continue  # normal: the id simply has no associations of this type
            logger.warning("association batch %s: %s %s (%s)", what, error.get("category"),
                           error.get("message"), sub)
            self.stats.record_error(f"batch:{error.get('category')}")

    def association_labels(self, from_type: str, to_type: str) -> list[dict]:
        """Association types/labels between two object types (v4 labels endpoint)."""
        page = self._get(f"/crm/v4/associations/{_seg(from_type)}/{_seg(to_type)}/labels",
                         "/crm/v4/associations/{fromObjectType}/{toObjectType}/labels",
                         check=_check_results)
        return results_of(page, "association labels")


def _error_ids(page: Any) -> set[str]:
    """Ids named by a batch response's errors (`context.fromObjectId`), e.g. ids
    HubSpot reports with NO_ASSOCIATIONS_FOUND."""
    found: set[str] = set()
    for error in (page.get("errors") or []) if isinstance(page, dict) else []:
        context = error.get("context") if isinstance(error, dict) else None
        if isinstance(context, dict):
            found.update(str(v) for v in context.get("fromObjectId") or [])
    return found
