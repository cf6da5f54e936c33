"""Records of one object type, derived from their index; changes live in an overlay.

A record is index `i` (id = `id_base + i`). Indices below `n` are the seeded
("base") records whose every value is a pure function of (seed, type, i), so
start-up time and memory do not depend on `n`. Base `hs_lastmodifieddate` is a
non-decreasing function of the index, which turns time-range searches into
index ranges (binary search). Records changed, archived or created by
`advance` get an `Overlay` entry; only those cost memory.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import json
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .catalog import DEFAULT_PROPERTIES, GENERIC_DEFAULT_PROPERTIES, PropertyDef
from .encoding import iso_ms, mix2, name_salt

T0_MS = 1_640_995_200_000  # 2022-01-01T00:00:00Z: base data spans three years from here
SPAN_MS = 3 * 365 * 86_400_000
ARCHIVE_EVERY = 40  # one base record in 40 is archived
ID_STRIDE = 100_000_000

_FIRST = ("Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Giulia", "Hiro", "Ines",
          "Jonas", "Kwame", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa")
_LAST = ("Smith", "Okafor", "Garcia", "Müller", "Tanaka", "Nguyen", "Rossi", "Kowalski",
         "Haddad", "Silva", "Johansson", "O'Brien", "Dubois", "Patel")
_COMPANY = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell",
            "Soylent", "Cyberdyne", "Vandelay", "Wonka")
_SUFFIX = ("Inc", "GmbH", "Ltd", "LLC", "SA", "BV")
_TEXT = ("Inbound lead", "Referral", "Trade show", "Follow up next quarter", "Résumé attached",
         "Needs pricing", "Renewal", "Upsell opportunity", 'Quote: "asap"')
_NUMBERS = ("0", "1", "7", "12", "250", "1999.5", "42", "100000")
_DATES = ("2022-03-14", "2023-07-01", "2024-02-29", "2021-11-11")


@dataclass(slots=True)
class Overlay:
    """State of a record that differs from its derived base."""

    lastmod: int
    createdate: int
    version: int = 0
    archived_at: int | None = None
    # hs_lastmodifieddate of each version after the first (property history)
    version_lastmods: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ObjectType:
    """One object type as an account exposes it."""

    name: str  # "contacts", or the custom object's short name ("pets")
    object_type_id: str  # "0-1", "2-1000123"
    fully_qualified_name: str  # "contacts" for standard types, "p<portal>_pets" for custom
    custom: bool
    ordinal: int
    properties: tuple[PropertyDef, ...]

    @property
    def property_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.properties)

    @property
    def default_properties(self) -> tuple[str, ...]:
        if self.custom:
            return ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
        return DEFAULT_PROPERTIES.get(self.name, GENERIC_DEFAULT_PROPERTIES)

    @property
    def singular_upper(self) -> str:
        """HubSpot's error messages say e.g. "CONTACT" objects."""
        return self.name.rstrip("s").upper() if not self.custom else self.fully_qualified_name.upper()


def _pool(prop: PropertyDef, k: int) -> tuple:
    """Candidate values of a generic property: roughly half are null."""
    t = prop.type
    if t == "enumeration":
        values: tuple = prop.options or ("a", "b")
    elif t == "bool":
        values = ("true", "false")
    elif t == "number":
        values = _NUMBERS[k % 3:] + _NUMBERS[:k % 3]
    elif t == "datetime":
        values = tuple(iso_ms(T0_MS + (k * 7 + j) * 86_400_000 + j * 1234) for j in range(5))
    elif t == "date":
        values = _DATES
    else:
        values = _TEXT[k % 4:] + _TEXT[:k % 4]
    nulls = (None,) * (2 + k % 5)
    return values + nulls


