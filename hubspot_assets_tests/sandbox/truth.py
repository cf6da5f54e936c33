"""Ground truth: exactly what a full sync of an account must yield.

Iterators read the account's current state (call them while no `advance` runs):

    from hubspot_assets_tests.sandbox import truth
    account = server.account(portal_id)          # or truth.account_from_spec(spec)
    for record in truth.iter_records(account, "contacts"): ...   # every property
    for record in truth.iter_records(account, "contacts", archived=True): ...
    for gone in truth.iter_gone(account, "contacts"): ...   # merged, deleted, expired
    truth.object_states(account, "contacts")   # id -> (live|archived|merged|gone, survivor)
    for event in truth.iter_events(account, "e_visited_page"): ...
    for event, late_ms in truth.iter_late_events(account): ...     # events sent late
    for from_id, to in truth.iter_associations(account, "contacts", "companies"): ...
    truth.summary(account)   # counts and checksums, as GET /_sandbox/truth/{portal}

Records are rendered exactly as the API renders them when asked for every
property name (`archived`/`archivedAt` included for archived records).
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator

from .account import Account
from .api import _schema_json  # the same rendering the API serves
from .config import AccountSpec


def account_from_spec(spec: AccountSpec) -> Account:
    """A fresh account (no server): the state before any `advance`."""
    return Account(spec)


def describe(account: Account) -> dict:
    return {"portal_id": account.portal_id,
            "types": {fqn: {"objectTypeId": t.object_type_id, "name": t.name,
                            "custom": t.custom, "denied": account.is_denied(t),
                            "properties": len(t.properties)}
                      for fqn, t in account.types.items()},
            "event_types": list(account.events)}


def object_types(account: Account) -> list[str]:
    """fullyQualifiedNames of every object type (standard names for standard types)."""
    return list(account.types)


def schemas(account: Account) -> list[dict]:
    return [_schema_json(account, t) for t in account.custom_types()]


def property_names(account: Account, object_type: str) -> tuple[str, ...]:
    return account.resolve(object_type).property_names


def iter_records(account: Account, object_type: str, archived: bool = False,
                 sensitive: bool = True) -> Iterator[dict]:
    """Every live (or archived) record of a type, with every property, by id.

    ``sensitive=False``: without Sensitive Data properties, as a client that names
    the properties of the plain listing reads them (HubSpot lists those only when
    asked with `dataSensitivity`).
    """
    store = account.store(object_type)
    names = store.type.property_names if sensitive else tuple(
        p.name for p in store.type.properties if p.data_sensitivity == "non_sensitive")
    plan = store.plan(names)
    indices = store.iter_archived() if archived else store.iter_live()
    for i in indices:
        yield store.render(i, plan)


def iter_gone(account: Account, object_type: str) -> Iterator[dict]:
    """Every record of a type gone from HubSpot, by id: merged away (with the
    survivor's id), permanently deleted, or aged out of the archive.

    `{"id", "reason": "merged"|"deleted"|"expired", "merged_into": id or None, "gone_at": ms}`
    """
    store = account.store(object_type)
    for i in store.iter_gone():
        ov = store.overlay[i]
        into = store.record_id(ov.merged_into) if ov.merged_into is not None else None
        yield {"id": str(store.record_id(i)), "reason": ov.gone_reason,
               "merged_into": str(into) if into is not None else None, "gone_at": ov.gone_at}


def object_states(account: Account, object_type: str) -> dict[str, tuple[str, str | None]]:
    """Every record a sync can have seen: id -> ("live"|"archived"|"merged"|"gone",
    survivor id for "merged")."""
    states: dict[str, tuple[str, str | None]] = {}
    for archived, state in ((False, "live"), (True, "archived")):
        store = account.store(object_type)
        for i in store.iter_archived() if archived else store.iter_live():
            states[str(store.record_id(i))] = (state, None)
    for gone in iter_gone(account, object_type):
        merged = gone["reason"] == "merged"
        states[gone["id"]] = ("merged" if merged else "gone", gone["merged_into"])
    return states


def iter_events(account: Account, event_type: str | None = None,
                late_by_at_most: int | None = None) -> Iterator[dict]:
    """Every event of one type (or all types), oldest first.

    ``late_by_at_most`` (ms): only events that appeared at most that long after
    their occurredAt (what an incremental sync with that lookback must hold).
    """
    names = [event_type] if event_type else list(account.events)
    for name in names:
        stream = account.events[name]
        for k in stream.in_order():
            if late_by_at_most is None or stream.lateness(k) <= late_by_at_most:
                yield stream.render(k)


def iter_late_events(account: Account, event_type: str | None = None) -> Iterator[tuple[dict, int]]:
    """(event, how many ms late it appeared) for every event sent late."""
    for name in [event_type] if event_type else list(account.events):
        stream = account.events[name]
        for k in range(stream.n, stream.total):
            if stream.lateness(k) > 0:
                yield stream.render(k), stream.lateness(k)


def association_directions(account: Account) -> list[tuple[str, str]]:
    """Every (from, to) pair with associations, both directions."""
    out = []
    for child, parent in account.pairs:
        out += [(child, parent), (parent, child)]
    return out


def iter_associations(account: Account, from_type: str, to_type: str) -> Iterator[tuple[str, dict]]:
    """(from_id, {"toObjectId", "associationTypes"}) for every association, by from id."""
    pair, forward = account.pair(from_type, to_type)
    if pair is None:
        return
    if forward:
        for c in pair.child.iter_live():
            for p in pair.parents(c):
                yield str(pair.child.record_id(c)), {
                    "toObjectId": pair.parent.record_id(p), "associationTypes": pair.types(c, p, True)}
    else:
        for p in pair.parent.iter_live():
            for c in pair.children(p):
                yield str(pair.parent.record_id(p)), {
                    "toObjectId": pair.child.record_id(c), "associationTypes": pair.types(c, p, False)}


def _digest(items) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps(item, sort_keys=True, separators=(",", ":")).encode())
        h.update(b"\n")
    return h.hexdigest()


def summary(account: Account, checksums: bool = True, associations: bool = True) -> dict:
    """Counts (and sha256 checksums of the canonical JSON lines) of everything.

    Record and event counts are arithmetic; association counts and checksums
    walk every record, so large accounts may want them off.
    """
    with account.lock:
        objects = {}
        for fqn, store in account.stores.items():
            live, archived = store.counts()
            objects[fqn] = {"objectTypeId": store.type.object_type_id, "live": live,
                            "archived": archived, "gone": store.gone_count,
                            "denied": account.is_denied(store.type)}
        events = {name: s.total for name, s in account.events.items()}
        association_counts = {}
        for (child, parent), pair in account.pairs.items() if associations else ():
            n = pair.count()
            association_counts[f"{child}->{parent}"] = n
            association_counts[f"{parent}->{child}"] = n
        out = {"portal_id": account.portal_id, "step": account.step_count, "objects": objects,
               "events": events}
        if associations:
            out["associations"] = association_counts
        if checksums and associations:
            out["checksums"] = {
                "objects": {fqn: _digest(iter_records(account, fqn)) for fqn in account.stores},
                "archived": {fqn: _digest(iter_records(account, fqn, archived=True))
                             for fqn in account.stores},
                "events": {name: _digest(iter_events(account, name)) for name in account.events},
                "associations": {f"{a}->{b}": _digest(iter_associations(account, a, b))
                                 for a, b in association_directions(account)},
            }
        return out
