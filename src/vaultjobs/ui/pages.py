"""The Job Status page's routes: login, the three tabs, a job, actions, workers, CSV and live updates.

Handlers are synchronous (Starlette runs them in its thread pool, as the store is synchronous); the
live stream is the one asynchronous route. Every change (login aside) is a POST carrying the CSRF
token, and asks for confirmation first: the first POST shows what would happen, the second (with
``confirm=yes``) does it and shows the per-job results the Cancel Job API would report.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from vaultjobs import errors
from vaultjobs.api.routes import jobs_of
from vaultjobs.api.services import Services
from vaultjobs.store.history import HistoryKey
from vaultjobs.timeutil import render_datetime
from vaultjobs.ui.links import LinkForwarder
from vaultjobs.ui.live import Fragments, live_stream
from vaultjobs.ui.render import TimeFormat, base_path, page
from vaultjobs.ui.session import (
    CSRF_FIELD,
    Viewer,
    clear_session_cookie,
    set_session_cookie,
    viewer_of,
)
from vaultjobs.ui.views import MAX_CANCEL, PAGE_SIZES, TAB_STATUSES, Filters, Views, job_detail

#: Rows a CSV export holds at most.
MAX_EXPORT_ROWS = 100_000
#: The actions the page takes (``/actions/{name}``).
ACTIONS = ("cancel", "start-now")


class Pages:
    def __init__(self, services: Services) -> None:
        self.s = services
        self.views = Views(services.store)
        self.fragments = Fragments(services)
        self.read_only = services.settings.ui_read_only

    # -- helpers ---------------------------------------------------------------------------

    def viewer(self, request: Request) -> Viewer | None:
        return viewer_of(request, self.s.accounts)

    def to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{base_path(request)}/login?{_q(next=target)}", status_code=303)

    def context(self, request: Request, viewer: Viewer, **more: Any) -> dict[str, Any]:
        return {**self.fragments.base_context(viewer), **more}

    def refusal(self, request: Request, viewer: Viewer | None, status: int, title: str, message: str) -> Response:
        context = self.context(request, viewer) if viewer else {}
        return page(request, "message.html", {**context, "title": title, "message": message}, status)

    # -- login -----------------------------------------------------------------------------

    def login_form(self, request: Request) -> Response:
        return page(request, "login.html", {"next": _safe_next(request, request.query_params.get("next")),
                                            "error": "", "username": ""})

    async def login(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        target = _safe_next(request, str(form.get("next") or ""))

        def sign_in() -> str:
            return self.s.accounts.login(username, password).token

        try:
            token = await anyio.to_thread.run_sync(sign_in)
        except errors.VaultError as exc:
            return page(request, "login.html", {"next": target, "error": f"{exc.type}: {exc.message}",
                                                "username": username}, 401)
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, request, token)
        return response

    async def logout(self, request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        viewer = await anyio.to_thread.run_sync(self.viewer, request)
        if viewer is not None:
            if not viewer.csrf_ok(str(form.get(CSRF_FIELD) or "")):
                return self.csrf_refusal(request, viewer)
            await anyio.to_thread.run_sync(self.s.accounts.logout, viewer.session_hash)
        response = RedirectResponse(f"{base_path(request)}/login", status_code=303)
        clear_session_cookie(response, request)
        return response

    def csrf_refusal(self, request: Request, viewer: Viewer) -> Response:
        return self.refusal(request, viewer, 403, "Request refused",
                            "The form's CSRF token is missing or wrong (was the page open in another session?). "
                            "Nothing was changed; go back, reload the page and try again.")

    # -- pages -----------------------------------------------------------------------------

    def jobs(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        filters = Filters.parse(request.query_params, request.query_params.getlist("status"))
        context = self.fragments.list_context(viewer, filters)
        return page(request, "jobs.html", {
            **self.context(request, viewer, **context), "tab_statuses": TAB_STATUSES[filters.tab],
            "live_query": filters.query(view="list"), "page_sizes": PAGE_SIZES,
        })

    def job(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        job_id = int(request.path_params["job_id"])
        try:
            context = self.fragments.job_context(viewer, job_id, _int(request.query_params.get("tasks_after")))
        except errors.VaultError as exc:
            return self.refusal(request, viewer, 404 if isinstance(exc, errors.JobNotFound) else 403,
                                f"Job {job_id}", f"{exc.type}: {exc.message}")
        return page(request, "job.html", {**self.context(request, viewer, **context),
                                          "live_query": _q(view="job", job_id=job_id)})

    def workers(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        return page(request, "workers.html", {**self.context(request, viewer, workers=self.views.workers()),
                                              "live_query": _q(view="workers")})

    def log(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return PlainTextResponse("Sign in first", status_code=401)
        job_id = int(request.path_params["job_id"])
        try:
            job = jobs_of(self.s).get(viewer.user, job_id)
        except errors.VaultError as exc:
            return PlainTextResponse(f"{exc.type}: {exc.message}", status_code=404)
        text = "".join(f"{render_datetime(line.at)} {line.message}\n" for line in self.s.store.jobs.read_log(job.id))
        return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="job-{job.id}.log"'})

    def status_json(self, request: Request) -> Response:
        """The status endpoint's ``data`` for this job, read from the store: no status window spent."""
        viewer = self.viewer(request)
        if viewer is None:
            return PlainTextResponse("Sign in first", status_code=401)
        job_id = int(request.path_params["job_id"])
        try:
            detail = job_detail(self.s.store, viewer.user, job_id, self.s.clock.now(), tasks_after=0)
        except errors.VaultError as exc:
            return PlainTextResponse(f"{exc.type}: {exc.message}", status_code=404)
        body = orjson.dumps({"responseStatus": "SUCCESS", "data": detail.status_data}, option=orjson.OPT_INDENT_2)
        return Response(body, media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="job-{job_id}-status.json"'})

    def fragment(self, request: Request) -> Response:
        """The live part of a page, for browsers that cannot keep an event stream open (polling)."""
        viewer = self.viewer(request)
        if viewer is None:
            return PlainTextResponse("Sign in first", status_code=401)
        html = self.fragments.render(viewer, request.query_params, base_path(request))
        stamp = self.s.clock.now().astimezone(TimeFormat(viewer.user.timezone).tz).strftime("%Y-%m-%d %H:%M:%S")
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-store", "X-Updated": stamp})

    async def live(self, request: Request) -> Response:
        if await anyio.to_thread.run_sync(self.viewer, request) is None:
            return PlainTextResponse("Sign in first", status_code=401)
        return StreamingResponse(
            live_stream(request, self.s, self.fragments), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def export_csv(self, request: Request) -> Response:
        """The History tab's filtered rows as CSV (newest first, at most 100,000), page by page; a title a
        spreadsheet would take for a formula is quoted (``'=…``)."""
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        filters = Filters.parse({**request.query_params, "tab": "history", "page": "1", "after": "", "before": "",
                                 "per_page": str(max(PAGE_SIZES))}, request.query_params.getlist("status"))

        def rows() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["job_id", "title", "job_type", "status", "created_by", "created_date",
                             "run_start_date", "run_end_date", "duration", "tasks_done", "tasks_failed",
                             "tasks_total"])
            page = filters
            for _ in range(MAX_EXPORT_ROWS // filters.per_page):
                listing = self.views.listing(viewer.user, page, self.s.clock.now(), tab_counts=False)
                for row in listing.rows:
                    job = row.job
                    writer.writerow([job.id, _cell(row.title), job.processor, job.status.value,
                                     _cell(row.created_by), _utc(job.created_at), _utc(job.run_start),
                                     _utc(job.run_end), row.duration, row.done, row.failed, row.total])
                yield out.getvalue()
                out.seek(0)
                out.truncate()
                if listing.next_query is None or not listing.rows:
                    break
                # the next page by key: the same cost however deep the export goes
                last = listing.rows[-1].job
                page = dataclasses.replace(listing.filters, page=listing.filters.page + 1,
                                           after=str(HistoryKey.of(last)), before="")

        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="job-history.csv"'})

    # -- actions ---------------------------------------------------------------------------

    async def action(self, request: Request) -> Response:
        limit = self.fragments.cancel_limit()
        # room for more ids than the limit, so that too many is answered as the Cancel Job API does
        form = await request.form(max_files=0, max_fields=max(limit, MAX_CANCEL) * 2 + 10)
        viewer = await anyio.to_thread.run_sync(self.viewer, request)
        if viewer is None:
            return self.to_login(request)
        if not viewer.csrf_ok(str(form.get(CSRF_FIELD) or "")):
            return self.csrf_refusal(request, viewer)
        if self.read_only:
            return self.refusal(request, viewer, 403, "Read-only",
                                "This Job Status page is read-only (--ui-read-only): it takes no actions.")
        name = str(request.path_params["action"])
        if name not in ACTIONS:
            return self.refusal(request, viewer, 404, "No such action",
                                f"INVALID_DATA: [{name[:40]}] is not an action; expected cancel or start-now")
        raw_ids = [str(v) for v in form.getlist("job_id")]
        ids: list[int] = []
        for raw in raw_ids:
            if raw.strip().isdigit() and int(raw) not in ids:
                ids.append(int(raw))
        if not ids:
            return self.refusal(request, viewer, 400, "Nothing selected",
                                "INVALID_DATA: select at least one job first.")
        if name == "start-now" and len(ids) != 1:
            return self.refusal(request, viewer, 400, "Start Now", "INVALID_DATA: Start Now takes one job.")
        if len(ids) > limit:
            return self.refusal(request, viewer, 400, "Too many jobs",
                                f"INVALID_DATA: A request may cancel at most {limit} jobs, got {len(ids)}")
        if form.get("confirm") != "yes":
            rows = await anyio.to_thread.run_sync(self.views.statuses, viewer.user, ids, self.s.clock.now())
            return page(request, "confirm.html", self.context(
                request, viewer, action=name, ids=ids, rows=rows, back=_safe_next(request, str(form.get("back") or ""))
            ))
        run: Callable[[], list[dict[str, Any]]] = (
            (lambda: [self._start_now(viewer, ids[0])]) if name == "start-now"
            else (lambda: [self._cancel(viewer, job_id) for job_id in ids])
        )
        results = await anyio.to_thread.run_sync(run)
        rows = await anyio.to_thread.run_sync(self.views.statuses, viewer.user, ids, self.s.clock.now())
        return page(request, "results.html", self.context(
            request, viewer, action=name, results=list(zip(ids, results, strict=True)),
            live_query=_q(view="statuses", ids=",".join(str(i) for i in ids)), rows=rows,
        ))

    def _cancel(self, viewer: Viewer, job_id: int) -> dict[str, Any]:
        """As the Cancel Job API reports one job."""
        try:
            jobs_of(self.s).cancel(viewer.user, job_id)
        except errors.VaultError as exc:
            return {"responseStatus": "FAILURE", "errors": {"type": exc.type, "message": exc.message}}
        return {"responseStatus": "SUCCESS", "data": {"id": job_id}}

    def _start_now(self, viewer: Viewer, job_id: int) -> dict[str, Any]:
        try:
            jobs_of(self.s).start_now(viewer.user, job_id)
        except errors.VaultError as exc:
            return {"responseStatus": "FAILURE", "errors": {"type": exc.type, "message": exc.message}}
        return {"responseStatus": "SUCCESS", "data": {"id": job_id}}


def _q(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _int(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else 0


#: What a spreadsheet takes a cell starting with for a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """A CSV cell of text a user wrote (a title): one a spreadsheet would run as a formula is quoted with ``'``."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _utc(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _safe_next(request: Request, target: str | None) -> str:
    """Where to go after a form: a path on this page only (never another site)."""
    base = base_path(request)
    if target and target.startswith(base + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return base + "/"


def ui_routes(services: Services, api: Callable[[], ASGIApp]) -> list[BaseRoute]:
    """The routes of the page, to mount at ``/ui`` (``api`` returns the application, for link downloads)."""
    pages = Pages(services)
    return [
        Route("/", pages.jobs, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/workers", pages.workers, methods=["GET"]),
        Route("/export.csv", pages.export_csv, methods=["GET"]),
        Route("/fragment", pages.fragment, methods=["GET"]),
        Route("/live", pages.live, methods=["GET"]),
        Route("/jobs/{job_id:int}", pages.job, methods=["GET"]),
        Route("/jobs/{job_id:int}/log", pages.log, methods=["GET"]),
        Route("/jobs/{job_id:int}/status.json", pages.status_json, methods=["GET"]),
        Route("/jobs/{job_id:int}/links/{index:int}", LinkForwarder(services, api), methods=["GET"]),
        Route("/actions/{action:str}", pages.action, methods=["POST"]),
        Mount("/static", app=StaticFiles(packages=[("vaultjobs.ui", "static")]), name="static"),
    ]

