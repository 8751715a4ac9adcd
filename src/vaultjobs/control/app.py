"""The control plane's routes, gathered under one ``/_vaultjobs`` mount behind the gate."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from vaultjobs import __version__
from vaultjobs.api.services import Services
from vaultjobs.control import clock, events, faults, journal, limits, reset, seed, transitions
from vaultjobs.control.gate import ControlGate
from vaultjobs.control.responses import control_json

#: Each part of the control plane: its routes, relative to ``/_vaultjobs``.
PARTS: list[Callable[[Services], Sequence[BaseRoute]]] = [
    clock.routes, limits.routes, transitions.routes, reset.routes, seed.routes,
    faults.routes, journal.routes, events.routes,
]


def describe_routes(services: Services) -> list[BaseRoute]:
    """``GET /_vaultjobs/control``: whether the control plane is on, and what it offers."""

    async def describe(request: Request) -> Response:
        return control_json({
            "control_plane": "on",
            "version": __version__,
            "token_required": services.settings.control_token is not None,
        })

    return [Route("/control", describe, methods=["GET"])]


def control_middleware(services: Services) -> list[Middleware]:
    """The middleware in front of the Vault API (fault rules, the request journal): none unless the
    control plane is on, so that a server without it pays nothing."""
    if not services.settings.control_plane:
        return []
    # Imported here: the middleware imports the API's modules, which import this one.
    from vaultjobs.control.intercept import ControlIntercept

    return [Middleware(ControlIntercept, services=services)]


def control_routes(services: Services) -> list[BaseRoute]:
    """The control plane's mount, or nothing when it is off (its paths then answer as unknown ones)."""
    if not services.settings.control_plane:
        return []
    routes = [route for part in (describe_routes, *PARTS) for route in part(services)]
    return [Mount("/_vaultjobs", routes=routes,
                  middleware=[Middleware(ControlGate, token=services.settings.control_token)])]
