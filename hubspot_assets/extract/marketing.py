"""Marketing data outside the CRM object APIs: lists and forms (records stage), list
memberships and form submissions (events stage). See docs/marketing.md.

Lists. Every run searches every list (one call per 500 lists: HubSpot's list
search has no "changed since" filter); the filter definitions, which only the
multi-list fetch returns, are read for the lists whose `filtersUpdatedAt` or
`updatedAt` lies after the `lists` unit's watermark (all of them on a full run).

Memberships. HubSpot lists a list's current members and nothing about removed
ones, so a membership change is seen by reading the whole list again and
comparing (like the association sweep). A list is read again only when it
may have changed since its own watermark (unit `list:{listId}`): its
`hs_last_record_added_at`, `hs_last_record_removed_at`, `updatedAt` or
`filtersUpdatedAt` lies after it. Each complete read ends with a
`list_membership_sweep` record (how many members, when), which is what lets
the consolidation mark removed members exactly; a read that fails stores no
sweep, keeps the old watermark and is read again next run.

Forms are listed in full every run, live and archived (no "changed since"
filter; a few calls). Submissions are read per form (unit `form:{formId}`)
newest first, down to the form's watermark minus the overlap: HubSpot's
legacy submissions endpoint has no time filter, but its order lets a run stop
at the first submission older than that.

Marketing emails are listed with `updatedAfter` = the `marketing_emails`
watermark minus the overlap (all of them on a full run), and the archived
ones in full every run (how HubSpot shows a deleted email). Campaigns are
listed in full every run (the listing has no "changed since" filter).

Marketing email events (sent, delivered, opened, clicked, bounced, ...) come
from HubSpot's only email events endpoint, the legacy v1 one, read in a time
window: from the `email_events` watermark minus the overlap to the run's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hubspot_assets.extract.units import StageReport, interleave
from hubspot_assets.hubspot import marketing
from hubspot_assets.stream.records import (
    CAMPAIGN,
    EMAIL_EVENT,
    FORM,
    FORM_SUBMISSION,
    LIST,
    LIST_DEFINITION,
    LIST_MEMBERSHIP,
    LIST_SWEEP,
    MARKETING_EMAIL,
    StreamRecord,
    data_hash,
)
from hubspot_assets.sync.plan import SyncPlan
from hubspot_assets.timestamps import epoch_ms, iso

LISTS_UNIT = "lists"
MEMBERSHIP_LISTS_UNIT = "lists (for memberships)"
FORMS_UNIT = "forms"
EMAILS_UNIT = "marketing_emails"
CAMPAIGNS_UNIT = "campaigns"
EMAIL_EVENTS_UNIT = "email_events"
SUBMISSION_FORMS_UNIT = "forms (for submissions)"
#: `additionalProperties` of a searched list that move when its members change.
MEMBER_CHANGE_FIELDS = ("hs_last_record_added_at", "hs_last_record_removed_at")


def list_unit(list_id: str) -> str:
    """The watermark unit of one list's memberships."""
    return f"list:{list_id}"


def changed_at(found: dict[str, Any], *fields: str) -> int:
    """The latest of a searched list's named timestamps (epoch ms; 0 if none)."""
    extra = found.get("additionalProperties") or {}
    marks = [epoch_ms(found.get(f)) for f in fields] + [epoch_ms(extra.get(f)) for f in fields]
    return max([m for m in marks if m is not None], default=0)


def list_records(client: Any, report: StageReport,
                 plan: SyncPlan | None = None) -> Iterator[StreamRecord]:
    """Every list (as searched) and the filter definitions of those changed since the
    `lists` watermark."""
    plan = plan or SyncPlan.full()

    def fetch() -> Iterator[StreamRecord]:
        since = plan.since(LISTS_UNIT)
        found = marketing.search_lists(client)
        for item in found:
            report.count("lists")
            yield StreamRecord(LIST, item.get("objectTypeId"), str(item["listId"]), item,
                               item.get("updatedAt"))
        changed = [str(item["listId"]) for item in found
                   if since is None or changed_at(item, "updatedAt", "filtersUpdatedAt") >= since]
        for start in range(0, len(changed), marketing.LISTS_BATCH_SIZE):
            for definition in marketing.get_lists(
                    client, changed[start:start + marketing.LISTS_BATCH_SIZE]):
                report.count("list_definitions")
                yield StreamRecord(LIST_DEFINITION, definition.get("objectTypeId"),
                                   str(definition["listId"]), definition,
                                   definition.get("filtersUpdatedAt"))

    yield from report.guarded(LISTS_UNIT, plan.track(LISTS_UNIT, fetch))