# Plan opcodes: how a property's value is produced for a record.
_POOL, _ID, _CREATED, _LASTMOD, _FUNC = range(5)
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def _special(type_name: str, name: str):
    """Record-specific values (names, emails, ...), or None for pooled ones."""
    def first(h, rid):
        return _FIRST[h % len(_FIRST)]

    def last(h, rid):
        return _LAST[(h >> 8) % len(_LAST)]

    def email(h, rid):
        if h % 23 == 0:
            return None  # contacts without email exist
        return f"{first(h, rid).lower()}.{rid}@{_COMPANY[(h >> 16) % len(_COMPANY)].lower()}.example"

    def company_name(h, rid):
        return f"{_COMPANY[h % len(_COMPANY)]} {_SUFFIX[(h >> 8) % len(_SUFFIX)]} {rid}"

    def domain(h, rid):
        return f"{_COMPANY[h % len(_COMPANY)].lower()}{rid}.example"

    def label(h, rid):
        return f"{type_name.rstrip('s').replace('_', ' ').title()} {rid}"

    table = {
        ("contacts", "firstname"): first, ("contacts", "lastname"): last,
        ("contacts", "email"): email, ("companies", "name"): company_name,
        ("companies", "domain"): domain, ("deals", "dealname"): label,
        ("tickets", "subject"): label,
    }
    if (type_name, name) in table:
        return table[(type_name, name)]
    if name == "name":
        return label
    return None


