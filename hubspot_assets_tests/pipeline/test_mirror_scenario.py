"""A true mirror over time: after a first sync and every one of many `advance` steps
(updates, creates, archives, restores, merges, permanent deletes, archive expiry,
association churn, events sent late), an incremental run leaves `source_{id}_objects`
and `source_{id}_relationships` equal to the sandbox's truth: live, archived, merged
(with the survivor) and gone; and the stream holds every event the truth lists within
the lookback. The same where HubSpot refuses account-wide event reads. A listing that
fails or stops early marks nothing.

The runs are the job the schedule launches (`hubspot_sync` for the partition, the
incremental mode), executed in-process; that the schedule launches them on its own
is `test_schedule_daemon.py`'s."""

import pymongo
import pytest

from hubspot_assets.hubspot import HubSpotClient
from hubspot_assets.hubspot.errors import ServerError
from hubspot_assets.timestamps import HOUR_MS
from hubspot_assets_tests.consolidate.expected import compare_consolidated
from hubspot_assets_tests.fixtures.pipeline import stage_metadata
from hubspot_assets_tests.pipeline.expected_events import check_events
from hubspot_assets_tests.sandbox import DEMO_PORTAL_ID, DEMO_TOKEN, truth

SIZES = {"contacts": 300, "companies": 40, "deals": 40, "tickets": 20}
STEPS = 10
EVERY_RUN = "    reconcile_every_hours: 0\n"
RETENTION_S = 20


def assert_mirror(pipeline, server):
    account = server.account(DEMO_PORTAL_ID)
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    comparison = compare_consolidated(db, "demo", account)
    assert comparison.complete, comparison.problems
    return db


def synced(pipeline, **kwargs):
    result = pipeline.sync("demo", **kwargs)
    assert result.success
    return stage_metadata(result)


@pytest.mark.parametrize("refused", [False, True], ids=["account-wide-events",
                                                     "events-per-object"])
def test_every_way_a_record_leaves_hubspot_reaches_mongodb(pipeline, sandbox_factory, refused):
    # Archived records are kept 20 s instead of 90 days: records archived by one step
    # expire a few steps (runs) later, the seeded archive (years old) at the first step.
    # Each step also sends one event per type 3 h late (inside the default lookback).
    server = sandbox_factory(sizes=SIZES, events_per_type=5, removals=True,
                             archive_retention_days=RETENTION_S / 86_400,
                             late_event_lags_ms=(3 * HOUR_MS,), events_need_object=refused)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url, extra=EVERY_RUN)
    first = synced(pipeline)
    assert first["object_records"]["mode"] == "full"
    assert first["consolidated_objects"]["reconciled_types"]
    assert ("events_fallback" in first["events"]) is refused
    assert_mirror(pipeline, server)
    check_events(pipeline, server.account(DEMO_PORTAL_ID), full=True)

    account = server.account(DEMO_PORTAL_ID)
    seen = {"merged": 0, "deleted": 0, "expired": 0, "restored": 0, "archived": 0}
    for _ in range(STEPS):
        step = server.advance(DEMO_PORTAL_ID)  # wall clock: the search keys on real time
        for key in seen:
            seen[key] += sum(len(v) for v in step[key].values())
        metadata = synced(pipeline)
        assert metadata["object_records"]["mode"] == "incremental"
        db = assert_mirror(pipeline, server)
        check_events(pipeline, account, full=False)
        objects = metadata["consolidated_objects"]
        assert not objects["reconciliation_skipped"], objects["reconciliation_skipped"]
    assert all(seen.values()), seen
    # Merged-away ids name their survivor; their edges are removed, the survivor's listed.
    merged = list(db["source_demo_objects"].find({"deleted_reason": "merged"}))
    assert merged and all(m["merged_into"] for m in merged)
    away = merged[0]
    edges = db["source_demo_relationships"]
    assert not edges.count_documents({"removed": False, "from_type": away["object_type"],
                                      "from_id": away["hubspot_id"]})
    gone = list(db["source_demo_objects"].find({"deleted_reason": "gone"}))
    assert gone and all(g["gone_since"] for g in gone)
    for g in gone:
        assert truth.object_states(account, g["object_type"])[g["hubspot_id"]] == ("gone", None)


def test_a_listing_that_fails_or_stops_early_marks_nothing(pipeline, sandbox_factory,
                                                           monkeypatch):
    server = sandbox_factory(sizes={"contacts": 200, "companies": 20, "deals": 20},
                             events_per_type=2, removals=True)
    pipeline.add_source("demo", token=DEMO_TOKEN, base_url=server.url, extra=EVERY_RUN)
    synced(pipeline)
    step = server.advance(DEMO_PORTAL_ID)
    left = {g["id"] for g in step["merged"]["contacts"]} | set(step["deleted"]["contacts"])
    assert left

    listed = HubSpotClient.iter_object_ids

    def stops_early(self, object_type, archived=False):
        for n, hubspot_id in enumerate(listed(self, object_type, archived=archived)):
            if object_type == "contacts" and n == 50:
                raise ServerError("injected: the id listing failed midway", status=500)
            yield hubspot_id

    monkeypatch.setattr(HubSpotClient, "iter_object_ids", stops_early)
    metadata = synced(pipeline)
    objects = metadata["consolidated_objects"]
    assert objects["reconciliation_skipped"] == {"contacts": "no complete live listing"}
    assert "companies" in objects["reconciled_types"]
    db = pymongo.MongoClient(pipeline.mongo_uri)[pipeline.database]
    stored = {d["hubspot_id"]: d for d in db["source_demo_objects"].find(
        {"object_type": "contacts", "hubspot_id": {"$in": sorted(left)}})}
    # Deleted contacts stay as they were (merges are learned from the survivor).
    assert all(stored[i]["deleted_reason"] in (None, "archived")
               for i in step["deleted"]["contacts"])
    assert db["source_demo_objects"].count_documents({"deleted_reason": "gone",
                                                      "object_type": "contacts"}) == 0
    assert metadata["object_records"]["reconciliation_incomplete"] == ["contacts"]

    monkeypatch.setattr(HubSpotClient, "iter_object_ids", listed)
    synced(pipeline)
    assert_mirror(pipeline, server)
