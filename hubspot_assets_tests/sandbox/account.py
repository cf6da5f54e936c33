"""One HubSpot account: its object types, records, associations, events, and `advance`."""

from __future__ import annotations

import random
import threading
import time

from .associations import AssociationPair
from .catalog import (
    CUSTOM_EVENT_NAME,
    CUSTOM_OBJECTS,
    EVENT_TYPES_HUBSPOT,
    MERGEABLE_TYPES,
    STANDARD_ASSOCIATIONS,
    STANDARD_OBJECT_TYPES,
    AssociationPairDef,
    custom_properties,
    standard_properties,
)
from .config import DEFAULT_SIZES, OTHER_TYPE_SIZE, AccountSpec
from .data import ObjectType, RecordStore
from .encoding import mix2
from .events import EventStream, object_event_streams, send_late

BULK_IMPORT_DEFAULT = 10_500
BIG_COMPANY_DEFAULT = 1_200
CUSTOM_ORDINAL_BASE = 30
CUSTOM_ASSOCIATION_TYPE_BASE = 60  # USER_DEFINED typeIds of custom-object pairs
REMOVALS_SALT = 0x5EED_600E  # a separate random sequence: the older changes stay as they were
DAY_MS = 86_400_000


#: `denied_types` entries that name a scope rather than an object type.
PSEUDO_TYPES = frozenset({"events", "schemas", "account-info", "owners", "sensitive",
                          "highly_sensitive", "lists", "forms", "marketing_emails",
                          "campaigns", "email_events"})


class Account:
    """State of one portal. Readers and `advance` serialise on `lock`."""

    def __init__(self, spec: AccountSpec):
        self.spec = spec
        self.portal_id = spec.portal_id
        self.lock = threading.RLock()
        self.step_count = 0
        self.clock_ms = 0  # last timestamp handed out by advance
        self.step_times: list[int] = []  # clock_ms at the end of each advance step
        self.types: dict[str, ObjectType] = {}  # keyed by fullyQualifiedName
        self._lookup: dict[str, ObjectType] = {}
        sizes = dict(spec.sizes or {})

        for ordinal, (name, type_id) in enumerate(STANDARD_OBJECT_TYPES.items()):
            self._add_type(ObjectType(name, type_id, name, False, ordinal, standard_properties(name)))
        for k, cdef in enumerate(CUSTOM_OBJECTS):
            fqn = f"p{spec.portal_id}_{cdef.name}"
            type_id = f"2-{1_000_000 + (spec.portal_id % 9_973) * 10 + k}"
            self._add_type(ObjectType(cdef.name, type_id, fqn, True, CUSTOM_ORDINAL_BASE + k,
                                      custom_properties(cdef.name)))

        known = {k for t in self.types.values() for k in (t.name, t.fully_qualified_name, t.object_type_id)}
        for label, names in (("sizes", set(sizes)),
                             ("denied_types", set(spec.denied_types) - PSEUDO_TYPES)):
            if names - known:  # a typo would otherwise silently test the defaults
                raise ValueError(f"unknown object types in {label}: {sorted(names - known)}")

        self.stores: dict[str, RecordStore] = {}
        for fqn, otype in self.types.items():
            n = sizes.get(fqn, sizes.get(otype.name, sizes.get(otype.object_type_id)))
            if n is None:
                n = DEFAULT_SIZES.get(otype.name, OTHER_TYPE_SIZE)
            bulk = 0
            if otype.name == "contacts":
                bulk = spec.bulk_import if spec.bulk_import is not None else (
                    BULK_IMPORT_DEFAULT if n >= 2 * BULK_IMPORT_DEFAULT else 0)
            self.stores[fqn] = RecordStore(otype, int(n), spec.seed, bulk)

        big = spec.big_company_contacts
        if big is None:
            big = BIG_COMPANY_DEFAULT if self.stores["contacts"].n >= 2 * BIG_COMPANY_DEFAULT else 0
        self.pairs: dict[tuple[str, str], AssociationPair] = {}
        for pdef in (*STANDARD_ASSOCIATIONS, *self._custom_pair_defs()):
            child_t, parent_t = self.resolve(pdef.child), self.resolve(pdef.parent)
            self.pairs[(child_t.fully_qualified_name, parent_t.fully_qualified_name)] = AssociationPair(
                pdef, self.stores[child_t.fully_qualified_name],
                self.stores[parent_t.fully_qualified_name], spec.seed, big)

        contacts = self.stores["contacts"]
        names = (*EVENT_TYPES_HUBSPOT, f"pe{spec.portal_id}_{CUSTOM_EVENT_NAME}")
        self.events: dict[str, EventStream] = {
            name: EventStream(name, spec.events_per_type, contacts, spec.seed, k)
            for k, name in enumerate(names)}
        # Events on companies and deals too (custom events with another primaryObject).
        self.events.update(object_event_streams(spec.portal_id, self.stores, spec.events_per_type,
                                                spec.seed, len(self.events)))

    def _add_type(self, otype: ObjectType) -> None:
        # HubSpot accepts a type's name (standard types), objectTypeId or fullyQualifiedName;
        # a custom object's bare name ("pets") is not accepted in URLs.
        self.types[otype.fully_qualified_name] = otype
        for key in (otype.fully_qualified_name, otype.object_type_id):
            self._lookup[key.lower()] = otype

    def _custom_pair_defs(self) -> list[AssociationPairDef]:
        out = []
        k = 0
        for cdef in CUSTOM_OBJECTS:
            for target in cdef.associated_to:
                typeid = CUSTOM_ASSOCIATION_TYPE_BASE + 2 * k
                out.append(AssociationPairDef(f"p{self.portal_id}_{cdef.name}", target, typeid,
                                              typeid + 1, category="USER_DEFINED"))
                k += 1
        return out

    # -- lookups ----------------------------------------------------------------------
    def resolve(self, object_type: str) -> ObjectType | None:
        """Type by name, objectTypeId or fullyQualifiedName (case-insensitive)."""
        return self._lookup.get(object_type.lower())

    def store(self, object_type: str) -> RecordStore | None:
        otype = self.resolve(object_type)
        return self.stores[otype.fully_qualified_name] if otype else None

    def custom_types(self) -> list[ObjectType]:
        return [t for t in self.types.values() if t.custom]

    def pair(self, from_type: str, to_type: str) -> tuple[AssociationPair | None, bool]:
        """(pair, forward) for a from->to request; forward means child->parent."""
        a, b = self.resolve(from_type), self.resolve(to_type)
        if a is None or b is None:
            return None, True
        key = (a.fully_qualified_name, b.fully_qualified_name)
        if key in self.pairs:
            return self.pairs[key], True
        rev = (key[1], key[0])
        if rev in self.pairs:
            return self.pairs[rev], False
        return None, True

    def is_denied(self, otype: ObjectType) -> bool:
        d = self.spec.denied_types
        return otype.name in d or otype.fully_qualified_name in d or otype.object_type_id in d

    # -- change over time ---------------------------------------------------------------
    def advance(self, now_ms: int | None = None, bulk_import: int = 0,
                update_fraction: float = 0.0) -> dict:
        """Apply one deterministic step of changes; return what changed.

        Timestamps start at `now_ms` (default: the wall clock, so incremental
        syncs keyed on real time see the changes); which records change depends
        only on the seed and the step number. `update_fraction`: update at least
        that share of each type's live records (a step updates 1 %, at most 50).
        """
        with self.lock:
            self.step_count += 1
            rng = random.Random(mix2(self.spec.seed, self.step_count))
            start = now_ms if now_ms is not None else int(time.time() * 1000)
            ts = max(start, self.clock_ms + 1)
            summary = {"portal_id": self.portal_id, "step": self.step_count, "now": ts,
                       "updated": {}, "archived": {}, "created": {},
                       "associations_added": {}, "associations_removed": {}, "events_added": {}}

            def tick() -> int:
                nonlocal ts
                ts += 1
                return ts

            created_by_type: dict[str, list[int]] = {}
            for fqn, store in self.stores.items():
                live, _ = store.counts()
                if live == 0:
                    continue
                updated = self._pick_live(store, rng, max(min(50, max(1, live // 100)),
                                                          int(live * update_fraction)))
                for i in updated:
                    store.update(i, tick())
                archived = self._pick_live(store, rng, min(10, max(1, live // 400))) if live > 5 else []
                archived = [i for i in archived if i not in updated]
                for i in archived:
                    store.archive(i, tick())
                created = [store.create(tick()) for _ in range(min(20, max(1, live // 200)))]
                created_by_type[fqn] = created
                summary["updated"][fqn] = [str(store.record_id(i)) for i in updated]
                summary["archived"][fqn] = [str(store.record_id(i)) for i in archived]
                summary["created"][fqn] = [str(store.record_id(i)) for i in created]

            for (child_fqn, parent_fqn), pair in self.pairs.items():
                added = removed = 0
                parents_live = pair.parent.counts()[0]
                if parents_live == 0 or pair.child.counts()[0] == 0:
                    continue
                # New children get a parent; then a few random links appear and vanish.
                for c in created_by_type.get(child_fqn, ()):
                    p = self._pick_live(pair.parent, rng, 1)
                    added += bool(p) and pair.add(c, p[0])
                for _ in range(3):
                    c = self._pick_live(pair.child, rng, 1)
                    p = self._pick_live(pair.parent, rng, 1)
                    added += bool(c and p) and pair.add(c[0], p[0])
                for _ in range(2):
                    c = self._pick_live(pair.child, rng, 1)
                    if c:
                        parents = pair.parents(c[0])
                        removed += bool(parents) and pair.remove(c[0], parents[0])
                summary["associations_added"][f"{child_fqn}->{parent_fqn}"] = int(added)
                summary["associations_removed"][f"{child_fqn}->{parent_fqn}"] = int(removed)

            contacts = self.stores["contacts"]
            for name, stream in self.events.items():
                if stream.objects.n == 0:
                    continue
                for _ in range(5):
                    c = self._pick_live(stream.objects, rng, 1)
                    stream.append(tick(), c[0] if c else 0)
                summary["events_added"][name] = 5
            # Events sent late (AccountSpec.late_event_lags_ms): they appear now, occurred earlier.
            summary["events_late"] = send_late(self.events, self.spec.late_event_lags_ms, tick(),
                                               self.step_count)

            if bulk_import:
                bulk_ts = tick()
                first = contacts.total
                for _ in range(bulk_import):
                    contacts.create(bulk_ts)
                summary["bulk_import"] = {"object_type": "contacts", "count": bulk_import,
                                          "hs_lastmodifieddate": bulk_ts,
                                          "first_id": str(contacts.record_id(first))}
            if self.spec.removals:
                rng2 = random.Random(mix2(mix2(self.spec.seed, self.step_count), REMOVALS_SALT))
                self._removals(rng2, tick, summary, created_by_type)
            self.clock_ms = ts
            self.step_times.append(ts)
            return summary

    def _removals(self, rng: random.Random, tick, summary: dict,
                  created_by_type: dict[str, list[int]]) -> None:
        """Expiry, permanent deletes, restores and merges of one step (see AccountSpec).

        Only records that existed before this step leave, so a sync run after
        every step has seen each record that later goes. HubSpot keeps deleted
        records restorable for 90 days; permanent (GDPR) deletes skip the recycle
        bin (knowledge.hubspot.com/records/restore-deleted-records). A merge
        (POST /crm/v3/objects/{type}/merge) leaves the survivor, whose
        `hs_merged_object_ids` names the merged-away id.
        """
        for key in ("expired", "deleted", "restored", "merged"):
            summary[key] = {}
        cutoff = tick() - int(self.spec.archive_retention_days * DAY_MS)
        for fqn, store in self.stores.items():
            fresh = set(created_by_type.get(fqn, ()))
            archived_now = {store.index_of(r) for r in summary["archived"].get(fqn, ())}
            # HubSpot's recycle bin keeps deleted records for the retention window only.
            expired = [i for i in store.iter_archived() if store.archived_at(i) < cutoff]
            for i in expired:
                store.remove(i, tick(), "expired")
            deleted = []
            if store.counts()[0] > 10:
                deleted = [i for i in self._pick_live(store, rng, 2) if i not in fresh][:1]
            archived_pick = self._pick_archived(store, rng)
            if archived_pick in archived_now:
                archived_pick = None
            # Alternate steps purge one archived record from the recycle bin or restore one.
            if archived_pick is not None and self.step_count % 2:
                deleted.append(archived_pick)  # purged from the recycle bin
                archived_pick = None
            for i in deleted:
                store.remove(i, tick(), "deleted")
            restored = [] if archived_pick is None else [archived_pick]
            for i in restored:
                store.restore(i, tick())
            merged = []
            if store.type.name in MERGEABLE_TYPES and not store.type.custom and store.counts()[0] > 10:
                pick = [i for i in self._pick_live(store, rng, 4) if i not in fresh][:2]
                if len(pick) == 2:
                    survivor, away = pick
                    self._move_associations(fqn, away, survivor)
                    store.merge(survivor, away, tick())
                    merged.append({"id": str(store.record_id(away)),
                                   "into": str(store.record_id(survivor))})
            summary["expired"][fqn] = [str(store.record_id(i)) for i in expired]
            summary["deleted"][fqn] = [str(store.record_id(i)) for i in deleted]
            summary["restored"][fqn] = [str(store.record_id(i)) for i in restored]
            summary["merged"][fqn] = merged

    def _move_associations(self, fqn: str, away: int, survivor: int) -> None:
        """A merge moves the merged-away record's associations to the survivor."""
        for (child_fqn, parent_fqn), pair in self.pairs.items():
            if child_fqn == fqn:
                for p in pair.parents(away):
                    if not (parent_fqn == fqn and p == survivor):
                        pair.add(survivor, p)
            if parent_fqn == fqn:
                for c in list(pair.children(away)):
                    if not (child_fqn == fqn and c == survivor):
                        pair.add(c, survivor)

    @staticmethod
    def _pick_archived(store: RecordStore, rng: random.Random) -> int | None:
        """One archived index chosen by rng (the first archived at or after a random index)."""
        if store.counts()[1] == 0:
            return None
        start = rng.randrange(store.total)
        found = next(iter(store.iter_archived(start)), None)
        return found if found is not None else next(iter(store.iter_archived()), None)

    @staticmethod
    def _pick_live(store: RecordStore, rng: random.Random, k: int) -> list[int]:
        """Up to k distinct live indices, chosen by rng (bounded retries)."""
        picked: list[int] = []
        if store.total == 0:
            return picked
        for _ in range(k * 20):
            if len(picked) >= k:
                break
            i = rng.randrange(store.total)
            if i not in picked and store.is_live(i):
                picked.append(i)
        return picked