def membership_records(client: Any, report: StageReport, *, max_workers: int,
                       plan: SyncPlan | None = None) -> Iterator[StreamRecord]:
    """The members of every list that may have changed since its watermark, each list
    read whole and closed by a sweep record."""
    plan = plan or SyncPlan.full()
    found = list(report.guarded(MEMBERSHIP_LISTS_UNIT, lambda: marketing.search_lists(client)))
    due = []
    for item in found:
        unit = list_unit(str(item["listId"]))
        since = plan.since(unit)
        if since is None or changed_at(item, "updatedAt", "filtersUpdatedAt",
                                       *MEMBER_CHANGE_FIELDS) >= since:
            due.append(item)
        else:
            plan.expect(unit)  # unchanged: complete without a call
            report.count("lists_unchanged")

    def sweep(item: dict[str, Any]) -> Iterator[StreamRecord]:
        list_id, type_id = str(item["listId"]), item.get("objectTypeId")

        def read() -> Iterator[StreamRecord]:
            members = 0
            for member in marketing.iter_memberships(client, list_id):
                members += 1
                yield StreamRecord(LIST_MEMBERSHIP, list_id, str(member["recordId"]), member,
                                   member.get("membershipTimestamp"))
            report.count("list_memberships", members)
            report.count("lists_swept")
            swept_at = iso(plan.started_ms)
            yield StreamRecord(LIST_SWEEP, list_id, f"{list_id}@{swept_at}",
                               {"listId": list_id, "objectTypeId": type_id, "members": members,
                                "sweptAt": swept_at}, swept_at)

        yield from report.guarded(f"memberships of list {list_id}",
                                  plan.track(list_unit(list_id), read))

    yield from interleave(due, sweep, max_workers=max_workers)


def form_unit(form_id: str) -> str:
    """The watermark unit of one form's submissions."""
    return f"form:{form_id}"


def _all_forms(client: Any) -> list[dict]:
    return marketing.list_forms(client) + marketing.list_forms(client, archived=True)


def form_records(client: Any, report: StageReport) -> Iterator[StreamRecord]:
    """Every form, live and archived."""
    for form in report.guarded(FORMS_UNIT, lambda: _all_forms(client)):
        report.count("forms")
        yield StreamRecord(FORM, form.get("formType"), str(form["id"]), form,
                           form.get("updatedAt"))


def submission_id(submission: dict[str, Any]) -> str:
    """A submission's identity: HubSpot's `conversionId` when it gives one, else its
    time and content (a submission never changes once made)."""
    if submission.get("conversionId"):
        return str(submission["conversionId"])
    return f"{submission['submittedAt']}-{data_hash(submission)[:16]}"


def submission_records(client: Any, report: StageReport, *, max_workers: int,
                       plan: SyncPlan | None = None) -> Iterator[StreamRecord]:
    """The submissions of every form (live and archived) since each form's watermark."""
    plan = plan or SyncPlan.full()
    forms = list(report.guarded(SUBMISSION_FORMS_UNIT, lambda: _all_forms(client)))

    def read(form: dict[str, Any]) -> Iterator[StreamRecord]:
        form_id = str(form["id"])
        unit = form_unit(form_id)
        since = plan.since(unit)

        def fetch() -> Iterator[StreamRecord]:
            for submission in marketing.iter_submissions(client, form_id, since):
                report.count("form_submissions")
                yield StreamRecord(FORM_SUBMISSION, form_id, submission_id(submission),
                                   submission, submission["submittedAt"])

        yield from report.guarded(f"submissions of form {form_id}", plan.track(unit, fetch))

    yield from interleave(forms, read, max_workers=max_workers)


def email_records(client: Any, report: StageReport,
                  plan: SyncPlan | None = None) -> Iterator[StreamRecord]:
    """Marketing emails updated since the watermark (all on a full run), and every
    archived one."""
    plan = plan or SyncPlan.full()

    def fetch() -> Iterator[StreamRecord]:
        since = plan.since(EMAILS_UNIT)
        for archived in (False, True):
            for email in marketing.list_emails(client, None if archived else since,
                                               archived=archived):
                report.count("archived_marketing_emails" if archived else "marketing_emails")
                yield StreamRecord(MARKETING_EMAIL, None, str(email["id"]), email,
                                   email.get("updatedAt"))

    yield from report.guarded(EMAILS_UNIT, plan.track(EMAILS_UNIT, fetch))


def campaign_records(client: Any, report: StageReport) -> Iterator[StreamRecord]:
    """Every campaign (Marketing Hub Professional: other tiers answer 403, a skip)."""
    for campaign in report.guarded(CAMPAIGNS_UNIT, lambda: marketing.list_campaigns(client)):
        report.count("campaigns")
        yield StreamRecord(CAMPAIGN, None, str(campaign["id"]), campaign,
                           campaign.get("updatedAt"))


def email_event_records(client: Any, report: StageReport,
                        plan: SyncPlan | None = None) -> Iterator[StreamRecord]:
    """Every marketing email event created since the watermark (all on a full run), up to
    the run's start (the next run's window begins there, minus the overlap)."""
    plan = plan or SyncPlan.full()

    def fetch() -> Iterator[StreamRecord]:
        for event in marketing.iter_email_events(client, plan.since(EMAIL_EVENTS_UNIT),
                                                 plan.started_ms):
            report.count("email_events")
            yield StreamRecord(EMAIL_EVENT, event.get("type"), str(event["id"]), event,
                               event["created"])

    yield from report.guarded(EMAIL_EVENTS_UNIT, plan.track(EMAIL_EVENTS_UNIT, fetch))
