"""Retrieve Job Status dispatched ahead of the router: the one call every Vault client makes in a loop.

Starlette's router tries the route families in turn (ops, the control plane, jobs, …), each matching
its routes' patterns and merging scopes; for the path that carries most of a server's traffic that is
a fifth of the request's cost. :class:`HotPath` recognises ``GET /api/{version}/services/jobs/{id}``
(a numeric id) with one regular expression and calls the very endpoint the router would have reached,
with the same path parameters, route and route label; every other request goes on to the router. It is
the innermost middleware, so the access log and the control plane's intercepts see the request as
before, and whatever the endpoint answers — an error, a refused window — is the router's answer too.

Where the endpoint has a ``raw`` form (:func:`~vaultjobs.api.endpoint.raw_endpoint`: the status read
for a session checked a moment ago, answered without Starlette's Request and Response objects), that
is tried first; when it declines, the endpoint answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vaultjobs.api.endpoint import RawEndpoint
from vaultjobs.api.families import ROUTE_LABEL
from vaultjobs.api.versions import VersionConvertor

#: The router's own pattern for ``{version:api_version}``, so that both take the same paths.
_STATUS_PATH = re.compile(rf"/api/({VersionConvertor.regex})/services/jobs/([0-9]+)")


class HotPath:
    """Send ``GET /api/{version}/services/jobs/{digits}`` straight to the status route's endpoint."""

    def __init__(self, app: ASGIApp, *, status_route: Route, label: str, raw: RawEndpoint | None = None) -> None:
        self.app = app
        self.route = status_route
        self.label = label
        self.endpoint: Callable[[Request], Awaitable[Response]] = status_route.endpoint
        self.raw = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        found = _STATUS_PATH.fullmatch(get_route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        scope["path_params"] = {"version": found[1], "job_id": found[2]}
        scope["route"] = self.route
        scope[ROUTE_LABEL] = self.label
        if self.raw is not None and await self.raw(scope, receive, send):
            return
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)
