"""Sync cadences: when a source syncs, when it re-syncs in full, how stale it may get.

Plain Python (no Dagster): the registry parses cadences with these functions,
the Dagster schedule asks :func:`due_run` which run a source needs at a tick,
and the freshness checks ask :func:`judge_freshness` whether a source is late.
Cron expressions are evaluated by `cronsim` (zero dependencies, DST-aware,
walks forwards and backwards); time zones are IANA names (`zoneinfo`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from hubspot_assets.timestamps import UTC

DEFAULT_TIMEZONE = "UTC"
#: Incremental sync: every hour, on the hour.
DEFAULT_SYNC_CRON = "0 * * * *"
#: Full re-sync: Sundays at 03:00 (a full read costs what the first sync cost).
DEFAULT_FULL_RESYNC_CRON = "0 3 * * 0"
#: Without an explicit max_lag, a source may miss this many sync occurrences in a row.
DEFAULT_LAG_GAPS = 2

#: The keys of a `schedule:` block, registry-wide or per source.
SCHEDULE_KEYS = ("timezone", "sync", "full_resync", "max_lag")
MODE_FULL = "full"
MODE_INCREMENTAL = "incremental"

_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
            "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
            "@annually": "0 0 1 1 *"}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_CRON_HINT = ("five fields (minute hour day-of-month month day-of-week), e.g. '0 * * * *' "
              "hourly or '*/15 * * * *' every 15 minutes, or false to turn it off")
# A fixed start for measuring gaps, so that a cadence's allowed lag does not depend
# on the day the registry is read (DST shifts it by at most an hour).
_GAP_FROM = datetime(2026, 1, 1, tzinfo=UTC)
_GAP_HORIZON = timedelta(days=5 * 366)
_GAP_SAMPLES = 2000


class CadenceError(ValueError):
    """A cadence setting that cannot be used; the message names the field and the fix."""


@dataclass(frozen=True)
class Cadence:
    """A cron expression in a time zone: the times a run is due."""

    cron: str
    timezone: str = DEFAULT_TIMEZONE

    def latest(self, at: datetime) -> datetime:
        """The latest occurrence at or before `at` (UTC)."""
        # cronsim's reverse walk is strict (< start); occurrences fall on whole minutes.
        start = at.astimezone(self._zone()).replace(second=0, microsecond=0)
        previous = next(CronSim(self.cron, start + timedelta(seconds=1), reverse=True))
        return previous.astimezone(UTC)

    def next_after(self, at: datetime) -> datetime:
        """The first occurrence after `at` (UTC)."""
        return next(CronSim(self.cron, at.astimezone(self._zone()))).astimezone(UTC)

    def longest_gap(self) -> timedelta:
        """The longest time between two occurrences (over the next few years)."""
        times = CronSim(self.cron, _GAP_FROM.astimezone(self._zone()))
        previous, longest = next(times), timedelta(0)
        for _ in range(_GAP_SAMPLES):
            current = next(times, None)
            if current is None or current - _GAP_FROM > _GAP_HORIZON:
                break
            longest = max(longest, current - previous)
            previous = current
        return longest or _GAP_HORIZON

    def describe(self) -> str:
        return f"{self.cron} ({self.timezone})"

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class SourceSchedule:
    """A source's cadences (None: off) and the lag after which it counts as stale."""

    sync: Cadence | None = Cadence(DEFAULT_SYNC_CRON)
    full_resync: Cadence | None = Cadence(DEFAULT_FULL_RESYNC_CRON)
    max_lag: timedelta | None = None  # None: DEFAULT_LAG_GAPS x the sync cadence's gap

    def allowed_lag(self) -> timedelta | None:
        """How old the last good sync may be; None when nothing says (no cadence, no max_lag)."""
        if self.max_lag is not None:
            return self.max_lag
        if self.sync is None:
            return None
        return DEFAULT_LAG_GAPS * self.sync.longest_gap()


@dataclass(frozen=True)
class DueRun:
    """The run a source needs now: its mode and the cadence occurrence it serves."""

    mode: str
    occurrence: datetime

    def run_key(self, source_id: str) -> str:
        """One run per source, mode and occurrence, however often the tick is evaluated."""
        return f"{self.mode}:{source_id}:{self.occurrence.isoformat()}"


@dataclass(frozen=True)
class Freshness:
    """A freshness verdict: passed, why, and the numbers behind it."""

    passed: bool
    description: str
    lag: timedelta | None
    allowed: timedelta | None


# -- parsing ---------------------------------------------------------------------------

def parse_schedule(block: Any, *, field: str = "schedule",
                   defaults: dict[str, Any] | None = None) -> SourceSchedule:
    """A `schedule:` mapping (keys `SCHEDULE_KEYS`) over `defaults` (the registry-wide block).

    Each key missing from `block` comes from `defaults`; a key missing from both
    takes the built-in default. A cadence set to `false` is off.
    """
    block = check_block(block, field)
    merged = {**check_block(defaults, field), **block}
    zone = parse_timezone(merged.get("timezone", DEFAULT_TIMEZONE), f"{field}.timezone")
    built_in = SourceSchedule()
    return SourceSchedule(
        sync=parse_cadence(merged["sync"], f"{field}.sync", zone)
        if "sync" in merged else _in_zone(built_in.sync, zone),
        full_resync=parse_cadence(merged["full_resync"], f"{field}.full_resync", zone)
        if "full_resync" in merged else _in_zone(built_in.full_resync, zone),
        max_lag=parse_duration(merged["max_lag"], f"{field}.max_lag")
        if merged.get("max_lag") is not None else None,
    )


