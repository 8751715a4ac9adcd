"""The ASGI application: Vault's routes under ``/api/{version}/``, plus ``/_vaultjobs/`` service routes."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs import errors
from vaultjobs.api.burst import BurstLimit
from vaultjobs.api.endpoint import AsyncShortcut, Call, Handler, Shortcut, endpoint, error_response
from vaultjobs.api.hot_route import always, try_first
from vaultjobs.api.ops import ops_routes
from vaultjobs.api.routes.auth import AuthRoutes
from vaultjobs.api.routes.content import content_routes
from vaultjobs.api.routes.history import HistoryRoutes
from vaultjobs.api.routes.jobs import JobRoutes
from vaultjobs.api.services import Services
from vaultjobs.control import control_routes
from vaultjobs.jobtypes.objects.routes import object_routes
from vaultjobs.jobtypes.packages.routes import package_routes
from vaultjobs.ui import ui_mount

HEALTH_BODY = b'{"responseStatus":"SUCCESS","status":"ok"}'


def load_openapi() -> bytes:
    return resources.files("vaultjobs.api").joinpath("openapi.yaml").read_bytes()


def create_app(services: Services, **starlette_options: Any) -> Starlette:
    settings = services.settings
    rest = settings.http_status_codes == "rest"

    burst = BurstLimit(services.store, services.clock, limit=settings.burst_limit, window=settings.burst_window,
                       delay=settings.burst_delay)

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

    auth = AuthRoutes(services)
    jobs = JobRoutes(services)
    history = HistoryRoutes(services)
    openapi = load_openapi()

    async def health(request: Request) -> Response:
        return Response(HEALTH_BODY, media_type="application/json", headers={"X-VaultAPI-Status": "SUCCESS"})

    async def openapi_yaml(request: Request) -> Response:
        return Response(openapi, media_type="application/yaml")

    v = "/api/{version:api_version}"
    routes: list[BaseRoute] = [
        Route("/_vaultjobs/health", health, methods=["GET"]),
        Route("/_vaultjobs/openapi.yaml", openapi_yaml, methods=["GET"]),
        *ops_routes(services),
        # The test control plane (off unless --control-plane): after every other /_vaultjobs route.
        *control_routes(services),
        route("/api/", "GET", auth.versions),
        route("/api", "GET", auth.versions),
        route(f"{v}/auth", "POST", auth.auth, auth=False, body="form"),
        route(f"{v}/keep-alive", "POST", auth.keep_alive),
        route(f"{v}/session", "DELETE", auth.end_session),
        route(f"{v}/objects/users/me", "GET", auth.me),
        route(f"{v}/services/jobs/processors", "GET", jobs.processors),
        run_route := route(f"{v}/services/jobs/processors/{{name}}/actions/run", "POST", jobs.run, body="raw",
                           async_shortcut=jobs.run_cached),
        route(f"{v}/services/jobs/start_now/{{job_id}}", "POST", jobs.start_now),
        route(f"{v}/services/jobs/actions/cancel", "POST", jobs.cancel, body="raw"),
        route(f"{v}/services/jobs/histories", "GET", history.histories),
        route(f"{v}/services/jobs/monitors", "GET", history.monitors),
        status_route := route(f"{v}/services/jobs/{{job_id}}", "GET", jobs.status, shortcut=jobs.status_cached),
        route(f"{v}/services/jobs/{{job_id}}/tasks", "GET", jobs.tasks),
        route(f"{v}/services/jobs/{{job_id}}/log", "GET", jobs.log),
        *content_routes(route, v, services),
        *package_routes(route, v, services),
        *object_routes(route, v, services),
        # The Job Status page, grouped under its own mount; its links reach the API through ``app``.
        *ui_mount(services, lambda: app),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        started = time.perf_counter()
        error: errors.VaultError
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            error = errors.MethodNotSupported(
                f"The method [{request.method}] is not supported for [{request.url.path[:200]}]"
            )
        else:
            error = errors.MalformedUrl(f"The resource [{request.url.path[:200]}] could not be found")
        return error_response(Call(request=request), error, rest_status_codes=rest, started=started)

    app = Starlette(
        routes=routes,
        exception_handlers={404: http_error, 405: http_error},
        **starlette_options,
    )
    app.router.redirect_slashes = False
    # The calls clients make in loops skip the router's walk; no earlier route matches what they take.
    try_first(app.router, (status_route, lambda params: str(params["job_id"]).isdigit()), (run_route, always))
    return app
