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

from .account import Account
from .catalog import EVENTS_SCOPE, SCHEMAS_SCOPE, object_scope
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


def _type(req: Request, object_type: str, check_scope: bool = True) -> tuple[ObjectType, RecordStore]:
    otype = req.account.resolve(object_type)
    if otype is None:
        raise bad_request(f"Unable to infer object type from: {object_type}")
    if check_scope and req.account.is_denied(otype):
        raise missing_scope(object_scope(otype.name, otype.custom))
    return otype, req.account.stores[otype.fully_qualified_name]


def _next(after: str) -> dict:
    return {"next": {"after": after, "link": f"?after={after}"}}


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
def list_objects(req: Request, object_type: str) -> tuple[int, dict]:
    _, store = _type(req, object_type)
    limit = min(max(req.int_param("limit", LIST_LIMIT_DEFAULT), 1), LIST_LIMIT_MAX)
    archived = _bool(req.one("archived"))
    after = req.one("after")
    start = 0
    if after:
        start = decode_cursor("o", after)
        if start is None:
            raise bad_request(f"Invalid after cursor: {after}")
    plan = store.plan(req.many("properties"))
    source = store.iter_archived(start) if archived else store.iter_live(start)
    indices = list(itertools.islice(source, limit + 1))
    # The hot path of a full sync: records arrive pre-serialised (see render_json).
    records = ",".join(store.render_json(i, plan) for i in indices[:limit])
    paging = ""
    if len(indices) > limit:
        paging = ',"paging":' + json.dumps(_next(encode_cursor("o", indices[limit])))
    return 200, RawJson(f'{{"results":[{records}]{paging}}}')


def get_object(req: Request, object_type: str, object_id: str) -> tuple[int, dict]:
    _, store = _type(req, object_type)
    i = store.index_of(object_id)
    archived = _bool(req.one("archived"))
    if i is None or store.is_gone(i) or store.is_archived(i) != archived:
        raise ApiError(404, error_body("Object not found.", "OBJECT_NOT_FOUND"))
    return 200, store.render(i, store.plan(req.many("properties")))


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
    archived = _bool(body.get("archived"))
    plan = store.plan(body.get("properties") or None)
    started = iso_ms(_now_ms())
    results, missing, seen = [], [], set()
    for item in inputs:
        rid = str(item.get("id")) if isinstance(item, dict) else str(item)
        if rid in seen:
            continue
        seen.add(rid)
        i = store.index_of(rid)
        if i is None or store.is_gone(i) or store.is_archived(i) != archived:
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
    total, indices = store.search(groups, by_lastmod, descending, offset, page_limit)
    plan = store.plan(body.get("properties") or None)
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


_CONTACT_TYPE_NAMES = {"contact", "contacts", "0-1"}


def list_events(req: Request) -> tuple[int, dict]:
    if "events" in req.account.spec.denied_types:
        raise missing_scope(EVENTS_SCOPE)
    limit = min(max(req.int_param("limit", EVENTS_LIMIT_DEFAULT), 1), EVENTS_LIMIT_MAX)
    object_type = req.one("objectType")
    if object_type and object_type.lower() not in _CONTACT_TYPE_NAMES:
        return 200, {"results": []}  # sandbox events all happen to contacts
    object_id = req.one("objectId")
    after_ms = parse_time(req.one("occurredAfter"))
    before_ms = parse_time(req.one("occurredBefore"))
    sort = ",".join(req.many("sort") or [])
    descending = not sort or "DESC" in sort.upper() or sort.startswith("-")
    event_type = req.one("eventType")
    names = list(req.account.events)
    if event_type:
        if event_type not in req.account.events:
            return 200, {"results": []}
        names = [event_type]
    # Position = stream number * 10^10 + event index, so one cursor spans all types.
    start = None
    if req.one("after"):
        start = decode_cursor("e", req.one("after"))
        if start is None:
            raise bad_request(f"Invalid after cursor: {req.one('after')}")

    def positions():
        st, sk = divmod(start, 10**10) if start is not None else (0, None)
        for t, name in enumerate(names):
            if t < st:
                continue
            stream = req.account.events[name]
            lo, hi = stream.index_range(after_ms, before_ms)
            if t == st and sk is not None:
                if descending:
                    hi = min(hi, sk + 1)
                else:
                    lo = max(lo, sk)
            ks = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
            for k in ks:
                if object_id and stream.object_id(k) != object_id:
                    continue
                yield t * 10**10 + k, stream, k

    page = list(itertools.islice(positions(), limit + 1))
    out: dict = {"results": [stream.render(k) for _, stream, k in page[:limit]]}
    if len(page) > limit:
        out["paging"] = _next(encode_cursor("e", page[limit][0]))
    return 200, out


# -- associations -------------------------------------------------------------------------------
def _pair_for(req: Request, from_type: str, to_type: str):
    a, _ = _type(req, from_type)
    b, _ = _type(req, to_type)
    pair, forward = req.account.pair(from_type, to_type)
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
            result["paging"] = {"next": {"after": encode_cursor("a", offset + size),
                                         "link": None}}
        results.append(result)
    out = {"status": "COMPLETE", "results": results, "startedAt": started,
           "completedAt": iso_ms(_now_ms())}
    if errors:
        out["numErrors"] = len(errors)
        out["errors"] = errors
        return 207, out
    return 200, out


def object_associations(req: Request, object_type: str, object_id: str, to_type: str):
    a, _b, pair, forward = _pair_for(req, object_type, to_type)
    store = req.account.stores[a.fully_qualified_name]
    i = store.index_of(object_id)
    limit = min(max(req.int_param("limit", 500), 1), 500)
    offset = 0
    if req.one("after"):
        offset = decode_cursor("a", req.one("after"))
        if offset is None:
            raise bad_request(f"Invalid after cursor: {req.one('after')}")
    entries, more = ([], False)
    if pair is not None and i is not None and store.is_live(i):
        entries, more = _to_entries(pair, forward, i, offset, limit)
    out: dict = {"results": entries}
    if more:
        out["paging"] = _next(encode_cursor("a", offset + limit))
    return 200, out


def association_labels(req: Request, from_type: str, to_type: str) -> tuple[int, dict]:
    _a, _b, pair, forward = _pair_for(req, from_type, to_type)
    return 200, {"results": pair.label_specs(forward) if pair else []}


def _now_ms() -> int:
    return int(time.time() * 1000)
