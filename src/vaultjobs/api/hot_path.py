"""The calls every Vault client makes in a loop, dispatched ahead of the router: Retrieve Job Status
and starting a job.

Starlette's router tries the route families in turn (ops, the control plane, jobs, …), each matching
its routes' patterns and merging scopes; for the paths that carry most of a server's traffic that is
a fifth of the request's cost. :class:`HotPath` recognises ``GET /api/{version}/services/jobs/{id}``
(a numeric id) and ``POST /api/{version}/services/jobs/processors/{name}/actions/run``, each with one
regular expression, and calls the very endpoint the router would have reached, with the same path
parameters, route and route label; every other request goes on to the router. It is the innermost
middleware, so the access log and the control plane's intercepts see the request as before, and
whatever the endpoint answers — an error, a refused window — is the router's answer too.

Where the endpoint has a ``raw`` form (:func:`~vaultjobs.api.endpoint.raw_endpoint`: the call for a
session checked a moment ago, answered without Starlette's Request and Response objects), that is
tried first; when it declines, the endpoint answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from vaultjobs.api.endpoint import RawEndpoint
from vaultjobs.api.families import ROUTE_LABEL
from vaultjobs.api.versions import VersionConvertor

#: The router's own pattern for ``{version:api_version}``, so that both take the same paths.
_VERSION = rf"/api/(?P<version>{VersionConvertor.regex})"
#: ``GET {JOBS}/{job_id}`` of a numeric id (the router's route takes any segment; the rest answer there).
STATUS_PATH = re.compile(rf"{_VERSION}/services/jobs/(?P<job_id>[0-9]+)")
#: ``POST {JOBS}/processors/{name}/actions/run``: ``{name}`` as the router's ``str`` convertor takes it.
RUN_PATH = re.compile(rf"{_VERSION}/services/jobs/processors/(?P<name>[^/]+)/actions/run")


@dataclass(frozen=True)
class HotRoute:
    """One route of the router taken directly: its method, its path as a pattern whose named groups
    are the route's path parameters, its label for the access log, and its raw form if it has one."""

    method: str
    path: re.Pattern[str]
    route: Route
    label: str
    raw: RawEndpoint | None = None


class HotPath:
    """Send the requests of ``routes`` straight to their route's endpoint, the rest to the router."""

    def __init__(self, app: ASGIApp, *, routes: Sequence[HotRoute]) -> None:
        self.app = app
        self.routes = list(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            for hot in self.routes:
                if hot.method != method:
                    continue
                found = hot.path.fullmatch(get_route_path(scope))
                if found is None:
                    continue
                scope["path_params"] = found.groupdict()
                scope["route"] = hot.route
                scope[ROUTE_LABEL] = hot.label
                if hot.raw is not None:
                    declined = await hot.raw(scope, receive, send)
                    if declined is None:
                        return
                    receive = declined
                response = await hot.route.endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
