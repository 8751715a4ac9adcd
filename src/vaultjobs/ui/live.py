"""The live parts of the pages and how they reach the browser: Server-Sent Events, or polling.

Each open page holds one event stream. Every :data:`LIVE_INTERVAL` seconds the stream renders the
page's live part from the store and sends it when it changed (``update``), then the time (``tick``,
the page's "last updated"). Reading the store, not this process's events, is what makes a change
made through any replica reach a browser connected to any other. A browser without event streams
asks for the same part with a GET (``/ui/fragment``) instead.

Pages that show the same thing share one rendering: a live part rendered less than
:data:`SHARED_FOR` ago for the same query, the same visible jobs (everyone's for admins, a user's
own otherwise) and the same time zone serves them all, each with its own CSRF token put in. A
hundred admins on the Running tab cost the server one look at the store about twice a second, not
a hundred.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request

from vaultjobs import errors
from vaultjobs.api.services import Services
from vaultjobs.jobs import visible_creator
from vaultjobs.ui.links import ui_link
from vaultjobs.ui.render import TimeFormat, base_path, render_text
from vaultjobs.ui.session import CSRF_FIELD, Viewer, viewer_of
from vaultjobs.ui.views import Filters, Views, job_detail

#: Seconds between two looks at the store per open page.
LIVE_INTERVAL = 1.0
#: Most jobs a results page follows.
MAX_FOLLOWED = 500
#: Seconds a rendered live part serves every page showing the same thing.
SHARED_FOR = 0.5
#: Most renderings kept at once (beyond, the stale ones go, then all).
MAX_SHARED = 1000


class Fragments:
    """Renders the live part of each page: ``list``, ``job``, ``statuses`` (action results), ``workers``."""

    def __init__(self, services: Services) -> None:
        self.s = services
        self.views = Views(services.store)
        #: Stands for the CSRF token in a shared rendering (secret, so no title can carry it).
        self._token_mark = secrets.token_hex(16)
        self._shared: dict[tuple[Any, ...], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def list_context(self, viewer: Viewer, filters: Filters) -> dict[str, Any]:
        now = self.s.clock.now()
        return {"listing": self.views.listing(viewer.user, filters, now), "filters": filters,
                "summary": self.views.summary(viewer.user, now)}

    def job_context(self, viewer: Viewer, job_id: int, tasks_after: int = 0) -> dict[str, Any]:
        detail = job_detail(self.s.store, viewer.user, job_id, self.s.clock.now(), tasks_after)
        return {"detail": detail, "job": detail.row.job, "row": detail.row, "ui_link": ui_link,
                "tasks_after": tasks_after}

    def base_context(self, viewer: Viewer) -> dict[str, Any]:
        """What every page and live part of ``viewer`` renders with."""
        return {
            "viewer": viewer, "read_only": self.s.settings.ui_read_only, "csrf": viewer.csrf,
            "csrf_field": CSRF_FIELD, "when": TimeFormat(viewer.user.timezone), "now": self.s.clock.now(),
            "cancel_limit": self.cancel_limit(),
        }

    def cancel_limit(self) -> int:
        """The most jobs one Cancel may name: the Cancel Job API's limit in force."""
        return self.s.limits.current().cancel_batch_size

    def render(self, viewer: Viewer, query: Mapping[str, str], base: str) -> str:
        """The live part named by ``query["view"]``, as HTML for ``viewer``: shared with every page that
        shows the same thing, rendered again once it is :data:`SHARED_FOR` old."""
        items = query.multi_items() if hasattr(query, "multi_items") else list(query.items())
        key = (visible_creator(viewer.user), viewer.user.timezone, base, tuple(items))
        now = time.monotonic()  # real time, not the service's clock: a frozen clock must not freeze the page
        with self._lock:
            found = self._shared.get(key)
        if found is not None and now - found[0] <= SHARED_FOR:
            html = found[1]
        else:
            html = self._render(viewer, query, base)
            with self._lock:
                if len(self._shared) >= MAX_SHARED:
                    self._shared = {k: v for k, v in self._shared.items() if now - v[0] <= SHARED_FOR}
                    if len(self._shared) >= MAX_SHARED:
                        self._shared.clear()
                self._shared[key] = (now, html)
        return html.replace(self._token_mark, viewer.csrf)

    def _render(self, viewer: Viewer, query: Mapping[str, str], base: str) -> str:
        view = query.get("view", "list")
        context: dict[str, Any] = {"base": base, **self.base_context(viewer), "csrf": self._token_mark}
        if view == "job":
            raw = query.get("job_id", "")
            try:
                context.update(self.job_context(viewer, int(raw) if raw.isdigit() else 0))
            except errors.VaultError as exc:
                return f"<p class=\"problem\">{exc.type}: {exc.message}</p>"
            return render_text("_job.html", context)
        if view == "statuses":
            ids = [int(i) for i in query.get("ids", "").split(",") if i.isdigit()][:MAX_FOLLOWED]
            context["rows"] = self.views.statuses(viewer.user, ids, self.s.clock.now())
            return render_text("_statuses.html", context)
        if view == "workers":
            context["workers"] = self.views.workers()
            return render_text("_workers.html", context)
        statuses = query.getlist("status") if hasattr(query, "getlist") else []
        filters = Filters.parse(query, statuses)
        context.update(self.list_context(viewer, filters))
        return render_text("_list.html", context)


def _event(name: str, html: str) -> str:
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in html.splitlines() or [""]) + "\n"


async def live_stream(request: Request, services: Services, fragments: Fragments) -> AsyncIterator[str]:
    """The events of one open page, until it closes or its session ends (then ``expired``)."""
    base = base_path(request)
    last = None
    while True:

        def look() -> tuple[str, str] | None:
            viewer = viewer_of(request, services.accounts)
            if viewer is None:
                return None
            html = fragments.render(viewer, request.query_params, base)
            return html, str(TimeFormat(viewer.user.timezone)(services.clock.now()))

        found = await anyio.to_thread.run_sync(look)
        if found is None:
            yield _event("expired", "")
            return
        html, stamp = found
        if html != last:
            yield _event("update", html)
            last = html
        yield _event("tick", stamp)
        await anyio.sleep(LIVE_INTERVAL)
