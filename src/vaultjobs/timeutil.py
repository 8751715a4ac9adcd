"""Time in one place: a replaceable clock, millisecond storage and Vault's DateTime format.

Stored values are always UTC epoch milliseconds; everything handed around in Python is a
timezone-aware ``datetime``. Rendering follows DESIGN.md: ISO 8601 with milliseconds, ``Z`` for UTC,
or the user's offset for jobs that came from a schedule.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    """Where the service reads the time; tests and the control plane substitute their own."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Reject naive datetimes, which silently mean 'local time of whichever machine'."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value


def to_ms(value: datetime) -> int:
    if value.tzinfo is not UTC:  # every clock reading is in UTC: only other times need the check
        require_aware(value)
    return round(value.timestamp() * 1000)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def floor_ms(value: datetime) -> int:
    """Whole ms since the epoch, the part below a ms dropped as :func:`render_datetime` drops it
    (:func:`to_ms`, which the store writes with, rounds it)."""
    return (require_aware(value) - EPOCH) // _ONE_MS


def from_ms(value: int) -> datetime:
    # Milliseconds as timedelta's fourth positional argument: half the cost of the keyword, and every
    # job read makes up to six of these.
    return EPOCH + timedelta(0, 0, 0, value)


def maybe_from_ms(value: int | None) -> datetime | None:
    return None if value is None else from_ms(value)


def fixed_window(now: datetime, seconds: float) -> tuple[datetime, datetime]:
    """Start and end of the fixed window of ``seconds`` that holds ``now``, counted from the epoch.

    Vault's limits count in such windows (one minute for auth), not over the last ``seconds``.
    """
    size = int(round(seconds * 1000))
    if size <= 0:
        raise ValueError(f"a window must be at least 1 ms long, not {seconds!r} s")
    start = to_ms(now) // size * size
    return from_ms(start), from_ms(start + size)


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ``ValueError`` when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone [{name}]") from exc


def render_datetime(value: datetime, tz: str | None = None) -> str:
    """Vault's DateTime: ``2026-11-28T02:00:00.000Z`` in UTC, or with ``tz``'s offset."""
    require_aware(value)
    if tz is None or tz == "UTC":
        # isoformat is several times cheaper than strftime; every instant the store holds has 4-digit years.
        return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    local = value.astimezone(zone(tz))
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}{offset[:3]}:{offset[3:]}"


#: "YYYY-MM-DD" of each day (counted from the epoch) :func:`render_ms` has rendered; reset when full.
_DAYS: dict[int, str] = {}
_DAYS_KEPT = 4096
#: Zero-padded numbers by table: a third of the cost of format specs in the f-string.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(60))
_THREE_DIGITS = tuple(f"{n:03d}" for n in range(1000))


def render_ms(ms: int, tz: str | None = None) -> str:
    """:func:`render_datetime` of the instant the store holds as ``ms``, without making a datetime.

    Retrieve Job Status renders three instants per call; in UTC this is a few integer divisions and
    a lookup of the day's text, a fifth of the cost of building the datetime and formatting it.
    """
    if tz is not None and tz != "UTC":
        return render_datetime(from_ms(ms), tz)
    seconds, milli = divmod(ms, 1000)
    day, second = divmod(seconds, 86_400)
    date = _DAYS.get(day)
    if date is None:
        if len(_DAYS) >= _DAYS_KEPT:
            _DAYS.clear()
        date = _DAYS[day] = (EPOCH + timedelta(days=day)).date().isoformat()
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    two = _TWO_DIGITS
    return f"{date}T{two[hour]}:{two[minute]}:{two[second]}.{_THREE_DIGITS[milli]}Z"


#: The latest instant the store takes: 9999-12-31T09:59:59.999Z, the last that is still in the year
#: 9999 in every zone (UTC+14:00 is the furthest east), so that it renders in any user's zone; a
#: later one is the year 10000 somewhere, which a datetime cannot hold.
MAX_MS = 253_402_250_399_999


def parse_datetime(text: str, default_tz: str = "UTC") -> datetime:
    """Parse an ISO 8601 date-time; a value without offset is taken in ``default_tz``.

    ``ValueError`` also for instants before 1970 or after :data:`MAX_MS` (9999-12-31T09:59:59.999Z),
    which the store could not keep or render back in every zone.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    value = datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(default_tz))
    try:
        ms = to_ms(value)
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"{text!r} is out of range") from exc
    if not 0 <= ms <= MAX_MS:
        raise ValueError(f"{text!r} is out of range: from 1970 to 9999 only")
    return value


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: a number of seconds, or text like ``"90s"``, ``"15m"``, ``"4h"``, ``"2d"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
        for suffix in ("ms", "s", "m", "h", "d"):
            if text.endswith(suffix):
                seconds = float(text[: -len(suffix)]) * units[suffix]
                break
        else:
            seconds = float(text)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds
