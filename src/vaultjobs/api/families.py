"""A family of routes under one prefix: a Starlette ``Mount`` that gives way when none of its routes fits.

Vault's families of endpoints share path prefixes (``/api/{version}/vobjects/…`` holds object records,
package attachments and submission imports; ``/api/mdl/…`` objects and packages), so a family cannot
own a prefix the way a plain ``Mount`` does: a plain ``Mount`` takes every path under its prefix and
answers 404 for the ones its routes do not know. A :class:`Family` matches only when one of its routes
does (fully, or by path with another method, which becomes 405 when no other family takes the
request), so families sharing a prefix sit side by side and each module keeps its routes together.

The route found while matching is handed on in the scope, so a request is matched once. Each route's
full template (the prefix and its own path, converters dropped) is its metrics and log label
(:data:`ROUTE_LABEL`), computed once here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import Receive, Scope, Send

#: The scope key holding the matched route's full template, ``/api/{version}/services/jobs/{job_id}``.
ROUTE_LABEL = "vaultjobs.route"
_CHOSEN = "vaultjobs.family_route"
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def route_label(template: str) -> str:
    """``/api/{version:api_version}/x/{item:path}`` as ``/api/{version}/x/{item}``: a label, never a raw path."""
    return _CONVERTER.sub(r"{\1}", template)


class Family(Mount):
    """Routes under ``path`` (``""`` for routes with paths of their own) that match only when one of them does."""

    def __init__(self, path: str, routes: Sequence[BaseRoute], *, name: str) -> None:
        super().__init__(path, routes=list(routes), name=name)
        self.labels = {id(route): route_label(path + str(getattr(route, "path", ""))) for route in self.routes}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, mount_scope = super().matches(scope)
        if match is Match.NONE:
            return match, mount_scope
        inner = {**scope, **mount_scope}
        chosen: tuple[Match, BaseRoute, Scope] | None = None
        for route in self.routes:
            match, route_scope = route.matches(inner)
            if match is Match.FULL:
                chosen = match, route, route_scope
                break
            if match is Match.PARTIAL and chosen is None:
                chosen = match, route, route_scope
        if chosen is None:
            return Match.NONE, {}
        match, route, route_scope = chosen
        return match, {**mount_scope, **route_scope, _CHOSEN: route, ROUTE_LABEL: self.labels[id(route)]}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route: BaseRoute = scope.pop(_CHOSEN)
        scope["route"] = route
        await route.handle(scope, receive, send)
