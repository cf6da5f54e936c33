"""Current-state marketing collections: `source_{id}_lists`, `source_{id}_list_memberships`,
`source_{id}_forms`, `source_{id}_marketing_emails` and `source_{id}_campaigns`.

Lists. The latest finished records run searched every list, so its `list`
documents are the lists that exist: each is upserted by list id with
HubSpot's search fields at the top level, the `filterBranch` of the list's
newest `list_definition` (any run: definitions are only re-read when they
change) and `member_count` (its active memberships here); a list no longer
searched is marked `removed`, and so are its memberships. A run without any
list document (the scope missing, the unit failed) changes nothing.

Memberships. Memberships were stored by the events stage when it read a
list whole; such a read ends with a `list_membership_sweep` record. The
newest sweep of each list *is* that list's membership: the members are the
`list_membership` documents that sweep's run saw (its `seen_in` tag). Each is
upserted (`removed: false`), and every active membership of the list that
the sweep did not see is marked `removed` (never deleted). A list whose
sweep was applied already costs one read. When the members found do not add
up to the sweep's count (their sightings aged out), the list is left as it
was and named in `lists_not_consolidated`: never a wrong removal.

Forms. The latest records run listed every form, live and archived: each is
upserted by id (HubSpot's fields, `archived` as HubSpot says, and
`submission_count`: the submissions the stream holds), one no longer listed
is marked `removed`. Submissions stay in the stream (kind `form_submission`,
`object_type` = the form id), like events.

Campaigns are listed in full like forms: the latest records run's campaigns
are the current ones, others are marked `removed`.

Marketing emails. Runs read only the emails updated since the last one (and
the archived ones), so the current state is the newest version of each email
in the whole stream (by `updatedAt`, then when fetched); an archived email
keeps HubSpot's `archived: true`.

Memberships live in their own collection, not among the association edges:
a user asks "who is in list L" and "which lists hold contact C", which the
two indexes of `list_memberships` answer; a list is no CRM object, and
HubSpot itself keeps memberships apart from associations (docs/marketing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from hubspot_assets.mongo.bulk import batched, write
from hubspot_assets.mongo.collections import (
    campaigns_collection,
    forms_collection,
    list_memberships_collection,
    marketing_emails_collection,
    lists_collection,
    stream_collection,
)
from hubspot_assets.mongo.stored_stream import latest_stream
from hubspot_assets.stream.naming import OBJECT_RECORDS
from hubspot_assets.stream.records import (
    CAMPAIGN,
    FORM,
    FORM_SUBMISSION,
    LIST,
    LIST_DEFINITION,
    LIST_MEMBERSHIP,
    LIST_SWEEP,
    MARKETING_EMAIL,
    seen_tag,
)
from hubspot_assets.timestamps import utcnow


@dataclass
class MarketingSummary:
    lists: int = 0
    lists_new: int = 0
    lists_changed: int = 0
    lists_removed: int = 0
    lists_reason: str | None = None
    lists_swept: int = 0          # lists whose newest sweep was applied now
    memberships_added: int = 0    # new or back
    memberships_removed: int = 0
    lists_not_consolidated: list[str] = field(default_factory=list)
    forms: int = 0
    forms_removed: int = 0
    forms_reason: str | None = None
    emails: int = 0
    emails_written: int = 0
    campaigns: int = 0
    campaigns_removed: int = 0
    campaigns_reason: str | None = None

    def metadata(self) -> dict[str, Any]:
        """Counts, as plain values for asset metadata."""
        return {
            "lists": {"read": self.lists, "new": self.lists_new, "changed": self.lists_changed,
                      "removed": self.lists_removed, "reason": self.lists_reason},
            "list_memberships": {"lists_swept": self.lists_swept,
                                 "added": self.memberships_added,
                                 "removed": self.memberships_removed,
                                 "lists_not_consolidated": self.lists_not_consolidated},
            "forms": {"read": self.forms, "removed": self.forms_removed,
                      "reason": self.forms_reason},
            "marketing_emails": {"emails": self.emails, "written": self.emails_written},
            "campaigns": {"read": self.campaigns, "removed": self.campaigns_removed,
                          "reason": self.campaigns_reason},
        }


def membership_key(list_id: str, record_id: str) -> str:
    """`_id` of one membership in `source_{id}_list_memberships`."""
    return f"{list_id}|{record_id}"


def newest_per_list(db: Database, source_id: str, kind: str,
                    order: str = "fetched_at") -> dict[str, dict[str, Any]]:
    """The newest stream document of ``kind`` for each list id (in `object_type` for
    sweeps, `hubspot_id` for definitions)."""
    stream = stream_collection(db, source_id)
    by = "$object_type" if kind == LIST_SWEEP else "$hubspot_id"
    pipeline = [{"$match": {"kind": kind}}, {"$sort": {order: -1}},
                {"$group": {"_id": by, "doc": {"$first": "$$ROOT"}}}]
    return {str(row["_id"]): row["doc"] for row in stream.aggregate(pipeline)}


def consolidate_lists(db: Database, source_id: str, run_id: str,
                      summary: MarketingSummary) -> set[str] | None:
    """Bring `lists` in line with the latest records run; the ids of the lists removed
    (None when that run read no list)."""
    latest = latest_stream(db, source_id, OBJECT_RECORDS)
    if latest is None:
        summary.lists_reason = f"{OBJECT_RECORDS} has no finished run"
        return None
    found = [d for d in latest.filter(kind=LIST, projection={"data": 1, "hubspot_id": 1})
             if d.get("data") is not None]
    if not found:
        summary.lists_reason = "the latest records run read no list (see its skipped units)"
        return None
    definitions = newest_per_list(db, source_id, LIST_DEFINITION)
    collection = lists_collection(db, source_id)
    now = utcnow()
    summary.lists = len(found)
    operations = []
    for document in found:
        list_id = document["hubspot_id"]
        definition = (definitions.get(list_id) or {}).get("data") or {}
        fields = {**document["data"], "filterBranch": definition.get("filterBranch"),
                  "source_id": source_id, "removed": False, "removed_at": None,
                  "stream_id": document["_id"], "definition_id": definitions.get(
                      list_id, {}).get("_id"), "consolidated_run": run_id, "consolidated_at": now}
        stored = collection.find_one({"_id": list_id}, {"stream_id": 1, "definition_id": 1,
                                                        "removed": 1})
        if stored and not stored["removed"] and stored["stream_id"] == fields["stream_id"] \
                and stored.get("definition_id") == fields["definition_id"]:
            continue
        operations.append(UpdateOne({"_id": list_id}, {"$set": fields}, upsert=True))
    written = write(collection, operations)
    summary.lists_new += written.inserted
    summary.lists_changed += written.modified
    present = {d["hubspot_id"] for d in found}
    gone = {d["_id"] for d in collection.find({"removed": False}, {"_id": 1})} - present
    if gone:
        written = write(collection, [UpdateOne({"_id": key}, {"$set": {
            "removed": True, "removed_at": now, "consolidated_run": run_id,
            "consolidated_at": now}}) for key in sorted(gone)])
        summary.lists_removed += written.modified
    return gone


def consolidate_memberships(db: Database, source_id: str, run_id: str,
                            summary: MarketingSummary, removed_lists: set[str]) -> None:
    """Apply each list's newest sweep not applied yet; end the memberships of removed lists."""
    memberships = list_memberships_collection(db, source_id)
    lists = lists_collection(db, source_id)
    stream = stream_collection(db, source_id)
    now = utcnow()
    for list_id, sweep in sorted(newest_per_list(db, source_id, LIST_SWEEP,
                                                 order="hubspot_ts").items()):
        if list_id in removed_lists:
            continue
        stored = lists.find_one({"_id": list_id}, {"sweep_id": 1})
        if stored is not None and stored.get("sweep_id") == sweep["_id"]:
            continue
        data = sweep.get("data") or {}
        tag = seen_tag(sweep["run_id"], sweep["stage"])
        members: dict[str, dict[str, Any]] = {}
        for document in stream.find({"kind": LIST_MEMBERSHIP, "object_type": list_id,
                                     "seen_in": tag}, {"data": 1, "hubspot_id": 1,
                                                       "fetched_at": 1}):
            kept = members.get(document["hubspot_id"])
            if kept is None or document["fetched_at"] > kept["fetched_at"]:
                members[document["hubspot_id"]] = document
        if len(members) != data.get("members"):
            summary.lists_not_consolidated.append(
                f"{list_id}: the sweep of {data.get('sweptAt')} counted {data.get('members')} "
                f"members, the stream holds {len(members)} of them; next sweep applies")
            continue
        active = {d["record_id"] for d in memberships.find(
            {"list_id": list_id, "removed": False}, {"record_id": 1})}
        operations = [UpdateOne({"_id": membership_key(list_id, record_id)}, {"$set": {
            **(document.get("data") or {}), "list_id": list_id, "record_id": record_id,
            "object_type_id": data.get("objectTypeId"), "source_id": source_id,
            "removed": False, "removed_at": None, "stream_id": document["_id"],
            "consolidated_run": run_id, "consolidated_at": now}}, upsert=True)
            for record_id, document in members.items()]
        for batch in batched(operations):
            write(memberships, batch)
        summary.memberships_added += len(set(members) - active)
        summary.memberships_removed += _end(memberships, list_id, active - set(members),
                                            run_id, now)
        lists.update_one({"_id": list_id}, {"$set": {"sweep_id": sweep["_id"],
                                                     "members_swept_at": data.get("sweptAt")}})
        summary.lists_swept += 1
    for list_id in sorted(removed_lists):
        active = {d["record_id"] for d in memberships.find(
            {"list_id": list_id, "removed": False}, {"record_id": 1})}
        summary.memberships_removed += _end(memberships, list_id, active, run_id, now)
    for stored in lists.find({"removed": False}, {"_id": 1}):
        lists.update_one({"_id": stored["_id"]}, {"$set": {
            "member_count": memberships.count_documents({"list_id": stored["_id"],
                                                         "removed": False})}})


