"""Cadences: parsing with errors that name the field and the fix, due runs, freshness."""

from datetime import datetime, timedelta

import pytest

from hubspot_assets.cadence import (
    DEFAULT_FULL_RESYNC_CRON,
    DEFAULT_SYNC_CRON,
    Cadence,
    CadenceError,
    SourceSchedule,
    due_run,
    judge_freshness,
    parse_cadence,
    parse_duration,
    parse_schedule,
)
from hubspot_assets.timestamps import UTC

MINUTE = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- parsing ---------------------------------------------------------------------------

def test_an_empty_block_takes_the_built_in_defaults():
    schedule = parse_schedule(None)
    assert schedule.sync == Cadence(DEFAULT_SYNC_CRON, "UTC")
    assert schedule.full_resync == Cadence(DEFAULT_FULL_RESYNC_CRON, "UTC")
    assert schedule.max_lag is None
    assert schedule.allowed_lag() == timedelta(hours=2)  # twice the hourly gap


def test_source_keys_override_the_registry_defaults_key_by_key():
    defaults = {"timezone": "Europe/Berlin", "sync": "*/30 * * * *", "max_lag": "3h"}
    schedule = parse_schedule({"sync": "0 2 * * *", "full_resync": False}, defaults=defaults)
    assert schedule.sync == Cadence("0 2 * * *", "Europe/Berlin")
    assert schedule.full_resync is None
    assert schedule.max_lag == timedelta(hours=3)
    inherited = parse_schedule(None, defaults=defaults)
    assert inherited.sync == Cadence("*/30 * * * *", "Europe/Berlin")
    # The built-in full re-sync follows the block's time zone too.
    assert inherited.full_resync == Cadence(DEFAULT_FULL_RESYNC_CRON, "Europe/Berlin")


def test_a_cadence_may_carry_its_own_time_zone_and_aliases_are_expanded():
    cadence = parse_cadence({"cron": "@daily", "timezone": "America/New_York"}, "schedule.sync")
    assert cadence == Cadence("0 0 * * *", "America/New_York")


def test_off_turns_a_cadence_off_and_then_nothing_is_judged():
    schedule = parse_schedule({"sync": False, "full_resync": False})
    assert schedule.sync is None and schedule.full_resync is None
    assert schedule.allowed_lag() is None
    assert due_run(schedule, now=at("2026-01-01T13:00:00"), last_sync_at=None,
                   last_full_at=None, window=MINUTE) is None


@pytest.mark.parametrize("value, words", [
    ("61 * * * *", ["schedule.sync", "'61 * * * *'", "not a valid cron", "five fields"]),
    ("0 * * *", ["schedule.sync", "not a cron expression", "five fields"]),
    ("0 0 30 2 *", ["schedule.sync", "not a valid cron"]),
    (15, ["schedule.sync", "in quotes or false"]),
    ({"cron": "0 * * * *", "tz": "UTC"}, ["schedule.sync", "'cron' (required)"]),
])
def test_a_bad_cron_names_the_field_and_the_fix(value, words):
    with pytest.raises(CadenceError) as caught:
        parse_schedule({"sync": value})
    for word in words:
        assert word in str(caught.value)


def test_bad_time_zone_duration_and_keys_name_the_field():
    with pytest.raises(CadenceError, match=r"schedule.timezone: 'Europe/Berln' is not an IANA"):
        parse_schedule({"timezone": "Europe/Berln"})
    with pytest.raises(CadenceError, match=r"schedule.full_resync.timezone"):
        parse_schedule({"full_resync": {"cron": "0 3 * * 0", "timezone": "Mars/Olympus"}})
    with pytest.raises(CadenceError, match=r"schedule.max_lag must be a positive duration"):
        parse_schedule({"max_lag": "soon"})
    with pytest.raises(CadenceError, match=r"unknown key\(s\) \['cron'\]"):
        parse_schedule({"cron": "0 * * * *"})


@pytest.mark.parametrize("value, minutes", [(90, 90), ("90m", 90), ("3h", 180),
                                            ("1d12h", 2160), ("2h30m", 150)])
def test_durations(value, minutes):
    assert parse_duration(value, "max_lag") == timedelta(minutes=minutes)


@pytest.mark.parametrize("value", [0, -5, True, "", "3 hours", "h"])
def test_bad_durations(value):
    with pytest.raises(CadenceError):
        parse_duration(value, "schedule.max_lag")


# -- occurrences -----------------------------------------------------------------------

