"""SyncPlan: when a stage runs in full, since when each unit is fetched, and which
watermarks a run may advance."""

from hubspot_assets.sync.plan import DAY_MS, MINUTE_MS, SyncPlan, SyncPolicy

NOW = 1_800_000_000_000
POLICY = SyncPolicy(overlap_ms=10 * MINUTE_MS, retention_ms=90 * DAY_MS)


def previous(**units):
    return {"run_id": "r0", "units": units}


def drain(plan, unit, items=(1, 2), fail=False):
    run = plan.track(unit, lambda: iter(items))
    try:
        for n, _ in enumerate(run()):
            if fail and n == 0:
                raise RuntimeError("unit failed")
    except RuntimeError:
        pass


def test_first_run_and_full_refresh_are_full():
    assert SyncPlan(None, POLICY, NOW).mode == "full"
    plan = SyncPlan(previous(contacts=NOW - DAY_MS), SyncPolicy(full_refresh=True), NOW)
    assert (plan.mode, plan.since("contacts")) == ("full", None)


def test_incremental_units_start_an_overlap_before_their_watermark():
    plan = SyncPlan(previous(contacts=NOW - DAY_MS), POLICY, NOW)
    assert plan.mode == "incremental"
    assert plan.since("contacts") == NOW - DAY_MS - 10 * MINUTE_MS
    assert plan.since("p123_pets") is None  # a type new since the last run: in full
    assert plan.full_units == {"p123_pets"}


def test_a_watermark_older_than_hubspots_retention_falls_back_to_a_full_sync():
    plan = SyncPlan(previous(contacts=NOW - 91 * DAY_MS), POLICY, NOW)
    assert (plan.mode, plan.expired) == ("full", True)
    assert "retention" in plan.reason


def test_only_completed_units_advance():
    plan = SyncPlan(previous(contacts=NOW - DAY_MS, deals=NOW - DAY_MS), POLICY, NOW)
    drain(plan, "contacts")
    drain(plan, "deals", fail=True)
    plan.expect("tickets")  # declared, no work: complete
    document = plan.watermark_document("r1")
    assert document["units"] == {"contacts": NOW, "deals": NOW - DAY_MS, "tickets": NOW}
    assert (document["completed"], document["incomplete"]) == (["contacts", "tickets"], ["deals"])


def test_a_unit_fetched_again_after_a_failure_completes():
    plan = SyncPlan(None, POLICY, NOW)
    run = plan.track("contacts->companies", lambda: iter([1]))
    try:
        for _ in run():
            raise RuntimeError("first attempt fails")
    except RuntimeError:
        pass
    assert plan.incomplete() == ["contacts->companies"]
    list(run())
    assert plan.completed() == ["contacts->companies"]


def test_corrupted_unit_watermarks_are_reset_and_reported_never_trusted():
    plan = SyncPlan(previous(contacts=NOW - DAY_MS, deals="yesterday", tickets=1.5e12,
                             companies=NOW + DAY_MS, notes=True), POLICY, NOW)
    assert plan.mode == "incremental"
    assert set(plan.units_reset) == {"deals", "tickets", "companies", "notes"}
    assert "future" in plan.units_reset["companies"]
    assert [plan.since(u) for u in ("deals", "companies")] == [None, None]
    assert plan.metadata()["units_reset"] == plan.units_reset
    assert len(plan.warnings()) == 4
    # A reset unit that completes gets a clean watermark; the bad ones are not kept.
    plan.expect("deals")
    assert plan.watermark_document("r1")["units"] == {"contacts": NOW - DAY_MS, "deals": NOW}


def test_an_unreadable_watermark_document_means_a_full_sync_with_the_reason():
    for stored in ({"run_id": "r0"}, {"units": ["contacts"]}, "garbage",
                   {"units": {"contacts": "soon"}}):
        plan = SyncPlan(stored, POLICY, NOW)
        assert plan.mode == "full", stored
        assert plan.metadata()["mode_reason"].startswith("watermarks ignored"), stored
        assert plan.warnings(), stored


def test_a_small_clock_skew_is_tolerated_and_distrust_forces_a_full_sync():
    assert SyncPlan(previous(contacts=NOW + MINUTE_MS), POLICY, NOW).mode == "incremental"
    plan = SyncPlan(previous(contacts=NOW - DAY_MS), POLICY, NOW, distrust="stream is gone")
    assert (plan.mode, plan.reason) == ("full", "watermarks ignored: stream is gone")


def test_a_lookback_longer_than_the_overlap_starts_the_unit_earlier():
    mark = NOW - DAY_MS
    plan = SyncPlan(previous(e_visited_page=mark), POLICY, NOW)
    assert plan.since("e_visited_page", lookback_ms=DAY_MS) == mark - DAY_MS
    assert plan.since("e_visited_page", lookback_ms=MINUTE_MS) == mark - 10 * MINUTE_MS


def test_a_piece_done_elsewhere_keeps_its_unit_pending_until_it_is_done():
    plan = SyncPlan(previous(e_visited_page=NOW - DAY_MS), POLICY, NOW)
    done = plan.piece("e_visited_page")
    drain(plan, "e_visited_page")
    assert plan.incomplete() == ["e_visited_page"]
    done()
    assert plan.completed() == ["e_visited_page"]
