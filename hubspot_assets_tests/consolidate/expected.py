"""The consolidated collections compared with the sandbox's ground truth."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from hubspot_assets.timestamps import aware, epoch_ms
from hubspot_assets_tests.harness.verify import Comparison, _lines
from hubspot_assets_tests.sandbox import truth


def _ms(value: Any) -> int | None:
    """Epoch ms of a HubSpot timestamp or of a (naive UTC) datetime from pymongo."""
    if isinstance(value, dt.datetime):
        return round(aware(value).timestamp() * 1000)
    return epoch_ms(value)


def _object_line(hubspot_id, archived, properties, created, updated, archived_at) -> tuple:
    """What must match, hashable (sorted items: cheaper than canonical JSON of 400 properties)."""
    return (str(hubspot_id), bool(archived), tuple(sorted(properties.items())), _ms(created),
            _ms(updated), _ms(archived_at))


def _removal_line(hubspot_id, reason, merged_into) -> tuple:
    return (str(hubspot_id), reason, merged_into)


def compare_consolidated(db: Any, source_id: str, account: Any) -> Comparison:
    """Objects (archived marked deleted, merged and gone ones marked with their reason)
    and active edges of ``account`` in the current state."""
    result = Comparison()
    # One read per collection: the stand-in scans a whole collection per query.
    objects: dict[str, list[tuple]] = defaultdict(list)
    removed: dict[str, list[tuple]] = defaultdict(list)
    for d in db[f"source_{source_id}_objects"].find():
        reason = d.get("deleted_reason")
        if reason in ("merged", "gone"):
            removed[d["object_type"]].append(_removal_line(
                d["hubspot_id"], reason, d.get("merged_into")))
            continue
        assert reason == ("archived" if d["deleted"] else None), d
        objects[d["object_type"]].append(_object_line(
            d["hubspot_id"], d["deleted"], d["properties"], d["created_at"], d["updated_at"],
            d["archived_at"]))
    edges: dict[frozenset, list[dict]] = defaultdict(list)
    for e in db[f"source_{source_id}_relationships"].find({"removed": False}):
        edges[frozenset((e["from_type"], e["to_type"]))].append(e)

    def denied(object_type: str) -> bool:
        return account.is_denied(account.resolve(object_type))

    for object_type in truth.object_types(account):
        if denied(object_type):
            continue
        expected = [
            _object_line(r["id"], r["archived"], r["properties"], r["createdAt"], r["updatedAt"],
                         r.get("archivedAt"))
            for archived in (False, True)
            for r in truth.iter_records(account, object_type, archived=archived)]
        result.add(f"objects {object_type}", expected, objects.pop(object_type, []))
        gone = [_removal_line(g["id"], "merged" if g["reason"] == "merged" else "gone",
                              g["merged_into"]) for g in truth.iter_gone(account, object_type)]
        if gone or removed.get(object_type):
            result.add(f"removed {object_type}", gone, removed.pop(object_type, []))
    for child, parent in account.pairs:
        if denied(child) or denied(parent):
            continue
        active = edges[frozenset((child, parent))]
        from_type = active[0]["from_type"] if active else child
        to_type = parent if from_type == child else child
        expected = _lines((from_id, str(to["toObjectId"]), to["associationTypes"])
                          for from_id, to in truth.iter_associations(account, from_type, to_type))
        found = _lines((e["from_id"], e["to_id"], e["association_types"]) for e in active)
        result.add(f"edges {from_type}->{to_type}", expected, found)
    return result
