"""Every time conversion, each in one place."""

import datetime as dt

import pytest

from hubspot_assets import timestamps as ts

UTC = dt.timezone.utc


@pytest.mark.parametrize("value, ms", [
    ("2026-11-28T12:00:00Z", 1_795_867_200_000),
    ("2026-11-28T12:00:00.123+00:00", 1_795_867_200_123),
    ("2026-11-28T13:00:00+01:00", 1_795_867_200_000),
    ("2026-11-28T12:00:00", 1_795_867_200_000),  # no zone: UTC, as HubSpot means it
    ("1795867200000", 1_795_867_200_000),
    (1_795_867_200_000, 1_795_867_200_000),
    (dt.datetime(2026, 11, 28, 12), 1_795_867_200_000),  # pymongo's naive UTC
    (dt.datetime(2026, 11, 28, 12, tzinfo=UTC), 1_795_867_200_000),
    (None, None),
    ("", None),
])
def test_hubspot_timestamps_as_epoch_ms(value, ms):
    assert ts.to_epoch_ms(value) == ms


def test_unreadable_text_is_an_error_for_requests_and_none_for_stored_data():
    with pytest.raises(ValueError):
        ts.to_epoch_ms("yesterday")
    assert ts.epoch_ms("yesterday") is None
    assert ts.as_datetime("yesterday") is None


def test_renderings():
    assert ts.iso(1_795_867_200_123) == "2026-11-28T12:00:00.123+00:00"
    assert ts.iso(None) is None
    assert ts.iso_z("2026-11-28T13:00:00+01:00") == "2026-11-28T12:00:00.000Z"
    with pytest.raises(ValueError):
        ts.iso_z(None)
    assert ts.as_datetime(1_795_867_200_000) == dt.datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert ts.from_epoch_seconds(None) is None
    assert ts.from_epoch_seconds(1_795_867_200.5).tzinfo is UTC


def test_naive_datetimes_from_pymongo_become_comparable():
    naive = dt.datetime(2026, 11, 28, 12)
    assert ts.aware(naive) == dt.datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert ts.aware(None) is None
    assert ts.aware(ts.utcnow()).tzinfo is UTC
    assert abs(ts.now_ms() - ts.to_epoch_ms(ts.utcnow())) < 5_000