def check_block(block: Any, field: str) -> dict[str, Any]:
    """A `schedule:` block as a mapping with known keys only (None: empty)."""
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise CadenceError(f"{field} must be a mapping with keys among {list(SCHEDULE_KEYS)}, "
                           f"e.g. {field}: {{sync: '0 * * * *'}}, not {block!r}.")
    unknown = sorted(set(block) - set(SCHEDULE_KEYS))
    if unknown:
        raise CadenceError(f"{field} has unknown key(s) {unknown}; allowed: {list(SCHEDULE_KEYS)}.")
    return dict(block)


def parse_cadence(value: Any, field: str, zone: str = DEFAULT_TIMEZONE) -> Cadence | None:
    """`false` (off), a cron string in `zone`, or `{cron: ..., timezone: ...}`."""
    if value is False:
        return None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"cron", "timezone"})
        if unknown or "cron" not in value:
            raise CadenceError(f"{field} as a mapping takes 'cron' (required) and 'timezone', "
                               f"e.g. {{cron: '0 2 * * *', timezone: Europe/Berlin}}.")
        zone = parse_timezone(value.get("timezone", zone), f"{field}.timezone")
        value = value["cron"]
    if not isinstance(value, str):
        raise CadenceError(f"{field} must be a cron expression in quotes or false, not {value!r}: "
                           f"{_CRON_HINT}.")
    cron = _ALIASES.get(value.strip(), value.strip())
    if len(cron.split()) != 5:
        raise CadenceError(f"{field}: {value!r} is not a cron expression; write {_CRON_HINT}.")
    try:
        next(CronSim(cron, datetime.now(ZoneInfo(zone))))
    except (CronSimError, StopIteration) as exc:
        reason = str(exc) or "it never occurs"
        raise CadenceError(f"{field}: {value!r} is not a valid cron expression ({reason}); "
                           f"write {_CRON_HINT}.") from None
    return Cadence(cron=cron, timezone=zone)


def parse_timezone(value: Any, field: str) -> str:
    """An IANA time zone name (`UTC`, `Europe/Berlin`), checked against the tz database."""
    try:
        if isinstance(value, str) and value.strip() == value and value:
            ZoneInfo(value)
            return value
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise CadenceError(f"{field}: {value!r} is not an IANA time zone name; "
                       f"use e.g. UTC, Europe/Berlin or America/New_York.")


def parse_duration(value: Any, field: str) -> timedelta:
    """Minutes as a number, or a string of days, hours and minutes: `90m`, `3h`, `1d12h`."""
    if isinstance(value, bool):
        match, minutes = None, None
    elif isinstance(value, (int, float)):
        match, minutes = None, float(value)
    else:
        match = _DURATION.match(value.strip()) if isinstance(value, str) else None
        minutes = (int(match.group(1) or 0) * 1440 + int(match.group(2) or 0) * 60
                   + int(match.group(3) or 0)) if match and any(match.groups()) else None
    if minutes is None or minutes <= 0:
        raise CadenceError(f"{field} must be a positive duration: minutes (90) or a string "
                           f"like '90m', '3h' or '1d12h', not {value!r}.")
    return timedelta(minutes=minutes)


def _in_zone(cadence: Cadence | None, zone: str) -> Cadence | None:
    return None if cadence is None else Cadence(cadence.cron, zone)


# -- what is due, what is late ---------------------------------------------------------

def due_run(schedule: SourceSchedule, *, now: datetime, last_sync_at: datetime | None,
            last_full_at: datetime | None, window: timedelta) -> DueRun | None:
    """The run a source needs at `now`, if any; a due full re-sync replaces the incremental.

    A cadence is due when its latest occurrence lies after the source's latest
    run of that kind (`last_*_at`, creation times: one run, however it was
    started, serves every occurrence before it, so missed ticks cost one catch-up
    run, never several). A source with no such run is due only when an
    occurrence falls in the tick's own `window` (the first sync belongs to the
    registry sensor; a new source does not run at once because a past occurrence
    is "missed").
    """
    for mode, cadence, last_at in ((MODE_FULL, schedule.full_resync, last_full_at),
                                   (MODE_INCREMENTAL, schedule.sync, last_sync_at)):
        if cadence is None:
            continue
        occurrence = cadence.latest(now)
        since = last_at if last_at is not None else now - window
        if occurrence > since:
            return DueRun(mode=mode, occurrence=occurrence)
    return None


def judge_freshness(last_update_at: datetime | None, *, now: datetime,
                    allowed: timedelta | None) -> Freshness:
    """Whether a source's last good sync (`last_update_at`) is within its allowed lag."""
    if allowed is None:
        return Freshness(True, "no freshness expectation: the sync cadence is off and no "
                         "max_lag is set", None, None)
    if last_update_at is None:
        return Freshness(False, f"no successful sync yet (allowed lag {_show(allowed)})",
                         None, allowed)
    lag = max(now - last_update_at, timedelta(0))
    if lag <= allowed:
        return Freshness(True, f"last good sync {_show(lag)} ago, within the allowed "
                         f"{_show(allowed)}", lag, allowed)
    return Freshness(False, f"last good sync {_show(lag)} ago, older than the allowed "
                     f"{_show(allowed)}: check the source's latest runs and job_history",
                     lag, allowed)


def _show(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())}s"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m"))
                    if n) or "0m"
