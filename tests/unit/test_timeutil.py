from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultjobs import timeutil
from vaultjobs.timeutil import (
    EPOCH,
    MAX_MS,
    floor_ms,
    from_ms,
    parse_datetime,
    parse_duration,
    render_datetime,
    render_ms,
    to_ms,
)


def test_render_utc_with_milliseconds() -> None:
    value = datetime(2016, 4, 20, 18, 14, 42, 123456, tzinfo=UTC)
    assert render_datetime(value) == "2016-04-20T18:14:42.123Z"


def test_render_in_user_time_zone_with_offset() -> None:
    value = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert render_datetime(value, "America/Los_Angeles") == "2026-11-28T02:00:00.000-08:00"
    assert render_datetime(value, "Asia/Kolkata") == "2026-11-28T15:30:00.000+05:30"
    # daylight saving time changes the offset
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert render_datetime(summer, "America/Los_Angeles") == "2026-07-01T03:00:00.000-07:00"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        render_datetime(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        to_ms(datetime(2026, 1, 1))


def test_millisecond_round_trip() -> None:
    value = datetime(2026, 11, 29, 1, 2, 3, 456000, tzinfo=timezone(timedelta(hours=2)))
    assert from_ms(to_ms(value)) == value
    assert from_ms(to_ms(value)).tzinfo is UTC


def test_parse_datetime() -> None:
    assert parse_datetime("2026-12-01T02:00:00Z") == datetime(2026, 12, 1, 2, tzinfo=UTC)
    local = parse_datetime("2026-12-01T02:00:00", "America/New_York")
    assert local.utcoffset() == timedelta(hours=-5)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("4h", 14400), ("2d", 172800), ("250ms", 0.25), (3, 3)]
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_duration("-1s")


@given(st.integers(min_value=0, max_value=MAX_MS),
       st.sampled_from([None, "UTC", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Kiritimati"]))
def test_an_instant_renders_from_its_ms_as_from_its_datetime(ms: int, tz: str | None) -> None:
    assert render_ms(ms, tz) == render_datetime(from_ms(ms), tz)


def test_the_last_instant_the_store_holds_renders_in_every_zone() -> None:
    """Found by rendering: the store once took instants up to the end of 9999 in UTC, which are in
    the year 10000 east of UTC, and a status read in such a zone answered EXCEPTION."""
    assert render_ms(MAX_MS) == render_datetime(from_ms(MAX_MS)) == "9999-12-31T09:59:59.999Z"
    assert render_ms(MAX_MS, "Pacific/Kiritimati") == "9999-12-31T23:59:59.999+14:00"
    assert render_ms(MAX_MS, "Pacific/Pago_Pago") == "9999-12-30T22:59:59.999-11:00"
    for zone_name in sorted(zoneinfo.available_timezones()):
        assert render_ms(MAX_MS, zone_name).startswith("9999-12-")
    assert parse_datetime("9999-12-31T09:59:59.999Z") == from_ms(MAX_MS)
    with pytest.raises(ValueError, match="out of range"):
        parse_datetime("9999-12-31T10:00:00Z")


def test_rendering_from_ms_forgets_days_once_it_holds_enough() -> None:
    for day in range(5000):
        assert render_ms(day * 86_400_000 + 1).startswith((EPOCH + timedelta(days=day)).date().isoformat() + "T00")
        assert len(timeutil._DAYS) <= timeutil._DAYS_KEPT
    assert render_ms(0) == "1970-01-01T00:00:00.000Z"


def test_floor_ms_drops_what_is_below_a_millisecond_where_to_ms_rounds() -> None:
    value = datetime(2026, 1, 1, 0, 0, 0, 123_999, tzinfo=UTC)
    assert (floor_ms(value), to_ms(value)) == (1_767_225_600_123, 1_767_225_600_124)
