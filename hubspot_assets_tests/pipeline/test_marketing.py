"""Marketing data through the whole pipeline: lists (with filters and member counts),
list memberships, forms, form submissions, marketing emails, campaigns and marketing email
events (in the stream, like submissions), consolidated
into source_{id}_lists, _list_memberships, _forms, _marketing_emails and _campaigns
(submissions in the stream), equal the
sandbox's ground truth after a full sync and after incremental ones that follow
`advance` (members added and removed, a list deleted and one created, filters changed);
unchanged lists cost no membership read, submissions are read down to each form's
watermark, emails changed since the watermark; a token without crm.lists.read, forms,
content or marketing.campaigns.read (or a tier without campaigns) skips them with
HubSpot's reason."""

import time

import pymongo

from hubspot_assets.hubspot.marketing import CAMPAIGN_PROPERTIES

from hubspot_assets.extract.marketing import (
    CAMPAIGNS_UNIT,
    EMAIL_EVENTS_UNIT,
    EMAILS_UNIT,
    FORMS_UNIT,
    LISTS_UNIT,
    MEMBERSHIP_LISTS_UNIT,
    SUBMISSION_FORMS_UNIT,
)
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN
from hubspot_assets_tests.sandbox import marketing as mk

SIZES = {"contacts": 400, "companies": 30, "deals": 4, "tickets": 2}
#: What the consolidation adds to HubSpot's fields.
LIST_OURS = {"_id", "source_id", "removed", "removed_at", "stream_id", "definition_id",
             "consolidated_run", "consolidated_at", "sweep_id", "members_swept_at",
             "member_count"}
MEMBER_OURS = {"_id", "source_id", "removed", "removed_at", "stream_id", "consolidated_run",
               "consolidated_at", "list_id", "record_id", "object_type_id"}


def db_of(pipeline):
    return pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]


def current_lists(pipeline, source_id="demo"):
    return {d["_id"]: {k: v for k, v in d.items() if k not in LIST_OURS}
            for d in db_of(pipeline)[f"source_{source_id}_lists"].find({"removed": False})}


def current_members(pipeline, source_id="demo"):
    return {d["_id"]: {k: v for k, v in d.items() if k not in MEMBER_OURS}
            for d in db_of(pipeline)[f"source_{source_id}_list_memberships"].find(
                {"removed": False})}


FORM_OURS = {"_id", "source_id", "removed", "removed_at", "stream_id", "consolidated_run",
             "consolidated_at", "submission_count"}


def assert_forms_match_truth(pipeline, server):
    account = server.account(DEMO_PORTAL_ID)
    db = db_of(pipeline)
    forms = {d["_id"]: d for d in db.source_demo_forms.find({"removed": False})}
    assert {k: {f: v for f, v in d.items() if f not in FORM_OURS}
            for k, d in forms.items()} == mk.truth_forms(account)
    truth = mk.truth_submissions(account)
    stream = pipeline.stream("demo")
    for form_id, expected in truth.items():
        stored = sorted((d["data"] for d in stream.find(
            {"kind": "form_submission", "object_type": form_id})),
            key=lambda s: s["submittedAt"], reverse=True)
        assert stored == expected, form_id
        assert forms[form_id]["submission_count"] == len(expected)


EMAIL_OURS = {"_id", "source_id", "stream_id", "consolidated_run", "consolidated_at"}


def assert_emails_match_truth(pipeline, server):
    emails = {d["_id"]: {k: v for k, v in d.items() if k not in EMAIL_OURS}
              for d in db_of(pipeline).source_demo_marketing_emails.find()}
    assert emails == mk.truth_emails(server.account(DEMO_PORTAL_ID))


def assert_campaigns_match_truth(pipeline, server):
    campaigns = {d["_id"]: {k: v for k, v in d.items() if k not in FORM_OURS}
                 for d in db_of(pipeline).source_demo_campaigns.find({"removed": False})}
    assert campaigns == mk.truth_campaigns(server.account(DEMO_PORTAL_ID),
                                           list(CAMPAIGN_PROPERTIES))
    assert all(c["properties"]["hs_name"] for c in campaigns.values())


def assert_email_events_match_truth(pipeline, server):
    stored = {d["hubspot_id"]: d["data"] for d in pipeline.stream("demo").find(
        {"kind": "email_event"})}
    assert stored == mk.truth_email_events(server.account(DEMO_PORTAL_ID))


def assert_marketing_matches_truth(pipeline, server):
    assert_email_events_match_truth(pipeline, server)
    assert_forms_match_truth(pipeline, server)
    assert_emails_match_truth(pipeline, server)
    assert_campaigns_match_truth(pipeline, server)
    account = server.account(DEMO_PORTAL_ID)
    assert current_lists(pipeline) == mk.truth_lists(account)
    truth = mk.truth_memberships(account)
    assert current_members(pipeline) == truth
    counts = {d["_id"]: d["member_count"] for d in db_of(pipeline).source_demo_lists.find(
        {"removed": False})}
    assert counts == {lid: int(x["additionalProperties"]["hs_list_size"])
                      for lid, x in mk.truth_lists(account).items()}


def wait_for_the_sandbox_clock(server):
    """`advance` dates each change a millisecond after the last, so its clock can run ahead
    of the wall clock; a run starting before it would see this step's email events only in
    the next run's window (the end of a window is the run's start)."""
    while time.time() * 1000 <= server.account(DEMO_PORTAL_ID).clock_ms:
        time.sleep(0.05)


