"""The ASGI application: Vault's routes under ``/api/``, ``/_vaultjobs/`` service routes, the page at ``/ui/``.

Its structure, from the outside in:

* :class:`~vaultjobs.api.access.AccessLog`, the middleware that logs and counts every answer;
* :func:`~vaultjobs.api.failures.exception_handlers`, the one table that answers errors raised outside
  an endpoint (unknown paths, wrong methods); endpoints answer theirs through the same module;
* the route families, each a :class:`~vaultjobs.api.families.Family` (a Starlette ``Mount``): ops, jobs,
  auth, content, packages, objects and the Job Status page. Their order only matters where paths
  overlap; ops and jobs come first, as the health check and Retrieve Job Status are the hot paths.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

# The control plane's modules import the API's: this module reads them only when it builds the app.
from vaultjobs import control
from vaultjobs.api.access import AccessLog
from vaultjobs.api.burst import BurstLimit
from vaultjobs.api.endpoint import AsyncShortcut, Call, Handler, RawEndpoint, Shortcut, endpoint, raw_endpoint
from vaultjobs.api.failures import exception_handlers
from vaultjobs.api.families import Family, route_label
from vaultjobs.api.hot_path import RUN_PATH, STATUS_PATH, HotPath, HotRoute
from vaultjobs.api.ops import ops_routes
from vaultjobs.api.routes.auth import AuthRoutes
from vaultjobs.api.routes.content import RouteFactory, content_routes
from vaultjobs.api.routes.history import HistoryRoutes
from vaultjobs.api.routes.jobs import JobRoutes
from vaultjobs.api.services import Services
from vaultjobs.jobtypes.objects.routes import object_routes
from vaultjobs.jobtypes.packages.routes import package_routes
from vaultjobs.ui import ui_mount

#: Where every versioned route lives.
V = "/api/{version:api_version}"
JOBS = f"{V}/services/jobs"


def job_routes(route: RouteFactory, services: Services, jobs: JobRoutes) -> list[Route]:
    """The Jobs endpoints, relative to ``/api/{version}/services/jobs``; fixed paths before ``{job_id}``."""
    history = HistoryRoutes(services)
    return [
        route("/processors", "GET", jobs.processors),
        route("/processors/{name}/actions/run", "POST", jobs.run, body="raw", async_shortcut=jobs.run_cached),
        route("/start_now/{job_id}", "POST", jobs.start_now),
        route("/actions/cancel", "POST", jobs.cancel, body="raw"),
        route("/histories", "GET", history.histories),
        route("/monitors", "GET", history.monitors),
        route("/{job_id}", "GET", jobs.status, shortcut=jobs.status_cached),
        route("/{job_id}/tasks", "GET", jobs.tasks),
        route("/{job_id}/log", "GET", jobs.log),
    ]


def auth_routes(route: RouteFactory, services: Services) -> list[Route]:
    """The version list, authentication and sessions, with their own full paths."""
    auth = AuthRoutes(services)
    return [
        route("/api/", "GET", auth.versions),
        route("/api", "GET", auth.versions),
        route(f"{V}/auth", "POST", auth.auth, auth=False, body="form"),
        route(f"{V}/keep-alive", "POST", auth.keep_alive),
        route(f"{V}/session", "DELETE", auth.end_session),
        route(f"{V}/objects/users/me", "GET", auth.me),
    ]


def create_app(services: Services, **starlette_options: Any) -> Starlette:
    settings = services.settings
    rest = settings.http_status_codes == "rest"

    limits = services.limits
    burst_limit = settings.burst_limit if services.control is None else lambda: limits.current().burst_limit
    burst = BurstLimit(services.store, services.clock, limit=burst_limit, window=settings.burst_window,
                       delay=settings.burst_delay)
    if services.control is not None:
        services.control.around_reset.append(burst.forgetting)

    def authenticate(call: Call) -> None:
        call.user, call.session_hash = services.accounts.session_user(call.request.headers.get("authorization"))

    def route(
        path: str, method: str, handler: Handler, *, auth: bool = True, body: str | None = None,
        shortcut: Shortcut | None = None, async_shortcut: AsyncShortcut | None = None,
    ) -> Route:
        return Route(
            path,
            endpoint(
                handler,
                authenticate=authenticate if auth else None,
                rest_status_codes=rest,
                max_body_bytes=settings.max_body_bytes,
                body=body,
                shortcut=shortcut,
                async_shortcut=async_shortcut,
                inline=services.store.dialect.inline,
                burst=burst,
            ),
            methods=[method],
        )

    job_handlers = JobRoutes(services)
    jobs = job_routes(route, services, job_handlers)
    inline = services.store.dialect.inline

    def hot(method: str, path: re.Pattern[str], template: str, raw: RawEndpoint) -> HotRoute:
        found = next(r for r in jobs if r.path == template and method in (r.methods or ()))
        return HotRoute(method, path, found, route_label(JOBS + template), raw)

    hot_routes = [
        # On SQLite the status read runs on the event loop; elsewhere its poll is awaited (batched).
        hot("GET", STATUS_PATH, "/{job_id}",
            raw_endpoint(job_handlers.status_cached, rest_status_codes=rest, burst=burst) if inline
            else raw_endpoint(async_shortcut=job_handlers.status_cached_async, rest_status_codes=rest, burst=burst)),
        # The start's shortcut never blocks the event loop, on any store (run_cached): always inline.
        hot("POST", RUN_PATH, "/processors/{name}/actions/run",
            raw_endpoint(async_shortcut=job_handlers.run_cached, max_body_bytes=settings.max_body_bytes,
                         rest_status_codes=rest, burst=burst)),
    ]
    routes = [
        Family("/_vaultjobs", ops_routes(services), name="ops"),
        # The test control plane (off unless --control-plane): a gated mount taking the rest of /_vaultjobs.
        *control.control_routes(services),
        Family(JOBS, jobs, name="jobs"),
        Family("", auth_routes(route, services), name="auth"),
        Family(V, content_routes(route, "", services), name="content"),
        Family("", package_routes(route, V, services), name="packages"),
        Family("", object_routes(route, V, services), name="objects"),
        # The Job Status page; its links reach the API through ``app``.
        *ui_mount(services, lambda: app),
    ]
    app = Starlette(
        routes=routes,
        # Access logging outermost; then fault rules and the request journal (off with the control plane);
        # innermost, Retrieve Job Status and job starts sent to their endpoints without the router's search.
        middleware=[Middleware(AccessLog), *control.control_middleware(services),
                    Middleware(HotPath, routes=hot_routes)],
        exception_handlers=dict(exception_handlers(rest_status_codes=rest)),
        **starlette_options,
    )
    app.router.redirect_slashes = False
    return app
