"""Routes tried before all the others: Retrieve Job Status and job starts, which clients call in loops.

Starlette's router tries its routes in order, and these come after a dozen others; matching them
costs more than some whole endpoints. :func:`try_first` lets a router try a few routes first, each
with its own matching (path, converters, ``root_path``), for the requests its ``applies`` picks out,
and falls back to the router's own walk for everything else. It only answers what the walk would
have given the same route: ``applies`` must pick only requests that no earlier route matches (for
the status route: a job id of digits, which no literal path segment is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

#: Whether a route tried first may answer, given the path parameters it matched.
Applies = Callable[[dict[str, Any]], bool]


def always(params: dict[str, Any]) -> bool:
    """For a route that no earlier route can match at all."""
    return True


class HotRoutes:
    """ASGI: the first of ``routes`` that fully matches and ``applies`` to its path parameters, else ``app``."""

    def __init__(self, app: ASGIApp, router: Router, routes: Sequence[tuple[Route, Applies]]) -> None:
        self.app = app
        self.router = router
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, applies in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL and applies(child_scope["path_params"]):
                    scope.setdefault("router", self.router)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def try_first(router: Router, *routes: tuple[Route, Applies]) -> None:
    """Make ``router`` try ``routes`` before its ordered walk, each for the requests its ``applies`` picks."""
    router.middleware_stack = HotRoutes(router.middleware_stack, router, routes)
