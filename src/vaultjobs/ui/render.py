"""Templates and how the page writes dates: the viewer's time zone, with UTC on hover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from vaultjobs.timeutil import zone
from vaultjobs.ui.chart import hourly_chart

environment = jinja2.Environment(
    loader=jinja2.PackageLoader("vaultjobs.ui", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["hourly_chart"] = hourly_chart

#: Sent with every page: nothing but the page's own files runs, and no other site may frame it.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class TimeFormat:
    """Dates as ``<time>`` elements: the viewer's wall clock shown, UTC in the title (shown on hover)."""

    def __init__(self, tz: str) -> None:
        self.tz_name = tz
        self.tz = zone(tz)

    def __call__(self, value: datetime | None) -> Markup:
        if value is None:
            return Markup("")
        utc = value.astimezone(UTC)
        local = value.astimezone(self.tz)
        # digits and fixed characters only: nothing to escape (and a live page writes thousands a second)
        return Markup(f'<time datetime="{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z" '
                      f'title="{utc:%Y-%m-%d %H:%M:%S} UTC">{local:%Y-%m-%d %H:%M:%S}</time>')


    def hour(self, value: datetime) -> str:
        """An hour's start as a chart's bar names it: the viewer's wall clock, with UTC."""
        end = value + timedelta(hours=1)
        local, utc = value.astimezone(self.tz), value.astimezone(UTC)
        return f"{local:%Y-%m-%d %H:%M}–{end.astimezone(self.tz):%H:%M} ({utc:%H:%M} UTC)"


def base_path(request: Request) -> str:
    """Where the page is mounted, with any URL prefix (``/ui``, ``/jobs/ui``)."""
    return str(request.scope.get("root_path", ""))


def render_text(name: str, context: dict[str, Any]) -> str:
    return environment.get_template(name).render(context)


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context = {"base": base_path(request), "viewer": None, "read_only": False, **context}
    return HTMLResponse(render_text(name, context), status_code=status_code, headers=SECURITY_HEADERS)
