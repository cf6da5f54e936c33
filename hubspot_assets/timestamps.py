"""Every time conversion: HubSpot's timestamps, MongoDB's datetimes, epoch milliseconds.

HubSpot sends ISO-8601 strings on some endpoints and epoch milliseconds on
others; MongoDB stores UTC datetimes and pymongo hands them back naive. Each
conversion between those lives here, once.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

UTC = dt.timezone.utc
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def to_epoch_ms(value: Any) -> int | None:
    """HubSpot timestamps (ISO-8601 strings or epoch-millisecond numbers) as epoch ms.

    None for an absent value; ValueError for text that is not a timestamp.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return int(aware(value).timestamp() * 1000)
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(aware(parsed).timestamp() * 1000)


def epoch_ms(value: Any) -> int | None:
    """Like :func:`to_epoch_ms`, but None for unreadable text (stored data, not requests)."""
    try:
        return to_epoch_ms(value)
    except ValueError:
        return None


def from_epoch_ms(ms: int) -> dt.datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def as_datetime(value: Any) -> dt.datetime | None:
    """A HubSpot timestamp as an aware UTC datetime (what MongoDB sorts and compares well)."""
    ms = epoch_ms(value)
    return None if ms is None else from_epoch_ms(ms)


def from_epoch_seconds(seconds: float | None) -> dt.datetime | None:
    """Epoch seconds (Dagster's run times) as an aware UTC datetime; None stays None."""
    return dt.datetime.fromtimestamp(seconds, UTC) if seconds else None


def iso(ms: int | None) -> str | None:
    """Epoch ms as ISO-8601 with milliseconds and `+00:00` (metadata, messages)."""
    return None if ms is None else from_epoch_ms(ms).isoformat(timespec="milliseconds")


def iso_z(value: Any) -> str:
    """A timestamp as ISO-8601 with milliseconds and `Z`, the form HubSpot's filters take."""
    ms = to_epoch_ms(value)
    if ms is None:
        raise ValueError("a timestamp is required")
    return from_epoch_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def now_ms() -> int:
    return int(time.time() * 1000)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """pymongo returns naive UTC datetimes; make them comparable with aware ones."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
