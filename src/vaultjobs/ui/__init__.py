"""The Job Status page (Vault's Admin > Operations > Job Status), served by ``vaultjobs serve`` at ``/ui/``.

Server-rendered (Jinja2) with htmx for live updates; every file it needs ships in this package
(``templates/``, ``static/``), so the page needs no build step and no network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

if TYPE_CHECKING:  # the API imports this package: its modules are imported when the page is mounted
    from vaultjobs.api.services import Services


def ui_mount(services: Services, api: Callable[[], ASGIApp]) -> list[BaseRoute]:
    """``/ui`` (redirected to ``/ui/``) and the page's family of routes under it."""
    from vaultjobs.api.families import Family
    from vaultjobs.ui.pages import ui_routes

    async def to_slash(request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/ui/", status_code=308)

    return [Route("/ui", to_slash, methods=["GET"]), Family("/ui", ui_routes(services, api), name="ui")]
