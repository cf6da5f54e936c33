"""Property history: `propertiesWithHistory` on the batch read, as HubSpot serves it.

HubSpot's objects OpenAPI files (e.g. CRM/Contacts/Rollouts/424/v3/contacts.json,
`BatchReadInputSimplePublicObjectId`): the batch read body takes
`propertiesWithHistory` beside `properties`, and each result then carries
`propertiesWithHistory: {name: [ValueWithTimestamp{value, timestamp, sourceType,
sourceId, sourceLabel, updatedByUserId}]}`, newest first. The list endpoint's
spec says the parameter "will reduce the maximum number of objects that can be
read by a single request"; HubSpot's batch read takes 50 inputs with history
(100 without), and the sandbox refuses more with HubSpot's 400.

A record's versions are its seed state (version 0) and one per `advance`
update (`Overlay.version_lastmods`); the value of a property at version v is
what `render` gives with that version's hash, so the newest entry always equals
the record's current value. An entry is listed only when the value changed
(and was not null), as HubSpot lists changes, not snapshots.
"""

from __future__ import annotations

import functools

from .api import Request, _type, bad_request
from .data import _CREATED, _FUNC, _ID, _LASTMOD, _MERGED, _POOL, RecordStore
from .encoding import iso_ms, mix2

HISTORY_BATCH_MAX = 50


def versions(store: RecordStore, i: int) -> list[tuple[int, int]]:
    """(value hash, hs_lastmodifieddate) of every version of record i, oldest first."""
    base = mix2(store.salt, i)
    ov = store.overlay.get(i)
    if ov is None:
        return [(base, store.base_lastmod(i))]
    first = ov.version_lastmods[0] if ov.version_lastmods else ov.lastmod
    # Version 0's lastmod: the base one for seeded records, the creation for new ones.
    start = store.base_lastmod(i) if i < store.n else ov.createdate
    out = [(base, min(start, first))]
    out += [(mix2(base, v), ts) for v, ts in enumerate(ov.version_lastmods, start=1)]
    return out


def _value(store: RecordStore, i: int, step: tuple, h: int, lastmod: int):
    name, op, arg, _, _ = step
    if op == _POOL:
        pool, shift, xor = arg
        return pool[((h >> shift) ^ xor) % len(pool)]
    if op == _ID:
        return str(store.id_base + i)
    if op == _CREATED:
        return iso_ms(store.createdate(i))
    if op == _LASTMOD:
        return iso_ms(lastmod)
    if op == _MERGED:  # its current value: merges are not versions of the record
        return store.merged_ids(i)
    assert op == _FUNC, f"unknown rendering step {op} of {name}"
    return arg(h, store.id_base + i)


def history(store: RecordStore, i: int, names: list[str]) -> dict[str, list[dict]]:
    """`propertiesWithHistory` of record i for the named properties (unknown names ignored)."""
    out: dict[str, list[dict]] = {}
    steps = versions(store, i)
    for step in store.plan(names):
        entries, previous = [], None
        for h, lastmod in steps:
            value = _value(store, i, step, h, lastmod)
            if value is None or value == previous:
                continue
            previous = value
            entries.append({"value": value, "timestamp": iso_ms(lastmod),
                            "sourceType": "CRM_UI" if len(entries) else "IMPORT",
                            "sourceId": None, "sourceLabel": None, "updatedByUserId": None})
        out[step[0]] = entries[::-1]
    return out


def with_history(handler):
    """The batch read `handler`, adding `propertiesWithHistory` when the body asks for it."""
    @functools.wraps(handler)
    def read(req: Request, object_type: str):
        body = req.body if isinstance(req.body, dict) else {}
        names = body.get("propertiesWithHistory")
        if not names:
            return handler(req, object_type)
        if not isinstance(names, list):
            raise bad_request("Invalid input JSON: propertiesWithHistory must be an array")
        inputs = body.get("inputs")
        if isinstance(inputs, list) and len(inputs) > HISTORY_BATCH_MAX:
            raise bad_request(
                f"Batch input size {len(inputs)} exceeds maximum of {HISTORY_BATCH_MAX} "
                "when propertiesWithHistory is requested",
                context={"maxInputs": [str(HISTORY_BATCH_MAX)]})
        status, out = handler(req, object_type)
        _, store = _type(req, object_type, check_scope=False)
        for record in out.get("results", []):
            record["propertiesWithHistory"] = history(store, store.index_of(record["id"]), names)
        return status, out
    return read


def truth_history(store: RecordStore, record_id: str, names: list[str]) -> dict[str, list[dict]]:
    """Ground truth: the history a batch read must return for one record."""
    return history(store, store.index_of(record_id), names)
