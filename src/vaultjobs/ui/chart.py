"""The summary strip's chart: completions and failures per hour over the last 24 hours, as inline SVG.

Drawn on the server (no script, no library): one pair of bars per hour, oldest on the left, scaled to
the busiest hour, each with a ``<title>`` that a pointer or a screen reader can read. The numbers are
the only values put into the markup, so nothing needs escaping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

#: Finished statuses counted as failures (CANCELLED is neither a completion nor a failure).
FAILURES = ("ERRORS_ENCOUNTERED", "FAILED_TO_RUN", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY", "MISSED_SCHEDULE")
HOURS = 24
WIDTH, HEIGHT = 240, 40
_SLOT = WIDTH // HOURS
_BAR = (_SLOT - 2) // 2


@dataclass(frozen=True)
class Hour:
    """One hour of the chart: when it starts, and the jobs that completed and failed in it."""

    start: datetime
    completed: int
    failed: int


def hours_of(counts: dict[int, tuple[int, int]], first: datetime) -> list[Hour]:
    """The chart's 24 hours from ``first`` on, from counts by hour index (0 = the oldest hour)."""
    return [Hour(first + timedelta(hours=n), *counts.get(n, (0, 0))) for n in range(HOURS)]


def hourly_chart(hours: Sequence[Hour], when: Callable[[datetime], str]) -> Markup:
    """An SVG of ``hours`` (completed and failed side by side); ``when`` shows an hour's start to the viewer."""
    peak = max([1, *(h.completed for h in hours), *(h.failed for h in hours)])
    completed = sum(h.completed for h in hours)
    failed = sum(h.failed for h in hours)
    parts = [
        f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'aria-label="Last 24 hours: {completed} completed, {failed} failed">',
    ]
    for n, hour in enumerate(hours):
        x = n * _SLOT + 1
        title = f"{when(hour.start)}: {hour.completed} completed, {hour.failed} failed"
        parts.append(f'<g data-hour="{n}" data-completed="{hour.completed}" data-failed="{hour.failed}">'
                     f"<title>{Markup.escape(title)}</title>")
        for offset, count, kind in ((0, hour.completed, "completed"), (_BAR, hour.failed, "failed")):
            height = round(count / peak * (HEIGHT - 2))
            if count and not height:
                height = 1
            parts.append(f'<rect class="{kind}" x="{x + offset}" y="{HEIGHT - height}" width="{_BAR}" '
                         f'height="{height}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
