"""Small pure helpers: deterministic hashing, opaque cursors, HubSpot timestamps."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

_MASK = (1 << 64) - 1


def mix(x: int) -> int:
    """splitmix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix2(a: int, b: int) -> int:
    return mix(a * 0x100000001B3 ^ mix(b))


def name_salt(name: str) -> int:
    """A stable (not PYTHONHASHSEED-dependent) integer for a string."""
    h = 0xCBF29CE484222325
    for ch in name.encode():
        h = ((h ^ ch) * 0x100000001B3) & _MASK
    return h


def encode_cursor(kind: str, position: int) -> str:
    """Opaque, URL-safe cursor; HubSpot's are base64 too."""
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int | None:
    """Position from a cursor made by encode_cursor, or None if it is not one."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, _, pos = text.partition(":")
        if prefix != kind:
            return None
        value = int(pos)
        return value if value >= 0 else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


_DAY_PREFIX: dict[int, str] = {}  # day number -> "YYYY-MM-DDT" (hot path of every page)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> HubSpot's `2024-01-02T03:04:05.678Z`."""
    day, rem = divmod(ms, 86_400_000)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = datetime.fromtimestamp(day * 86_400, tz=timezone.utc).strftime("%Y-%m-%dT")
        if len(_DAY_PREFIX) < 200_000:
            _DAY_PREFIX[day] = prefix
    secs, milli = divmod(rem, 1000)
    minutes, secs = divmod(secs, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{milli:03d}Z"


def parse_time(value) -> int | None:
    """Epoch ms from a number, a digit string or an ISO-8601 string; None if unparseable."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def uuid_from(h: int, h2: int) -> str:
    """A UUID-looking string from two hashes (event ids, correlation ids)."""
    x = f"{h:016x}{h2:016x}"
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-a{x[17:20]}-{x[20:32]}"
