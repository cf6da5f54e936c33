"""HubSpot's endpoints over an Account: request in, (status, JSON body) out.

No HTTP here: the server parses the request, checks auth/limits/faults and
calls these functions under the account's lock. Errors are raised as
`ApiError` carrying HubSpot's error body.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from .account import Account
from .catalog import EVENTS_SCOPE, SCHEMAS_SCOPE, STANDARD_OBJECT_TYPES, object_scope
from .data import ObjectType, RecordStore
from .encoding import decode_cursor, encode_cursor, iso_ms, parse_time

LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 10, 100
SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 10, 200
SEARCH_RESULT_CAP = 10_000
BATCH_READ_MAX = 100
ASSOCIATION_BATCH_MAX = 1_000
EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX = 100, 1_000
MAX_FILTER_GROUPS, MAX_FILTERS_PER_GROUP = 5, 6
SCHEMA_TIMESTAMP = "2023-06-01T09:30:00.000Z"
LASTMOD_PROPERTIES = ("hs_lastmodifieddate", "lastmodifieddate")


class RawJson(str):
    """A response body that is already JSON text."""


class ApiError(Exception):
    def __init__(self, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("message"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(message: str, category: str, **extra) -> dict:
    """HubSpot's standard error body."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def bad_request(message: str, **extra) -> ApiError:
    return ApiError(400, error_body(message, "VALIDATION_ERROR", **extra))


def missing_scope(scope: str) -> ApiError:
    return ApiError(403, error_body(
        "This app hasn't been granted all required scopes to make this call. "
        "Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[{"message": "One or more of the following scopes are required.",
                 "context": {"requiredGranularScopes": [scope]}}],
        links={"scopes": "https://developers.hubspot.com/scopes"}))