class RecordStore:
    """All records of one type in one account."""

    def __init__(self, otype: ObjectType, n: int, seed: int, bulk_import: int = 0):
        self.type = otype
        self.n = n
        self.id_base = 1 + otype.ordinal * ID_STRIDE
        self.salt = mix2(seed, name_salt(otype.fully_qualified_name))
        self.step = max(1, SPAN_MS // max(n, 1))
        self.t0 = T0_MS + otype.ordinal * 3_600_000
        self.archive_residue = 3 + (seed + otype.ordinal) % 5
        # A block of records sharing one millisecond, like a bulk import.
        self.bulk_len = bulk_import if 0 < bulk_import <= n else 0
        self.bulk_start = n // 3 if self.bulk_len else 0
        self.created = 0
        self.overlay: dict[int, Overlay] = {}
        self._overlay_base: list[int] = []  # sorted base indices present in overlay
        self._overlay_archived: list[int] = []  # sorted indices archived by advance
        self._plans: dict[tuple[str, ...], tuple] = {}
        self._prop_index = {p.name: (k, p) for k, p in enumerate(otype.properties)}
        self._lastmod_names = {"hs_lastmodifieddate", "lastmodifieddate"}

    # -- identity and base values ------------------------------------------------
    @property
    def total(self) -> int:
        """Number of indices ever used (base + created)."""
        return self.n + self.created

    def record_id(self, i: int) -> int:
        return self.id_base + i

    def index_of(self, record_id) -> int | None:
        try:
            i = int(record_id) - self.id_base
        except (TypeError, ValueError):
            return None
        return i if 0 <= i < self.total else None

    def _g(self, i: int) -> int:
        """Monotone step count of base record i (flat across the bulk block)."""
        if not self.bulk_len or i < self.bulk_start:
            return i
        if i < self.bulk_start + self.bulk_len:
            return self.bulk_start
        return i - self.bulk_len + 1

    def base_lastmod(self, i: int) -> int:
        return self.t0 + self.step * self._g(i)

    def base_archived(self, i: int) -> bool:
        return i < self.n and i % ARCHIVE_EVERY == self.archive_residue

    def _base_archived_count(self, a: int, b: int) -> int:
        """Base-archived indices in [a, b)."""
        b = min(b, self.n)
        if b <= a:
            return 0
        r, m = self.archive_residue, ARCHIVE_EVERY
        return (b - r + m - 1) // m - (a - r + m - 1) // m

    # -- current state ----------------------------------------------------------
    def is_archived(self, i: int) -> bool:
        ov = self.overlay.get(i)
        if ov is not None:
            return ov.archived_at is not None
        return self.base_archived(i)

    def is_live(self, i: int) -> bool:
        return 0 <= i < self.total and not self.is_archived(i)

    def lastmod(self, i: int) -> int:
        ov = self.overlay.get(i)
        return ov.lastmod if ov is not None else self.base_lastmod(i)

    def createdate(self, i: int) -> int:
        ov = self.overlay.get(i)
        if ov is not None:
            return ov.createdate
        return self._base_createdate(i, mix2(self.salt, i))

    def _base_createdate(self, i: int, base_hash: int) -> int:
        return self.base_lastmod(i) - (base_hash >> 7) % (30 * 86_400_000)

    def archived_at(self, i: int) -> int | None:
        ov = self.overlay.get(i)
        if ov is not None:
            return ov.archived_at
        if self.base_archived(i):
            return self.base_lastmod(i) + 3_600_000 + (mix2(self.salt, i) >> 11) % 86_400_000
        return None

    def counts(self) -> tuple[int, int]:
        """(live, archived) record counts."""
        archived = self._base_archived_count(0, self.n) + len(self._overlay_archived)
        return self.total - archived, archived

    # -- rendering --------------------------------------------------------------
    def plan(self, names: Iterable[str] | None) -> tuple:
        """Cached rendering plan for a property list (unknown names are ignored,
        like HubSpot does)."""
        key = tuple(names) if names is not None else self.type.default_properties
        plan = self._plans.get(key)
        if plan is None:
            steps = []
            seen = set()
            for name in key:
                if name in seen or name not in self._prop_index:
                    continue
                seen.add(name)
                k, prop = self._prop_index[name]
                if name == "hs_object_id":
                    steps.append((name, _ID, None))
                elif name in ("createdate", "hs_createdate"):
                    steps.append((name, _CREATED, None))
                elif name in self._lastmod_names:
                    steps.append((name, _LASTMOD, None))
                elif (fn := _special(self.type.name, name)) is not None:
                    steps.append((name, _FUNC, fn))
                else:
                    steps.append((name, _POOL, (_pool(prop, k), k % 48, k * 0x9E37)))
            # Each step also carries its JSON fragments, for render_json's fast path.
            plan = tuple(
                (name, op, arg, _dumps(name),
                 tuple(f"{_dumps(name)}:{_dumps(v)}" for v in arg[0]) if op == _POOL else None)
                for name, op, arg in steps)
            if len(self._plans) >= 64:  # bounded: clients use a few fixed chunkings
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _state(self, i: int) -> tuple[int, int, int, int | None]:
        """(value hash, lastmod, createdate, archivedAt or None) of record i."""
        h = mix2(self.salt, i)
        ov = self.overlay.get(i)
        if ov is None:  # the common case, kept free of repeated lookups
            archived = self.archived_at(i) if i % ARCHIVE_EVERY == self.archive_residue else None
            return h, self.base_lastmod(i), self._base_createdate(i, h), archived
        if ov.version:
            h = mix2(h, ov.version)
        return h, ov.lastmod, ov.createdate, ov.archived_at

    def render(self, i: int, plan: tuple) -> dict:
        """HubSpot's record JSON for index i with the planned properties."""
        rid = self.id_base + i
        h, lastmod_ms, created_ms, archived_ms = self._state(i)
        created = iso_ms(created_ms)
        lastmod = iso_ms(lastmod_ms)
        props = {}
        for name, op, arg, _, _ in plan:
            if op == _POOL:
                pool, shift, xor = arg
                props[name] = pool[((h >> shift) ^ xor) % len(pool)]
            elif op == _ID:
                props[name] = str(rid)
            elif op == _CREATED:
                props[name] = created
            elif op == _LASTMOD:
                props[name] = lastmod
            else:
                props[name] = arg(h, rid)
        record = {"id": str(rid), "properties": props, "createdAt": created,
                  "updatedAt": lastmod, "archived": False}
        if archived_ms is not None:
            record["archived"] = True
            record["archivedAt"] = iso_ms(archived_ms)
        return record

    def render_json(self, i: int, plan: tuple) -> str:
        """`render` already serialised (equal after json.loads), built from
        pre-encoded fragments: listing pages spend most of their time here."""
        rid = self.id_base + i
        h, lastmod_ms, created_ms, archived_ms = self._state(i)
        created = iso_ms(created_ms)
        lastmod = iso_ms(lastmod_ms)
        parts = []
        for _name, op, arg, name_json, fragments in plan:
            if op == _POOL:
                parts.append(fragments[((h >> arg[1]) ^ arg[2]) % len(fragments)])
            elif op == _ID:
                parts.append(f'{name_json}:"{rid}"')
            elif op == _CREATED:
                parts.append(f'{name_json}:"{created}"')
            elif op == _LASTMOD:
                parts.append(f'{name_json}:"{lastmod}"')
            else:
                parts.append(f"{name_json}:{_dumps(arg(h, rid))}")
        tail = "false" if archived_ms is None else f'true,"archivedAt":"{iso_ms(archived_ms)}"'
        return (f'{{"id":"{rid}","properties":{{{",".join(parts)}}},"createdAt":"{created}",'
                f'"updatedAt":"{lastmod}","archived":{tail}}}')

    # -- listing ----------------------------------------------------------------
    def iter_live(self, start: int = 0) -> Iterator[int]:
        """Live indices >= start, ascending."""
        for i in range(max(start, 0), self.total):
            if not self.is_archived(i):
                yield i

    def iter_archived(self, start: int = 0) -> Iterator[int]:
        """Archived indices >= start, ascending (base ones are arithmetic)."""
        start = max(start, 0)
        r, m = self.archive_residue, ARCHIVE_EVERY
        first = start + (r - start) % m
        base = range(first, self.n, m)
        pos = bisect.bisect_left(self._overlay_archived, start)
        extra = itertools.islice(self._overlay_archived, pos, None)
        return heapq.merge(base, extra)

    # -- search -----------------------------------------------------------------
    def _index_range(self, lm_lo, lm_hi, id_lo, id_hi) -> tuple[int, int]:
        """Base indices [a, b) satisfying inclusive bounds on lastmod and id."""
        a, b = 0, self.n
        if id_lo is not None:
            a = max(a, id_lo - self.id_base)
        if id_hi is not None:
            b = min(b, id_hi - self.id_base + 1)
        seq = range(self.n)
        if lm_lo is not None:
            a = max(a, bisect.bisect_left(seq, lm_lo, key=self.base_lastmod))
        if lm_hi is not None:
            b = min(b, bisect.bisect_right(seq, lm_hi, key=self.base_lastmod))
        return (a, b) if a < b else (0, 0)

    def search(self, groups: list[tuple], by_lastmod: bool, descending: bool,
               offset: int, limit: int, indexed_until: int | None = None) -> tuple[int, list[int]]:
        """(total, page of indices) of live records matching any group.

        Each group is (lm_lo, lm_hi, id_lo, id_hi), inclusive, None = open.
        Order: (lastmod, id) or id, ascending or descending. `indexed_until`:
        records changed after this epoch ms are not in the index yet (hidden).
        """
        intervals = sorted(r for r in (self._index_range(*g) for g in groups) if r[0] < r[1])
        merged: list[list[int]] = []
        for a, b in intervals:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        ob = self._overlay_base
        total = 0
        for a, b in merged:
            total += (b - a) - self._base_archived_count(a, b) \
                - (bisect.bisect_left(ob, b) - bisect.bisect_left(ob, a))

        def matches(i: int, ov: Overlay) -> bool:
            rid = self.id_base + i
            for lm_lo, lm_hi, id_lo, id_hi in groups:
                if ((lm_lo is None or ov.lastmod >= lm_lo) and (lm_hi is None or ov.lastmod <= lm_hi)
                        and (id_lo is None or rid >= id_lo) and (id_hi is None or rid <= id_hi)):
                    return True
            return False

        extra = [i for i, ov in self.overlay.items() if ov.archived_at is None and matches(i, ov)
                 and (indexed_until is None or ov.lastmod <= indexed_until)]
        total += len(extra)
        if by_lastmod:
            def key(i):
                return (self.lastmod(i), i)
        else:
            def key(i):
                return i
        extra.sort(key=key, reverse=descending)

        def base_iter():
            order = reversed(merged) if descending else merged
            overlay = self.overlay
            r, m = self.archive_residue, ARCHIVE_EVERY
            for a, b in order:
                rng = range(b - 1, a - 1, -1) if descending else range(a, b)
                for i in rng:
                    if i % m != r and i not in overlay:
                        yield i

        stream = heapq.merge(base_iter(), extra, key=key, reverse=descending)
        return total, list(itertools.islice(stream, offset, offset + limit))

    # -- changes (called by the account's advance, under its lock) -------------------
    def _touch(self, i: int) -> Overlay:
        ov = self.overlay.get(i)
        if ov is None:
            ov = Overlay(self.base_lastmod(i), self.createdate(i))
            self.overlay[i] = ov
            if i < self.n:
                bisect.insort(self._overlay_base, i)
        return ov

    def update(self, i: int, ts: int) -> None:
        ov = self._touch(i)
        ov.version += 1
        ov.lastmod = max(ts, ov.lastmod + 1)
        ov.version_lastmods.append(ov.lastmod)

    def archive(self, i: int, ts: int) -> None:
        ov = self._touch(i)
        ov.archived_at = ts
        bisect.insort(self._overlay_archived, i)

    def create(self, ts: int) -> int:
        i = self.total
        self.overlay[i] = Overlay(ts, ts)
        self.created += 1
        return i