def test_latest_is_at_or_before_and_next_is_after():
    hourly = Cadence("0 * * * *")
    assert hourly.latest(at("2026-01-01T13:00:00")) == at("2026-01-01T13:00:00")
    assert hourly.latest(at("2026-01-01T13:59:59")) == at("2026-01-01T13:00:00")
    assert hourly.next_after(at("2026-01-01T13:00:00")) == at("2026-01-01T14:00:00")


def test_occurrences_follow_the_time_zone_across_dst():
    # 02:00 Berlin is 01:00 UTC in winter, 00:00 UTC in summer (DST from 29 March 2026).
    nightly = Cadence("0 2 * * *", "Europe/Berlin")
    assert nightly.latest(at("2026-03-28T12:00:00")) == at("2026-03-28T01:00:00")
    assert nightly.latest(at("2026-03-30T12:00:00")) == at("2026-03-30T00:00:00")


def test_longest_gap():
    assert Cadence("*/15 * * * *").longest_gap() == timedelta(minutes=15)
    # Weekdays at 09:00: Friday to Monday is the longest wait.
    assert Cadence("0 9 * * 1-5").longest_gap() == timedelta(days=3)
    assert parse_schedule({"sync": "0 9 * * 1-5"}).allowed_lag() == timedelta(days=6)


# -- due runs --------------------------------------------------------------------------

HOURLY = SourceSchedule(sync=Cadence("0 * * * *"), full_resync=Cadence("0 3 * * 0"))


def test_a_source_with_no_runs_is_due_only_in_the_window_of_an_occurrence():
    assert due_run(HOURLY, now=at("2026-01-01T13:30:00"), last_sync_at=None,
                   last_full_at=None, window=MINUTE) is None
    due = due_run(HOURLY, now=at("2026-01-01T13:00:00"), last_sync_at=None,
                  last_full_at=None, window=MINUTE)
    assert due.mode == "incremental" and due.occurrence == at("2026-01-01T13:00:00")


def test_an_occurrence_after_the_latest_run_is_due_once():
    now = at("2026-01-01T13:00:00")
    due = due_run(HOURLY, now=now, last_sync_at=at("2026-01-01T12:00:05"), last_full_at=None,
                  window=MINUTE)
    assert due.occurrence == now
    assert due.run_key("acme") == "incremental:acme:2026-01-01T13:00:00+00:00"
    # Once a run exists (created after the occurrence), the next ticks request nothing.
    for minutes in (1, 2, 59):
        assert due_run(HOURLY, now=now + minutes * MINUTE, last_sync_at=now + 5 * MINUTE / 60,
                       last_full_at=None, window=MINUTE) is None


def test_missed_occurrences_cost_one_catch_up_run():
    # The daemon was down from 09:30 to 13:20: one run for the latest occurrence, 13:00.
    due = due_run(HOURLY, now=at("2026-01-01T13:20:00"), last_sync_at=at("2026-01-01T09:00:01"),
                  last_full_at=None, window=MINUTE)
    assert due.occurrence == at("2026-01-01T13:00:00")


def test_a_due_full_resync_replaces_the_incremental():
    sunday_3am = at("2026-01-04T03:00:00")  # a Sunday
    due = due_run(HOURLY, now=sunday_3am, last_sync_at=at("2026-01-04T02:00:01"),
                  last_full_at=at("2025-12-28T03:00:02"), window=MINUTE)
    assert due.mode == "full" and due.occurrence == sunday_3am
    # The full run serves the incremental occurrence of the same time as well.
    ran = sunday_3am + timedelta(seconds=2)
    assert due_run(HOURLY, now=sunday_3am + MINUTE, last_sync_at=ran, last_full_at=ran,
                   window=MINUTE) is None


def test_a_manual_run_after_an_occurrence_serves_it():
    assert due_run(HOURLY, now=at("2026-01-01T13:40:00"), last_sync_at=at("2026-01-01T13:10:00"),
                   last_full_at=None, window=MINUTE) is None


# -- freshness -------------------------------------------------------------------------

def test_freshness_verdicts():
    now, allowed = at("2026-01-01T13:00:00"), timedelta(hours=2)
    fresh = judge_freshness(at("2026-01-01T12:00:00"), now=now, allowed=allowed)
    assert fresh.passed and fresh.lag == timedelta(hours=1) and "within" in fresh.description
    stale = judge_freshness(at("2026-01-01T10:30:00"), now=now, allowed=allowed)
    assert not stale.passed and "2h30m ago, older than the allowed 2h" in stale.description
    never = judge_freshness(None, now=now, allowed=allowed)
    assert not never.passed and "no successful sync yet" in never.description
    unjudged = judge_freshness(None, now=now, allowed=None)
    assert unjudged.passed and "no freshness expectation" in unjudged.description