@dataclass
class Request:
    account: Account
    params: dict[str, list[str]]  # query string, every value a list
    body: dict | None
    association_page_size: int
    base_url: str = "https://api.hubapi.com"  # scheme://host the client called
    path: str = ""  # the request's path, for paging links

    def one(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else default

    def many(self, name: str) -> list[str] | None:
        """Repeated and/or comma-joined values; None when absent."""
        values = self.params.get(name)
        if values is None:
            return None
        return [v for value in values for v in value.split(",") if v]

    def int_param(self, name: str, default: int) -> int:
        raw = self.one(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad_request(f"Invalid value for {name}: {raw!r}") from None


def _bool(raw, default: bool = False) -> bool:
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() == "true"


# HubSpot accepts a standard type's singular name in every object path too
# (`contact`, `company`, `line_item`, ...), besides the plural name, the
# objectTypeId and, for custom objects, the fullyQualifiedName: the objects
# reference (HubSpot-public-api-spec-collection
# PublicApiSpecs/CRM/Objects/Rollouts/424/v3/objects.json) takes `objectType`
# as a free string, and clients such as released connectors call the singular.
def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") else name


SINGULAR_NAMES = {_singular(name): name for name in STANDARD_OBJECT_TYPES}


def resolve_type(account: Account, object_type: str) -> ObjectType | None:
    """An object type by any name HubSpot accepts in a path, or None."""
    otype = account.resolve(object_type)
    if otype is None and object_type.lower() in SINGULAR_NAMES:
        otype = account.resolve(SINGULAR_NAMES[object_type.lower()])
    return otype


def _type(req: Request, object_type: str, check_scope: bool = True) -> tuple[ObjectType, RecordStore]:
    otype = resolve_type(req.account, object_type)
    if otype is None:
        raise bad_request(f"Unable to infer object type from: {object_type}")
    if check_scope and req.account.is_denied(otype):
        raise missing_scope(object_scope(otype.name, otype.custom))
    return otype, req.account.stores[otype.fully_qualified_name]


def _link(req: Request, after: str, path: str | None = None, keep_query: bool = True) -> str:
    """The absolute URL of the next page: HubSpot sends `paging.next.link` as
    the request's own URL (query kept) with the new `after`, so a client can
    follow it as is (`NextPage.link`, a string, in objects.json above)."""
    query = [(k, v) for k, values in req.params.items() if k != "after" for v in values] \
        if keep_query else []
    query.append(("after", after))
    return f"{req.base_url}{path if path is not None else req.path}?{urlencode(query)}"


def _next(req: Request, after: str) -> dict:
    return {"next": {"after": after, "link": _link(req, after)}}


# -- schemas and properties -------------------------------------------------------------
def _schema_json(account: Account, otype: ObjectType) -> dict:
    associations = []
    for (child, parent), pair in account.pairs.items():
        if child == otype.fully_qualified_name:
            associations.append({
                "id": str(pair.pdef.forward_type_id), "name": f"{otype.name}_to_{pair.parent.type.name}",
                "fromObjectTypeId": otype.object_type_id,
                "toObjectTypeId": pair.parent.type.object_type_id,
                "createdAt": SCHEMA_TIMESTAMP, "updatedAt": SCHEMA_TIMESTAMP})
    singular = otype.name.rstrip("s").capitalize()
    return {
        "id": otype.object_type_id.split("-", 1)[1],
        "objectTypeId": otype.object_type_id,
        "name": otype.name,
        "fullyQualifiedName": otype.fully_qualified_name,
        "labels": {"singular": singular, "plural": otype.name.capitalize()},
        "primaryDisplayProperty": "name",
        "requiredProperties": ["name"],
        "searchableProperties": ["name", "external_reference"],
        "secondaryDisplayProperties": ["status"],
        "archived": False,
        "createdAt": SCHEMA_TIMESTAMP,
        "updatedAt": SCHEMA_TIMESTAMP,
        "metaType": "PORTAL_SPECIFIC",
        "portalId": account.portal_id,
        "properties": [p.to_json(SCHEMA_TIMESTAMP) for p in otype.properties],
        "associations": associations,
    }


def list_schemas(req: Request) -> tuple[int, dict]:
    if "schemas" in req.account.spec.denied_types:
        raise missing_scope(SCHEMAS_SCOPE)
    return 200, {"results": [_schema_json(req.account, t) for t in req.account.custom_types()]}


def get_schema(req: Request, object_type: str) -> tuple[int, dict]:
    if "schemas" in req.account.spec.denied_types:
        raise missing_scope(SCHEMAS_SCOPE)
    otype = req.account.resolve(object_type)
    if otype is None or not otype.custom:
        raise ApiError(404, error_body(f"Unable to find object type {object_type}", "OBJECT_NOT_FOUND"))
    return 200, _schema_json(req.account, otype)


def list_properties(req: Request, object_type: str) -> tuple[int, dict]:
    otype, _ = _type(req, object_type)
    return 200, {"results": [p.to_json(SCHEMA_TIMESTAMP) for p in otype.properties]}


# -- account ---------------------------------------------------------------------------------
def account_details(req: Request) -> tuple[int, dict]:
    """`GET /account-info/v3/details`: the account the bearer token selects, in
    HubSpot's shape (every field its spec marks required)."""
    if "account-info" in req.account.spec.denied_types:  # e.g. a token scoped down
        raise missing_scope("oauth")
    return 200, {
        "portalId": req.account.portal_id,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "utcOffset": "-05:00",
        "utcOffsetMilliseconds": -18_000_000,
        "uiDomain": "app.hubspot.com",
        "dataHostingLocation": "na1",
    }


# -- objects ---------------------------------------------------------------------------------
def _always_properties(otype: ObjectType) -> tuple[str, ...]:
    """Properties HubSpot returns whatever `properties` names: the object's id,
    create and last-modified dates (contacts keep their legacy
    `lastmodifieddate`; custom objects use `hs_createdate`)."""
    if otype.custom:
        return ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
    if otype.name == "contacts":
        return ("createdate", "lastmodifieddate", "hs_object_id")
    return ("createdate", "hs_lastmodifieddate", "hs_object_id")


def _plan(store: RecordStore, names) -> tuple:
    """The rendering plan of the requested properties plus the ones always sent;
    no names (or an empty list) means the type's defaults, as at HubSpot."""
    if not names:
        return store.plan(None)
    names = list(names)
    given = set(names)
    return store.plan(names + [n for n in _always_properties(store.type) if n not in given])


def _association_type_name(pair, forward: bool, spec: dict) -> str:
    """v3's `type` string of one association type (v3 names, not v4 typeIds):
    `contact_to_company` for the primary one, `..._unlabeled` for the plain
    one, the label for a user-defined one (v3's AssociatedId gives `type` as a
    free string; these are the names HubSpot answers with)."""
    a, b = (pair.child.type, pair.parent.type) if forward else (pair.parent.type, pair.child.type)
    base = f"{_singular(a.name)}_to_{_singular(b.name)}"
    if spec["category"] == "USER_DEFINED" and spec.get("label"):
        return str(spec["label"]).lower().replace(" ", "_")
    return base if spec.get("label") else f"{base}_unlabeled"


def _associated_ids(req: Request, otype: ObjectType, i: int, to_name: str, offset: int,
                    size: int) -> tuple[list[dict], bool] | None:
    """v3 AssociatedId entries (`{id, type}`, one per association type) of record i
    to a type, and whether more records follow; None when the types cannot be
    associated (HubSpot then ignores the name)."""
    to = resolve_type(req.account, to_name)
    if to is None or req.account.is_denied(to):
        return None
    pair, forward = req.account.pair(otype.fully_qualified_name, to.fully_qualified_name)
    if pair is None:
        return None
    entries, more = _to_entries(pair, forward, i, offset, size)
    out = []
    for entry in entries:
        for spec in entry["associationTypes"]:
            out.append({"id": str(entry["toObjectId"]),
                        "type": _association_type_name(pair, forward, spec)})
    return out, more


def _inline_associations(req: Request, otype: ObjectType, store: RecordStore, i: int,
                         names: list[str]) -> dict:
    """`associations=` on a read or list: each record's associations per type,
    paged like `GET /crm/v3/objects/{type}/{id}/associations/{toType}` (whose
    cursor the inline `paging.next` carries). `SimplePublicObjectWithAssociations
    .associations` in objects.json; types without any association are left out."""
    out = {}
    for name in names:
        found = _associated_ids(req, otype, i, name, 0, req.association_page_size)
        if not found or not found[0]:
            continue
        results, more = found
        key = resolve_type(req.account, name)
        collection: dict = {"results": results}
        if more:
            after = encode_cursor("a", req.association_page_size)
            type_name = otype.object_type_id if otype.custom else otype.name
            path = (f"/crm/v3/objects/{quote(type_name)}/{store.record_id(i)}"
                    f"/associations/{quote(name)}")
            collection["paging"] = {"next": {"after": after,
                                             "link": _link(req, after, path, keep_query=False)}}
        out[key.name if not key.custom else name] = collection
    return out


def _with_associations(req: Request, otype: ObjectType, store: RecordStore, i: int, plan,
                       names: list[str]) -> dict:
    record = store.render(i, plan)
    associations = _inline_associations(req, otype, store, i, names)
    if associations:
        record["associations"] = associations
    return record


def list_objects(req: Request, object_type: str) -> tuple[int, dict]:
    otype, store = _type(req, object_type)
    limit = min(max(req.int_param("limit", LIST_LIMIT_DEFAULT), 1), LIST_LIMIT_MAX)
    archived = _bool(req.one("archived"))
    after = req.one("after")
    start = 0
    if after:
        start = decode_cursor("o", after)
        if start is None:
            raise bad_request(f"Invalid after cursor: {after}")
    plan = _plan(store, req.many("properties"))
    associations = req.many("associations")
    source = store.iter_archived(start) if archived else store.iter_live(start)
    indices = list(itertools.islice(source, limit + 1))
    if associations:
        records = ",".join(json.dumps(_with_associations(req, otype, store, i, plan, associations),
                                      ensure_ascii=False) for i in indices[:limit])
    else:
        # The hot path of a full sync: records arrive pre-serialised (see render_json).
        records = ",".join(store.render_json(i, plan) for i in indices[:limit])
    paging = ""
    if len(indices) > limit:
        paging = ',"paging":' + json.dumps(_next(req, encode_cursor("o", indices[limit])))
    return 200, RawJson(f'{{"results":[{records}]{paging}}}')


def get_object(req: Request, object_type: str, object_id: str) -> tuple[int, dict]:
    otype, store = _type(req, object_type)
    i = store.index_of(object_id)
    archived = _bool(req.one("archived"))
    if i is None or store.is_archived(i) != archived:
        raise ApiError(404, error_body("Object not found.", "OBJECT_NOT_FOUND"))
    plan = _plan(store, req.many("properties"))
    return 200, _with_associations(req, otype, store, i, plan, req.many("associations") or [])


def _batch_inputs(body: dict, maximum: int) -> list:
    """The `inputs` of a batch request, rejected as HubSpot does when missing or too many."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise bad_request("Invalid input JSON: inputs is required")
    if len(inputs) > maximum:
        raise bad_request(f"Batch input size {len(inputs)} exceeds maximum of {maximum}",
                          context={"maxInputs": [str(maximum)]})
    return inputs


def batch_read(req: Request, object_type: str) -> tuple[int, dict]:
    otype, store = _type(req, object_type)
    body = req.body or {}
    inputs = _batch_inputs(body, BATCH_READ_MAX)
    # `archived` is a query parameter of batch read (objects.json above,
    # `/crm/v3/objects/{objectType}/batch/read`), not a body field.
    archived = _bool(req.one("archived"))
    plan = _plan(store, body.get("properties"))
    started = iso_ms(_now_ms())
    results, missing, seen = [], [], set()
    for item in inputs:
        rid = str(item.get("id")) if isinstance(item, dict) else str(item)
        if rid in seen:
            continue
        seen.add(rid)
        i = store.index_of(rid)
        if i is None or store.is_archived(i) != archived:
            missing.append(rid)
        else:
            results.append(store.render(i, plan))
    out = {"status": "COMPLETE", "results": results, "startedAt": started,
           "completedAt": iso_ms(_now_ms())}
    if not missing:
        return 200, out
    out["numErrors"] = 1
    out["errors"] = [{
        "status": "error", "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {otype.singular_upper} objects, they may be deleted "
                   "or not exist. Check that ids are valid.",
        "context": {"ids": missing}, "errors": [], "links": {}}]
    return 207, out


def _filter_bounds(f: dict) -> tuple[str, int | None, int | None, list[int] | None]:
    """(field, lo, hi, in-values) of one supported filter; raises 400 otherwise."""
    prop = f.get("propertyName")
    op = str(f.get("operator", "")).upper()
    if prop in LASTMOD_PROPERTIES:
        field, parse = "lastmod", parse_time
    elif prop == "hs_object_id":
        field = "id"

        def parse(v):
            try:
                return int(str(v))
            except (TypeError, ValueError):
                return None
    else:
        raise bad_request(f"The sandbox supports search filters on hs_lastmodifieddate, "
                          f"lastmodifieddate and hs_object_id, not {prop!r}")
    if op == "HAS_PROPERTY":
        return field, None, None, None
    if op == "IN" and field == "id":
        values = [parse(v) for v in f.get("values") or []]
        if not values or None in values:
            raise bad_request("IN needs a list of numeric values")
        return field, None, None, values
    value = parse(f.get("value"))
    if value is None:
        raise bad_request(f"Invalid value {f.get('value')!r} for {prop}")
    if op == "EQ":
        return field, value, value, None
    if op == "GT":
        return field, value + 1, None, None
    if op == "GTE":
        return field, value, None, None
    if op == "LT":
        return field, None, value - 1, None
    if op == "LTE":
        return field, None, value, None
    if op == "BETWEEN":
        high = parse(f.get("highValue"))
        if high is None:
            raise bad_request(f"BETWEEN on {prop} needs highValue")
        return field, value, high, None
    raise bad_request(f"Unsupported operator {op!r} on {prop}")


def _groups(filter_groups) -> list[tuple]:
    """Search filterGroups -> (lm_lo, lm_hi, id_lo, id_hi) groups (OR of ANDs)."""
    if not filter_groups:
        return [(None, None, None, None)]
    if len(filter_groups) > MAX_FILTER_GROUPS:
        raise bad_request(f"Too many filter groups ({len(filter_groups)}); the maximum is "
                          f"{MAX_FILTER_GROUPS}")
    out = []
    for group in filter_groups:
        filters = group.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise bad_request(f"Too many filters in a group; the maximum is {MAX_FILTERS_PER_GROUP}")
        bounds = {"lastmod": [None, None], "id": [None, None]}
        in_values = None
        for f in filters:
            field, lo, hi, values = _filter_bounds(f)
            if values is not None:
                in_values = values if in_values is None else [v for v in in_values if v in values]
            cur = bounds[field]
            if lo is not None:
                cur[0] = lo if cur[0] is None else max(cur[0], lo)
            if hi is not None:
                cur[1] = hi if cur[1] is None else min(cur[1], hi)
        base = (*bounds["lastmod"], *bounds["id"])
        if in_values is None:
            out.append(base)
        else:  # IN on ids: one group per value, within the other bounds
            for v in in_values:
                lo = v if base[2] is None else max(v, base[2])
                hi = v if base[3] is None else min(v, base[3])
                if lo <= hi:
                    out.append((base[0], base[1], lo, hi))
    return out or [(0, -1, None, None)]


def _sort(sorts) -> tuple[bool, bool]:
    """(by_lastmod, descending) from HubSpot's sorts (strings or objects)."""
    if not sorts:
        return False, False
    first = sorts[0]
    if isinstance(first, str):
        descending = first.startswith("-")
        prop = first.lstrip("-")
    elif isinstance(first, dict):
        prop = first.get("propertyName")
        descending = str(first.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        raise bad_request("Invalid sorts")
    if prop in LASTMOD_PROPERTIES:
        return True, descending
    if prop == "hs_object_id":
        return False, descending
    raise bad_request(f"The sandbox sorts search results on hs_lastmodifieddate or hs_object_id, "
                      f"not {prop!r}")


def search(req: Request, object_type: str) -> tuple[int, dict]:
    _, store = _type(req, object_type)
    body = req.body or {}
    limit = body.get("limit", SEARCH_LIMIT_DEFAULT)
    try:
        limit = int(limit)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise bad_request("limit and after must be integers") from None
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise bad_request(f"limit must be between 1 and {SEARCH_LIMIT_MAX}")
    if offset >= SEARCH_RESULT_CAP:
        # HubSpot refuses to page past 10,000 results of one query.
        raise bad_request(f"Search results are limited to {SEARCH_RESULT_CAP} per query; "
                          f"after={offset} is past that",
                          context={"after": [str(offset)]})
    groups = _groups(body.get("filterGroups"))
    by_lastmod, descending = _sort(body.get("sorts"))
    page_limit = min(limit, SEARCH_RESULT_CAP - offset)
    lag = req.account.spec.search_lag_seconds
    indexed_until = _now_ms() - int(lag * 1000) if lag > 0 else None
    total, indices = store.search(groups, by_lastmod, descending, offset, page_limit,
                                  indexed_until)
    plan = _plan(store, body.get("properties"))
    records = ",".join(store.render_json(i, plan) for i in indices)
    paging = ""
    if offset + len(indices) < total:
        paging = f',"paging":{{"next":{{"after":"{offset + len(indices)}"}}}}'
    return 200, RawJson(f'{{"total":{total},"results":[{records}]{paging}}}')


# -- events -----------------------------------------------------------------------------------
def event_types(req: Request) -> tuple[int, dict]:
    if "events" in req.account.spec.denied_types:
        raise missing_scope(EVENTS_SCOPE)
    return 200, {"eventTypes": list(req.account.events)}


# Position = stream number, then the event's (occurredAt, index) key: a cursor names the
# next event to return, so events sent late in between shift nothing.
_STREAM, _MS = 10**23, 10**9


def _events_descending(sort: list[str] | None) -> bool:
    """The events' order from `sort`: the events reference
    (PublicApiSpecs/Events/Events/Rollouts/147897/v3/events.json) takes
    `ASCENDING` or `DESCENDING`, by occurredAt; `occurredAt`/`-occurredAt` are
    accepted too. Without `sort`: newest first (the spec states no default;
    HubSpot's answers come newest first)."""
    if not sort:
        return True
    first = sort[0].strip()
    return first.startswith("-") or "DESC" in first.upper()


def list_events(req: Request) -> tuple[int, dict]:
    if "events" in req.account.spec.denied_types:
        raise missing_scope(EVENTS_SCOPE)
    limit = min(max(req.int_param("limit", EVENTS_LIMIT_DEFAULT), 1), EVENTS_LIMIT_MAX)
    object_type = req.one("objectType")
    object_id = req.one("objectId")
    if req.account.spec.events_need_object and not object_id:
        raise events_need_object()
    after_ms = parse_time(req.one("occurredAfter"))
    before_ms = parse_time(req.one("occurredBefore"))
    descending = _events_descending(req.many("sort"))
    event_type = req.one("eventType")
    names = list(req.account.events)
    if event_type:
        if event_type not in req.account.events:
            return 200, {"results": []}
        names = [event_type]
    if object_type:  # each event type happens to one object type (sandbox/events.py)
        names = [n for n in names if object_type.lower() in req.account.events[n].names()]
    start = None
    if req.one("after"):
        start = decode_cursor("e", req.one("after"))
        if start is None:
            raise bad_request(f"Invalid after cursor: {req.one('after')}")

    def positions():
        st, key = divmod(start, _STREAM) if start is not None else (0, None)
        for t, name in enumerate(names):
            if t < st:
                continue
            stream = req.account.events[name]
            resume = divmod(key, _MS) if t == st and key is not None else None
            for ms, k in stream.keys(after_ms, before_ms, resume, descending):
                if object_id and stream.object_id(k) != object_id:
                    continue
                yield t * _STREAM + ms * _MS + k, stream, k

    page = list(itertools.islice(positions(), limit + 1))
    out: dict = {"results": [stream.render(k) for _, stream, k in page[:limit]]}
    if len(page) > limit:
        out["paging"] = _next(req, encode_cursor("e", page[limit][0]))
    return 200, out


def events_need_object() -> ApiError:
    """The 400 of an account whose events API wants one CRM record per query.

    HubSpot's Error shape (category, correlationId, message; `errors[]` of
    ErrorDetail with `in` naming the parameter), from the events OpenAPI file
    (HubSpot-public-api-spec-collection, PublicApiSpecs/Events/Events/Rollouts/
    147897/v3/events.json); the older guide: "This API returns events for one
    CRM record at a time ... specifying the objectType and including either the
    objectId or objectProperty query parameter".
    """
    message = ("Events are returned for one CRM record at a time: include objectType and "
               "objectId (or objectProperty.{propname}) in the request")
    return bad_request(message, errors=[{"message": "objectId is required", "in": "objectId"},
                                        {"message": "objectType is required", "in": "objectType"}])


# -- associations -------------------------------------------------------------------------------
def _pair_for(req: Request, from_type: str, to_type: str):
    a, _ = _type(req, from_type)
    b, _ = _type(req, to_type)
    pair, forward = req.account.pair(a.fully_qualified_name, b.fully_qualified_name)
    return a, b, pair, forward


def _to_entries(pair, forward: bool, i: int, offset: int, size: int) -> tuple[list[dict], bool]:
    """One page of associations of from-index i, and whether more follow."""
    if forward:
        targets = pair.parents(i)[offset:offset + size + 1]
        rows = [(p, pair.parent.record_id(p), pair.types(i, p, True)) for p in targets]
    else:
        targets = list(itertools.islice(pair.children(i), offset, offset + size + 1))
        rows = [(c, pair.child.record_id(c), pair.types(c, i, False)) for c in targets]
    entries = [{"toObjectId": rid, "associationTypes": types} for _, rid, types in rows[:size]]
    return entries, len(rows) > size


def association_batch_read(req: Request, from_type: str, to_type: str) -> tuple[int, dict]:
    a, b, pair, forward = _pair_for(req, from_type, to_type)
    body = req.body or {}
    inputs = _batch_inputs(body, ASSOCIATION_BATCH_MAX)
    started = iso_ms(_now_ms())
    from_store = req.account.stores[a.fully_qualified_name]
    size = req.association_page_size
    results, errors = [], []
    for item in inputs:
        item = item if isinstance(item, dict) else {"id": item}
        rid = str(item.get("id"))
        i = from_store.index_of(rid)
        offset = 0
        if item.get("after"):
            offset = decode_cursor("a", str(item["after"]))
            if offset is None:
                raise bad_request(f"Invalid after cursor: {item['after']}")
        entries, more = ([], False)
        if pair is not None and i is not None and from_store.is_live(i):
            entries, more = _to_entries(pair, forward, i, offset, size)
        if not entries:
            errors.append({
                "status": "error", "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "context": {"fromObjectId": [rid]}, "links": {}, "errors": [],
                "message": f"No {b.singular_upper.lower()} is associated with "
                           f"{a.singular_upper.lower()} {rid}."})
            continue
        result = {"from": {"id": rid}, "to": entries}
        if more:
            # NextPage.link is an optional string in the v4 spec
            # (PublicApiSpecs/CRM/Associations/Rollouts/130902/v4/associations.json):
            # a batch input's next page has no URL of its own, so it is left out.
            result["paging"] = {"next": {"after": encode_cursor("a", offset + size)}}
        results.append(result)
    out = {"status": "COMPLETE", "results": results, "startedAt": started,
           "completedAt": iso_ms(_now_ms())}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
        return 207, out
    return 200, out


def _association_page(req: Request, object_type: str, object_id: str, to_type: str):
    """(from type, pair, forward, record index, offset, limit) of a per-object association read."""
    a, _b, pair, forward = _pair_for(req, object_type, to_type)
    store = req.account.stores[a.fully_qualified_name]
    i = store.index_of(object_id)
    limit = min(max(req.int_param("limit", 500), 1), 500)
    offset = 0
    if req.one("after"):
        offset = decode_cursor("a", req.one("after"))
        if offset is None:
            raise bad_request(f"Invalid after cursor: {req.one('after')}")
    live = pair is not None and i is not None and store.is_live(i)
    return a, pair, forward, i if live else None, offset, limit


def object_associations(req: Request, object_type: str, object_id: str, to_type: str):
    """`GET /crm/v4/objects/{type}/{id}/associations/{toType}`: `{toObjectId, associationTypes}`."""
    _a, pair, forward, i, offset, limit = _association_page(req, object_type, object_id, to_type)
    entries, more = ([], False) if i is None else _to_entries(pair, forward, i, offset, limit)
    out: dict = {"results": entries}
    if more:
        out["paging"] = _next(req, encode_cursor("a", offset + limit))
    return 200, out


def object_associations_v3(req: Request, object_type: str, object_id: str, to_type: str):
    """`GET /crm/v3/objects/{type}/{id}/associations/{toType}`: v3's `{id, type}` per
    association type, paged (`CollectionResponseAssociatedIdForwardPaging`, as in
    PublicApiSpecs/CRM/Associations/Rollouts/120891/v3/associations.json); the
    cursor is the same as the inline `associations=` one."""
    a, pair, _forward, i, offset, limit = _association_page(req, object_type, object_id, to_type)
    results, more = [], False
    if i is not None:
        results, more = _associated_ids(req, a, i, to_type, offset, limit) or ([], False)
    out: dict = {"results": results}
    if more:
        out["paging"] = _next(req, encode_cursor("a", offset + limit))
    return 200, out


def association_labels(req: Request, from_type: str, to_type: str) -> tuple[int, dict]:
    _a, _b, pair, forward = _pair_for(req, from_type, to_type)
    return 200, {"results": pair.label_specs(forward) if pair else []}


def _now_ms() -> int:
    return int(time.time() * 1000)
