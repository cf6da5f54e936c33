"""Compare a source's stream collection with the sandbox's ground truth.

Used by the pipeline tests, the end-to-end tests, the fault matrix and the
benchmarks: one definition of "complete, each version exactly once".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hubspot_assets.stream.records import canonical_json
from hubspot_assets_tests.sandbox import truth


@dataclass
class Comparison:
    """Expected versus found, per unit (object type, event type, association pair)."""

    expected: int = 0
    found: int = 0
    missing: int = 0
    unexpected: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicates)

    def add(self, unit: str, expected: list[str], found: list[str]) -> None:
        want, got = Counter(expected), Counter(found)
        missing = sum((want - got).values())
        unexpected = sum((got - want).values()) - sum(n - 1 for n in got.values() if n > 1)
        duplicates = sum(n - 1 for n in got.values() if n > 1)
        self.expected += len(expected)
        self.found += len(found)
        self.missing += missing
        self.unexpected += max(0, unexpected)
        self.duplicates += duplicates
        if missing or unexpected > 0 or duplicates:
            self.problems.append(
                f"{unit}: expected {len(expected)}, found {len(found)}, missing {missing}, "
                f"unexpected {max(0, unexpected)}, duplicates {duplicates}")


def _lines(items) -> list[str]:
    return [canonical_json(item) for item in items]


def compare_stream(collection: Any, account: Any) -> Comparison:
    """Every record (live and archived), event and association of ``account`` in the stream.

    Types the account's token cannot read, and pairs touching them, are not expected.
    """
    result = Comparison()

    def denied(object_type: str) -> bool:
        return account.is_denied(account.resolve(object_type))

    for object_type in truth.object_types(account):
        if denied(object_type):
            continue
        expected = _lines([*truth.iter_records(account, object_type),
                           *truth.iter_records(account, object_type, archived=True)])
        found = _lines(d["data"] for d in collection.find(
            {"kind": "object", "object_type": object_type}, {"data": 1}))
        result.add(f"objects {object_type}", expected, found)
    for event_type in account.events:
        expected = _lines(truth.iter_events(account, event_type))
        found = _lines(d["data"] for d in collection.find(
            {"kind": "event", "object_type": event_type}, {"data": 1}))
        result.add(f"events {event_type}", expected, found)
    for child, parent in account.pairs:
        if denied(child) or denied(parent):
            continue
        edges = [d["data"] for d in collection.find(
            {"kind": "relationship", "data.fromObjectType": {"$in": [child, parent]},
             "data.toObjectType": {"$in": [child, parent]}}, {"data": 1})]
        from_type = edges[0]["fromObjectType"] if edges else child
        to_type = parent if from_type == child else child
        expected = _lines(
            (from_id, str(to["toObjectId"]), to["associationTypes"])
            for from_id, to in truth.iter_associations(account, from_type, to_type))
        found = _lines((e["fromObjectId"], e["toObjectId"], e["associationTypes"]) for e in edges)
        result.add(f"associations {from_type}->{to_type}", expected, found)
    return result
