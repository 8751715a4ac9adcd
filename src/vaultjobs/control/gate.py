"""Who may call the control plane: anybody on loopback, and only holders of the token elsewhere.

A server that listens off loopback cannot start its control plane without a token (see
:class:`~vaultjobs.settings.Settings`); once a token is configured it is checked on every call,
loopback included, so that a token is never decoration.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from vaultjobs.control.responses import control_error

TOKEN_HEADER = b"x-vaultjobs-control-token"


class ControlGate:
    """Pure ASGI middleware in front of the control plane's routes."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is not None and scope["type"] == "http":
            sent = next((value for name, value in scope["headers"] if name == TOKEN_HEADER), None)
            if sent is None or not hmac.compare_digest(sent, self.token):
                what = "is missing" if sent is None else "is wrong"
                response = control_error(
                    401, "CONTROL_TOKEN_REQUIRED",
                    f"the control plane needs the X-Vaultjobs-Control-Token header; it {what}",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