def _end(memberships: Any, list_id: str, record_ids: set[str], run_id: str, now: Any) -> int:
    removed = 0
    for batch in batched(sorted(record_ids)):
        removed += write(memberships, [UpdateOne(
            {"_id": membership_key(list_id, r), "removed": False},
            {"$set": {"removed": True, "removed_at": now, "consolidated_run": run_id,
                      "consolidated_at": now}}) for r in batch]).modified
    return removed


def consolidate_listed(db: Database, source_id: str, run_id: str, kind: str,
                       collection: Any, extra: Any = None) -> tuple[int, int, str | None]:
    """Bring a collection of a fully listed kind (forms, campaigns) in line with the
    latest records run: (documents read, marked removed, why nothing was done)."""
    latest = latest_stream(db, source_id, OBJECT_RECORDS)
    found = [] if latest is None else [
        d for d in latest.filter(kind=kind, projection={"data": 1, "hubspot_id": 1})
        if d.get("data") is not None]
    if not found:
        return 0, 0, f"the latest records run read no {kind} (see its skipped units)"
    now = utcnow()
    operations = [UpdateOne({"_id": d["hubspot_id"]}, {"$set": {
        **d["data"], **(extra(d) if extra else {}), "source_id": source_id, "removed": False,
        "removed_at": None, "stream_id": d["_id"], "consolidated_run": run_id,
        "consolidated_at": now}}, upsert=True) for d in found]
    for batch in batched(operations):
        write(collection, batch)
    gone = {d["_id"] for d in collection.find({"removed": False}, {"_id": 1})} - {
        d["hubspot_id"] for d in found}
    removed = write(collection, [UpdateOne({"_id": key}, {"$set": {
        "removed": True, "removed_at": now, "consolidated_run": run_id,
        "consolidated_at": now}}) for key in sorted(gone)]).modified
    return len(found), removed, None


