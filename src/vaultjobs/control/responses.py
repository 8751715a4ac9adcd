"""The control plane's answers: plain JSON bodies, and errors as ``{"error": {"type", "message"}}``."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response


class ControlError(Exception):
    """A control-plane call that cannot be done; answered with ``status`` and a typed message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def control_json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def control_error(status: int, error_type: str, message: str) -> Response:
    return control_json({"error": {"type": error_type, "message": message}}, status)


async def read_json(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; ``{}`` for an empty body when not ``required``."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ControlError(400, "INVALID_BODY", "a JSON object body is required")
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ControlError(400, "INVALID_BODY", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ControlError(400, "INVALID_BODY", "the body must be a JSON object")
    return body


def control_endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """A control-plane handler whose :class:`ControlError` becomes its typed JSON answer."""

    @functools.wraps(handler)
    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except ControlError as exc:
            return control_error(exc.status, exc.error_type, exc.message)

    return answer