def test_full_then_incremental_syncs_equal_the_truth(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    first = pipeline.sync("demo")
    assert first.success
    metadata = stage_metadata(first)
    assert metadata["object_records"]["lists"] == len(mk.BASE_LISTS)
    assert metadata["object_records"]["list_definitions"] == len(mk.BASE_LISTS)
    assert metadata["events"]["lists_swept"] == len(mk.BASE_LISTS)
    assert metadata["object_records"]["forms"] == len(mk.BASE_FORMS)
    assert metadata["object_records"]["marketing_emails"] == len(mk.BASE_EMAILS)
    assert metadata["object_records"]["campaigns"] == len(mk.BASE_CAMPAIGNS)
    full_events = metadata["events"]["email_events"]
    assert full_events == len(mk.truth_email_events(server.account(DEMO_PORTAL_ID)))
    assert metadata["events"]["form_submissions"] == sum(mk.BASE_SUBMISSIONS)
    assert_marketing_matches_truth(pipeline, server)

    removed_total = added_total = 0
    for _ in range(4):
        before = mk.truth_memberships(server.account(DEMO_PORTAL_ID))  # step 2 and 4 change filters, 3 creates a list, 4 deletes list 2
        server.advance(DEMO_PORTAL_ID)
        wait_for_the_sandbox_clock(server)
        result = pipeline.sync("demo")
        assert result.success
        metadata = stage_metadata(result)
        assert metadata["object_records"]["mode"] == "incremental"
        assert metadata["events"]["mode"] == "incremental"
        assert_marketing_matches_truth(pipeline, server)
        summary = metadata["consolidated_marketing"]["list_memberships"]
        assert summary["lists_not_consolidated"] == []
        after = mk.truth_memberships(server.account(DEMO_PORTAL_ID))
        assert summary["removed"] == len(set(before) - set(after))  # exactly, step by step
        assert summary["added"] == len(set(after) - set(before))
        removed_total += summary["removed"]
        added_total += summary["added"]
        # only the lists whose members or definition changed were read again
        swept = metadata["events"].get("lists_swept", 0)
        assert swept + metadata["events"].get("lists_unchanged", 0) == len(
            mk.truth_lists(server.account(DEMO_PORTAL_ID)))
        assert metadata["object_records"].get("list_definitions", 0) < len(mk.BASE_LISTS)
        # submissions are read down to each form's watermark, not in full
        assert metadata["events"]["form_submissions"] < sum(mk.BASE_SUBMISSIONS)
        # email events: a time window from the watermark minus the 10-minute overlap,
        # which still holds every earlier step's events (all made within minutes)
        assert metadata["events"]["email_events"] == len(
            mk.truth_email_events(server.account(DEMO_PORTAL_ID))) - full_events
        # emails: only those updated since the watermark (one edit a step, within overlap)
        assert metadata["object_records"].get("marketing_emails", 0) < len(
            mk.truth_emails(server.account(DEMO_PORTAL_ID)))
    assert removed_total > 0 and added_total > 0
    # Nothing changed since (no overlap asked for): no list is read again, none is lost.
    quiet = pipeline.sync("demo", overlap_minutes=0)
    assert quiet.success
    metadata = stage_metadata(quiet)
    assert metadata["events"].get("lists_swept", 0) == 0
    assert metadata["events"]["lists_unchanged"] == len(mk.truth_lists(
        server.account(DEMO_PORTAL_ID)))
    assert metadata["object_records"].get("list_definitions", 0) == 0
    assert metadata["events"].get("form_submissions", 0) == 0
    assert metadata["object_records"].get("marketing_emails", 0) == 0
    assert metadata["events"].get("email_events", 0) == 0
    assert_marketing_matches_truth(pipeline, server)
    db = db_of(pipeline)
    assert db.source_demo_campaigns.count_documents({"removed": True}) == 1
    gone = db.source_demo_lists.find_one({"_id": mk.DELETED_LIST})
    assert gone["removed"] is True
    assert db.source_demo_list_memberships.count_documents(
        {"list_id": mk.DELETED_LIST, "removed": False}) == 0
    assert db.source_demo_list_memberships.count_documents(
        {"list_id": mk.DELETED_LIST, "removed": True}) > 0
    # "which lists hold this contact": the other end of the membership index
    some = next(iter(after)).split("|")[1]
    held = {d["list_id"] for d in db.source_demo_list_memberships.find(
        {"object_type_id": "0-1", "record_id": some, "removed": False})}
    assert held == {k.split("|")[0] for k in after if k.split("|")[1] == some}


def test_a_token_without_the_marketing_scopes_skips_only_them(pipeline, sandbox_factory):
    server = sandbox_factory(sizes=SIZES, denied_types={"lists", "forms", "marketing_emails",
                                                           "campaigns", "email_events"})
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url)
    result = pipeline.sync("demo")
    assert result.success
    metadata = stage_metadata(result)
    for stage, unit, scope in (("object_records", LISTS_UNIT, mk.LISTS_SCOPE),
                               ("events", MEMBERSHIP_LISTS_UNIT, mk.LISTS_SCOPE),
                               ("object_records", FORMS_UNIT, mk.FORMS_SCOPE),
                               ("events", SUBMISSION_FORMS_UNIT, mk.FORMS_SCOPE),
                               ("object_records", EMAILS_UNIT, mk.EMAILS_SCOPE),
                               ("object_records", CAMPAIGNS_UNIT, mk.CAMPAIGNS_SCOPE),
                               ("events", EMAIL_EVENTS_UNIT, mk.EMAILS_SCOPE)):
        skipped = {d["unit"]: d["message"] for d in metadata[stage]["error_details"]
                   if d.get("skipped")}
        assert scope in skipped[unit], skipped
        assert metadata[stage]["errors"] == 0
    assert metadata["object_records"]["records"] > 0
    assert current_lists(pipeline) == {}
    assert "no list" in metadata["consolidated_marketing"]["lists"]["reason"]
    assert "no form" in metadata["consolidated_marketing"]["forms"]["reason"]
