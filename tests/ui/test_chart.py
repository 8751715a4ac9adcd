"""The summary strip's chart (vaultjobs.ui.chart): bars to scale, totals in its label, a title per hour."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from vaultjobs.ui.chart import HEIGHT, HOURS, Hour, hourly_chart, hours_of

FIRST = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_hours_are_filled_in_order_with_empty_ones() -> None:
    hours = hours_of({0: (3, 1), 23: (5, 0)}, FIRST)
    assert len(hours) == HOURS
    assert hours[0] == Hour(FIRST, 3, 1) and hours[23] == Hour(FIRST + timedelta(hours=23), 5, 0)
    assert all((h.completed, h.failed) == (0, 0) for h in hours[1:23])


def test_bars_are_to_scale_of_the_busiest_hour_and_say_what_they_show() -> None:
    hours = hours_of({0: (10, 0), 5: (5, 1), 23: (0, 2)}, FIRST)
    svg = parse(hourly_chart(hours, lambda at: f"from {at:%H:%M} <UTC>"))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Last 24 hours: 15 completed, 3 failed"
    groups = svg.findall(f"{SVG}g")
    assert len(groups) == HOURS

    def heights(n: int) -> tuple[int, int]:
        completed, failed = groups[n].findall(f"{SVG}rect")
        return int(completed.get("height", "")), int(failed.get("height", ""))

    full = HEIGHT - 2
    assert heights(0) == (full, 0)
    assert heights(5) == (round(full / 2), round(full / 10))
    assert heights(23) == (0, round(full * 2 / 10))
    assert heights(1) == (0, 0)
    # each hour names itself, escaped
    title = groups[5].findtext(f"{SVG}title")
    assert title == "from 15:30 <UTC>: 5 completed, 1 failed"
    # a bar's top is its height from the bottom
    rect = groups[0].findall(f"{SVG}rect")[0]
    assert int(rect.get("y", "")) + int(rect.get("height", "")) == HEIGHT


def test_one_job_among_many_still_shows() -> None:
    svg = hourly_chart(hours_of({0: (1000, 1)}, FIRST), lambda at: "")
    assert re.search(r'class="failed" x="\d+" y="\d+" width="\d+" height="1"', svg)


def test_an_empty_day_draws_no_bar() -> None:
    svg = parse(hourly_chart(hours_of({}, FIRST), lambda at: ""))
    assert {rect.get("height") for rect in svg.iter(f"{SVG}rect")} == {"0"}
