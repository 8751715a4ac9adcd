"""The links of a job's status, as downloads from the page.

The API's links answer to an ``Authorization`` header, which a browser following a link does not
send. The page serves each link itself: ``self`` from the store (so following it spends no status
window) and ``log`` as a file; the others (``artifacts``, ``file``, ``content``) are passed to the API
inside this process, as a GET with the viewer's session, so they answer exactly as the API does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from vaultjobs import errors
from vaultjobs.api.services import Services
from vaultjobs.ui.session import viewer_of
from vaultjobs.ui.views import job_detail


def ui_link(base: str, job_id: int, index: int, rel: str) -> str:
    """Where the page serves link ``index`` (of rel ``rel``) of job ``job_id``'s status."""
    if rel == "self":
        return f"{base}/jobs/{job_id}/status.json"
    if rel == "log":
        return f"{base}/jobs/{job_id}/log"
    return f"{base}/jobs/{job_id}/links/{index}"


class LinkForwarder:
    """An ASGI endpoint: ``/jobs/{job_id}/links/{index}`` answered by the API's GET of that link."""

    def __init__(self, services: Services, api: Callable[[], ASGIApp]) -> None:
        self.s = services
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        job_id = int(request.path_params["job_id"])
        index = int(request.path_params["index"])

        def find() -> tuple[str, str, str] | None:
            viewer = viewer_of(request, self.s.accounts)
            if viewer is None:
                return None
            try:
                detail = job_detail(self.s.store, viewer.user, job_id, self.s.clock.now())
            except errors.VaultError:
                return None
            links: list[dict[str, Any]] = detail.status_data["links"]
            if not 0 <= index < len(links) or links[index]["rel"] in ("self", "log"):
                return None
            return viewer.session_id, str(links[index]["href"]), str(links[index].get("accept", "*/*"))

        found = await anyio.to_thread.run_sync(find)
        if found is None:
            await PlainTextResponse("No such link of a job you may see", status_code=404)(scope, receive, send)
            return
        session_id, href, accept = found
        prefix = str(scope.get("root_path", "")).removesuffix("/ui")
        path, _, query = href.partition("?")
        forwarded = {
            key: value for key, value in scope.items()
            if key in ("type", "asgi", "http_version", "scheme", "server", "client", "state", "extensions")
        }
        forwarded.update(
            method="GET", path=prefix + path, raw_path=(prefix + path).encode(), root_path=prefix,
            query_string=query.encode(),
            headers=[(b"authorization", session_id.encode()), (b"accept", accept.encode())],
        )
        await self.api()(forwarded, receive, send)
