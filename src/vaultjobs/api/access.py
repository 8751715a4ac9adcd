"""The access log and the request metrics: one pure ASGI middleware sees every answer the server gives.

It reads what it reports from the answer itself: the outcome from ``X-VaultAPI-Status`` (Vault's
``responseStatus``; the HTTP status code for answers that carry none, such as the Job Status page's),
the execution id and the user from ``X-VaultAPI-ExecutionId`` / ``X-VaultAPI-UserId``, the route's
label from the routing (:data:`~vaultjobs.api.families.ROUTE_LABEL`). Only the error types are not in
the answer's head; whoever renders a failure notes them with :func:`note_errors`. The time is from the
request's arrival to the end of its answer's body, any burst-limit delay included.

A pure ASGI class rather than Starlette's ``BaseHTTPMiddleware``, which would put every request
through an extra task and stream, on the status endpoint's hot path too.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultjobs import metrics
from vaultjobs.api.families import ROUTE_LABEL, route_label

access_log = logging.getLogger("vaultjobs.access")
_KEY = "vaultjobs.access"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def client_id_of(request: Request) -> str:
    """Vault's rule: ``client_id`` query parameter, else the header; ``unknown`` / ``invalid_client_id``."""
    raw = request.query_params.get("client_id")
    if raw is None:
        raw = request.headers.get("x-vaultapi-clientid")
    if raw is None or raw == "":
        return "unknown"
    return raw if _CLIENT_ID.match(raw) else "invalid_client_id"


@dataclass(slots=True)
class Answer:
    """What the access line reports of one answer, filled in as it is sent."""

    outcome: str = "EXCEPTION"
    errors: str = ""
    execution_id: str = "-"
    user: str = "-"


def note_errors(scope: Scope, types: str) -> None:
    """Record a failure's error types (``INVALID_DATA,…``) for the access line of this request."""
    answer = scope.get(_KEY)
    if answer is not None:
        answer.errors = types


class AccessLog:
    """Log one line per HTTP request (``vaultjobs.access``, INFO) and count it in :mod:`vaultjobs.metrics`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answer = Answer()
        scope[_KEY] = answer

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.outcome = str(message["status"])
                for name, value in message.get("headers", ()):
                    if name == b"x-vaultapi-status":
                        answer.outcome = value.decode("latin-1")
                    elif name == b"x-vaultapi-executionid":
                        answer.execution_id = value.decode("latin-1")
                    elif name == b"x-vaultapi-userid":
                        answer.user = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        finally:
            report(scope, answer, time.perf_counter() - started)


def report(scope: Scope, answer: Answer, seconds: float) -> None:
    method = scope["method"]
    route = scope.get(ROUTE_LABEL) or (route_label(scope["route"].path) if "route" in scope else "-")
    metrics.observe_request(method, route, answer.outcome, answer.errors, seconds)
    if not access_log.isEnabledFor(logging.INFO):
        return
    request = Request(scope)
    client_id = client_id_of(request)
    path = scope["path"]
    reference = request.headers.get("x-vaultapi-referenceid", "-")
    user = None if answer.user == "-" else int(answer.user)
    access_log.info(
        "%s %s %s %s%s user=%s client_id=%s ref=%s %.1fms",
        answer.execution_id, method, path, answer.outcome, f" {answer.errors}" if answer.errors else "",
        answer.user, client_id, reference, seconds * 1000,
        extra={"execution_id": answer.execution_id, "method": method, "route": path, "outcome": answer.outcome,
               "errors": answer.errors or None, "user": user, "job_id": scope.get("path_params", {}).get("job_id"),
               "client_id": client_id, "duration_ms": round(seconds * 1000, 1)},
    )
