"""How the page writes dates (vaultjobs.ui.render): the viewer's wall clock, UTC in the title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from vaultjobs.ui.render import TimeFormat


def test_a_date_shows_the_viewers_wall_clock_and_utc_on_hover() -> None:
    summer = datetime(2026, 7, 1, 12, 0, 5, 250_000, tzinfo=UTC)
    assert TimeFormat("Europe/Paris")(summer) == (
        '<time datetime="2026-07-01T12:00:05.250Z" title="2026-07-01 12:00:05 UTC">2026-07-01 14:00:05</time>')
    winter = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=-5)))  # any zone in, UTC kept
    assert TimeFormat("America/Los_Angeles")(winter) == (
        '<time datetime="2026-01-01T08:00:00.000Z" title="2026-01-01 08:00:00 UTC">2026-01-01 00:00:00</time>')
    assert TimeFormat("UTC")(None) == ""


def test_a_chart_hour_names_the_viewers_hours_and_utc() -> None:
    hour = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
    assert TimeFormat("Asia/Tokyo").hour(hour) == "2026-07-02 07:00–08:00 (22:00 UTC)"