def consolidate_forms(db: Database, source_id: str, run_id: str,
                      summary: MarketingSummary) -> None:
    """Bring `forms` in line with the latest records run (and count the submissions)."""
    stream = stream_collection(db, source_id)

    def count(document: dict[str, Any]) -> dict[str, Any]:
        return {"submission_count": stream.count_documents(
            {"kind": FORM_SUBMISSION, "object_type": document["hubspot_id"]})}

    summary.forms, summary.forms_removed, summary.forms_reason = consolidate_listed(
        db, source_id, run_id, FORM, forms_collection(db, source_id), count)


def consolidate_campaigns(db: Database, source_id: str, run_id: str,
                          summary: MarketingSummary) -> None:
    """Bring `campaigns` in line with the latest records run."""
    summary.campaigns, summary.campaigns_removed, summary.campaigns_reason = \
        consolidate_listed(db, source_id, run_id, CAMPAIGN, campaigns_collection(db, source_id))


def consolidate_emails(db: Database, source_id: str, run_id: str,
                       summary: MarketingSummary) -> None:
    """The newest version of every marketing email the stream holds."""
    stream = stream_collection(db, source_id)
    collection = marketing_emails_collection(db, source_id)
    newest = stream.aggregate([
        {"$match": {"kind": MARKETING_EMAIL}},
        {"$sort": {"hubspot_ts": -1, "fetched_at": -1}},
        {"$group": {"_id": "$hubspot_id", "stream_id": {"$first": "$_id"},
                    "data": {"$first": "$data"}}}])
    now = utcnow()
    operations = []
    for row in newest:
        if row.get("data") is None:
            continue
        summary.emails += 1
        stored = collection.find_one({"_id": row["_id"]}, {"stream_id": 1})
        if stored and stored.get("stream_id") == row["stream_id"]:
            continue
        operations.append(UpdateOne({"_id": row["_id"]}, {"$set": {
            **row["data"], "source_id": source_id, "stream_id": row["stream_id"],
            "consolidated_run": run_id, "consolidated_at": now}}, upsert=True))
    for batch in batched(operations):
        written = write(collection, batch)
        summary.emails_written += written.inserted + written.modified


def consolidate_marketing(db: Database, source_id: str, run_id: str) -> MarketingSummary:
    """Every marketing collection of a source, from the latest stream data."""
    summary = MarketingSummary()
    removed = consolidate_lists(db, source_id, run_id, summary)
    consolidate_memberships(db, source_id, run_id, summary, removed or set())
    consolidate_forms(db, source_id, run_id, summary)
    consolidate_emails(db, source_id, run_id, summary)
    consolidate_campaigns(db, source_id, run_id, summary)
    return summary

