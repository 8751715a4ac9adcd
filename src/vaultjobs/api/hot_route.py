"""One route tried before all the others: Retrieve Job Status, which clients call in a loop.

Starlette's router tries its routes in order, and the status route comes after a dozen others;
matching them costs more than some whole endpoints. :func:`try_first` lets a router try one route
first, with that route's own matching (path, converters, ``root_path``), for the requests
``applies`` picks out, and falls back to the router's own walk for everything else. It only answers
what the walk would have given the same route: ``applies`` must pick only requests that no earlier
route matches (for the status route: a job id of digits, which no literal path segment is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


class HotRoute:
    """ASGI: ``route`` when it fully matches and ``applies`` to its path parameters, else ``app``."""

    def __init__(self, app: ASGIApp, router: Router, route: Route, applies: Callable[[dict[str, Any]], bool]) -> None:
        self.app = app
        self.router = router
        self.route = route
        self.applies = applies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match, child_scope = self.route.matches(scope)
            if match is Match.FULL and self.applies(child_scope["path_params"]):
                scope.setdefault("router", self.router)
                scope["route"] = self.route
                scope.update(child_scope)
                await self.route.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)


def try_first(router: Router, route: Route, applies: Callable[[dict[str, Any]], bool]) -> None:
    """Make ``router`` try ``route`` before its ordered walk, for the requests ``applies`` picks."""
    router.middleware_stack = HotRoute(router.middleware_stack, router, route, applies)
