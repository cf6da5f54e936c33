"""Associations between two record stores, derived from indices plus a small overlay.

Every pair is a child->parent rule: base child `c` belongs to parent
`c % P` (P = the parent's base size), except every tenth child (no parent:
those ids answer NO_ASSOCIATIONS_FOUND) and, for `big_cluster` pairs, a block of
the first `big` children that all belong to parent 0 (more associations than
one page holds). The reverse direction (parent -> children) is an arithmetic
progression, so neither direction needs memory. `advance` adds and removes
associations in `added`/`removed` without touching either record.
Associations to archived records are hidden, as HubSpot hides them.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from typing import Iterator

from .catalog import AssociationPairDef
from .data import RecordStore
from .encoding import mix2, name_salt


class AssociationPair:
    def __init__(self, pdef: AssociationPairDef, child: RecordStore, parent: RecordStore,
                 seed: int, big: int):
        self.pdef = pdef
        self.child = child
        self.parent = parent
        self.nc = child.n
        self.np = parent.n
        self.big = min(big, self.nc) if pdef.big_cluster and self.np > 0 else 0
        self.salt = mix2(seed, name_salt(f"{child.type.fully_qualified_name}>{parent.type.fully_qualified_name}"))
        self.added_fwd: dict[int, list[int]] = {}  # child -> sorted parents
        self.added_rev: dict[int, list[int]] = {}  # parent -> sorted children
        self.removed: set[tuple[int, int]] = set()

    # -- base rule ----------------------------------------------------------------
    def base_parent(self, c: int) -> int | None:
        if c >= self.nc or self.np == 0 or c % 10 == 9:
            return None
        if c < self.big:
            return 0
        return c % self.np

    def _base_children(self, p: int) -> Iterator[int]:
        if p >= self.np:
            return iter(())
        block = range(0, self.big) if p == 0 else range(0)
        first = self.big + (p - self.big) % self.np
        tail = range(first, self.nc, self.np)
        return (c for c in itertools.chain(block, tail) if c % 10 != 9)

    # -- current state ------------------------------------------------------------
    def _visible(self, c: int, p: int) -> bool:
        return ((c, p) not in self.removed and self.child.is_live(c) and self.parent.is_live(p))

    def parents(self, c: int) -> list[int]:
        """Parent indices of child c (ascending)."""
        out = []
        bp = self.base_parent(c)
        if bp is not None:
            out.append(bp)
        out.extend(self.added_fwd.get(c, ()))
        return sorted(p for p in set(out) if self._visible(c, p))

    def children(self, p: int) -> Iterator[int]:
        """Child indices of parent p (ascending, lazy)."""
        if not self.parent.is_live(p):
            return iter(())
        merged = heapq.merge(self._base_children(p), self.added_rev.get(p, ()))
        return (c for c, _ in itertools.groupby(merged) if self._visible(c, p))

    def is_base(self, c: int, p: int) -> bool:
        return self.base_parent(c) == p

    def types(self, c: int, p: int, forward: bool) -> list[dict]:
        """associationTypes of the (c, p) association seen from child (forward) or parent."""
        d = self.pdef
        out = [{"category": d.category,
                "typeId": d.forward_type_id if forward else d.reverse_type_id, "label": None}]
        if d.primary and self.is_base(c, p):
            out.append({"category": "HUBSPOT_DEFINED",
                        "typeId": d.primary[0] if forward else d.primary[1], "label": "Primary"})
        if d.user_labels:
            h = mix2(self.salt, c * 1_000_003 + p)
            if h % 4 == 0:
                fwd, rev, label = d.user_labels[(h >> 4) % len(d.user_labels)]
                out.append({"category": "USER_DEFINED", "typeId": fwd if forward else rev,
                            "label": label})
        return out

    def label_specs(self, forward: bool) -> list[dict]:
        """Every association type of this pair in one direction (labels endpoint)."""
        d = self.pdef
        out = [{"category": d.category,
                "typeId": d.forward_type_id if forward else d.reverse_type_id, "label": None}]
        if d.primary:
            out.append({"category": "HUBSPOT_DEFINED",
                        "typeId": d.primary[0] if forward else d.primary[1], "label": "Primary"})
        for fwd, rev, label in d.user_labels:
            out.append({"category": "USER_DEFINED", "typeId": fwd if forward else rev, "label": label})
        return out

    def count(self) -> int:
        """Number of visible associations (counts each (child, parent) once)."""
        return sum(len(self.parents(c)) for c in range(self.child.total))

    # -- changes ------------------------------------------------------------------
    def is_associated(self, c: int, p: int) -> bool:
        return p in self.parents(c)

    def add(self, c: int, p: int) -> bool:
        if self.is_associated(c, p):
            return False
        self.removed.discard((c, p))
        if self.base_parent(c) != p:
            bisect.insort(self.added_fwd.setdefault(c, []), p)
            bisect.insort(self.added_rev.setdefault(p, []), c)
        return True

    def remove(self, c: int, p: int) -> bool:
        if not self.is_associated(c, p):
            return False
        fwd = self.added_fwd.get(c)
        if fwd and p in fwd:
            fwd.remove(p)
            self.added_rev[p].remove(c)
        else:
            self.removed.add((c, p))
        return True
