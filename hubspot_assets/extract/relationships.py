"""Relationships stage: v4 association batch reads for every pair of listed types."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.hubspot import catalog
from hubspot_assets.stream.naming import pair_unit
from hubspot_assets.stream.records import ASSOCIATION_LABEL, RELATIONSHIP, StreamRecord
from hubspot_assets.sync.plan import SyncPlan

#: HubSpot rejects association batch reads of more than 1,000 inputs.
BATCH_SIZE = 1000
#: Each batch's answer is about 1.25 MB of parsed edges, held by its worker
#: until consumed: at 48 workers that was 60 MB of a 1M-contact run's peak.
#: Eight keep the budget busy (a batch is one request) at an eighth of that.
ASSOCIATION_WORKERS = 8


def association_pairs(entries: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """Every pair of ready types that HubSpot can associate, one direction per pair.

    Associations are symmetric in HubSpot, so reading both directions would
    spend twice the calls for the same edges.
    """
    ready = {e["objectTypeId"]: e for e in entries if e.get("status") == "ready"}
    by_name = {e["objectType"]: e for e in ready.values()}
    candidates = catalog.association_pairs_for(set(by_name))
    for entry in ready.values():
        for other_id in entry.get("associatedTypeIds", []):
            if other_id in ready:
                candidates.append((entry["objectType"], ready[other_id]["objectType"]))
    pairs: list[tuple[str, str]] = []
    seen: set[frozenset[str]] = set()
    for a, b in candidates:
        key = frozenset((a, b))
        if a != b and key not in seen:
            seen.add(key)
            pairs.append((a, b))
    return pairs


def _type_key(entry: dict[str, Any]) -> tuple[Any, Any]:
    return entry.get("category"), entry.get("typeId")


def reverse_types(forward: list[dict[str, Any]],
                  backward: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any]]:
    """(category, typeId) of one direction -> the matching type of the other direction.

    HubSpot gives each association type one typeId per direction and its labels
    endpoint lists each direction on its own, without saying which ids pair up.
    They pair by (category, label) when that is unique in both directions: the
    unlabelled HUBSPOT_DEFINED type, "Primary", and a user label with the same name
    both ways. A paired label with a different inverse name stays unmatched.
    """
    def by_name(labels: list[dict[str, Any]]) -> dict[tuple[Any, Any], dict[str, Any] | None]:
        out: dict[tuple[Any, Any], dict[str, Any] | None] = {}
        for entry in labels:
            key = (entry.get("category"), entry.get("label"))
            out[key] = None if key in out else entry  # ambiguous: no match
        return out

    there = by_name(backward)
    return {_type_key(entry): {"category": other["category"], "typeId": other["typeId"],
                               "label": other.get("label")}
            for key, entry in by_name(forward).items()
            if entry is not None and (other := there.get(key)) is not None}


def relationship_records(
    client: Any,
    pairs: Iterable[tuple[str, str]],
    ids_of: Callable[[str], Iterable[str]],
    report: StageReport,
    *,
    max_workers: int,
    plan: SyncPlan | None = None,
) -> Iterator[StreamRecord]:
    """One record per association edge, every page of every object.

    ``ids_of(object_type)`` yields the ids of that type's live records lazily;
    they are read in batches of 1,000 and the batches run concurrently. Every
    run is a full sweep; ``plan`` learns which pairs were swept completely
    (only those may have edges marked removed downstream).
    """
    plan = plan or SyncPlan.full()
    pairs = list(pairs)
    for from_type, to_type in pairs:
        plan.expect(pair_unit(from_type, to_type))
    # Label definitions first, both directions of every pair: they also tell each
    # edge its association types as seen from the other end. One call per
    # direction, `max_workers` at once (one after another they cost a round trip
    # each: 20 s of a 10,000-contact sweep at 150 ms).
    definitions: dict[tuple[str, str], list[dict[str, Any]]] = {
        direction: [] for from_type, to_type in pairs
        for direction in ((from_type, to_type), (to_type, from_type))}

    def labels(direction: tuple[str, str]) -> Iterator[StreamRecord]:
        a, b = direction
        for label in report.guarded(f"labels {pair_unit(a, b)}", partial(
                client.association_labels, a, b)):
            definitions[direction].append(label)
            report.count("association_labels")
            yield StreamRecord(ASSOCIATION_LABEL, pair_unit(a, b),
                               f"{label.get('category')}|{label.get('typeId')}",
                               {**label, "fromObjectType": a, "toObjectType": b}, None)

    yield from interleave(list(definitions), labels, max_workers=max_workers)
    reverse_of = {pair: reverse_types(definitions[pair], definitions[(pair[1], pair[0])])
                  for pair in pairs}

    # Pairs sharing a from-type share one read of its ids (a full collection
    # scan each in some stores), not one read per pair.
    targets: dict[str, list[str]] = {}
    for from_type, to_type in pairs:
        targets.setdefault(from_type, []).append(to_type)

    def batches() -> Iterator[tuple[str, str, list[str]]]:
        for from_type, to_types in targets.items():
            ids = iter(ids_of(from_type))
            while batch := list(islice(ids, BATCH_SIZE)):
                for to_type in to_types:
                    yield from_type, to_type, batch

    def fetch(unit: tuple[str, str, list[str]]) -> Iterator[StreamRecord]:
        from_type, to_type, ids = unit
        associations = plan.track(pair_unit(from_type, to_type), partial(
            client.iter_associations, from_type, to_type, ids))
        label = f"{from_type}->{to_type} ({ids[0]}..{ids[-1]})"
        reverse = reverse_of[(from_type, to_type)]
        for from_id, target in report.guarded(label, associations,
                                              row=pair_unit(from_type, to_type)):
            report.count("relationships")
            types = target.get("associationTypes", [])
            data = {
                "fromObjectType": from_type,
                "fromObjectId": str(from_id),
                "toObjectType": to_type,
                "toObjectId": str(target["toObjectId"]),
                "associationTypes": types,
                # The same edge's types from the other end, by the label definitions
                # (reading the other direction too would cost as many calls again).
                "reverseAssociationTypes": [reverse[key] for key in map(_type_key, types)
                                            if key in reverse],
            }
            yield StreamRecord(RELATIONSHIP, from_type, str(from_id), data, None)

    yield from interleave(batches(), fetch,
                          max_workers=min(max_workers, ASSOCIATION_WORKERS))

