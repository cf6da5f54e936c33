"""HubSpot's timestamps as what MongoDB sorts and compares well."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hubspot_assets.hubspot.paging import to_epoch_ms


def epoch_ms(value: Any) -> int | None:
    """ISO-8601 string or epoch ms -> epoch ms; None when absent or unreadable."""
    try:
        return to_epoch_ms(value)
    except ValueError:
        return None


def as_datetime(value: Any) -> dt.datetime | None:
    ms = epoch_ms(value)
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """pymongo returns naive UTC datetimes; make them comparable with aware ones."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)
