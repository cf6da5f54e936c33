"""Ground truth: exactly what a full sync of an account must yield.

Iterators read the account's current state (call them while no `advance` runs):

    from hubspot_assets_tests.sandbox import truth
    account = server.account(portal_id)          # or truth.account_from_spec(spec)
    for record in truth.iter_records(account, "contacts"): ...   # every property
    for record in truth.iter_records(account, "contacts", archived=True): ...
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


def iter_records(account: Account, object_type: str, archived: bool = False) -> Iterator[dict]:
    """Every live (or archived) record of a type, with every property, by id."""
    store = account.store(object_type)
    plan = store.plan(store.type.property_names)
    indices = store.iter_archived() if archived else store.iter_live()
    for i in indices:
        yield store.render(i, plan)


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
                            "archived": archived, "denied": account.is_denied(store.type)}
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
