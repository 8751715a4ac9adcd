"""How every API endpoint runs: version check, session, handler, envelope, headers and logging.

Handlers are plain synchronous functions run in one worker-thread hop (the store is synchronous);
they return a payload dict (the envelope's keys besides ``responseStatus``) or a ready Response,
and raise :class:`~vaultjobs.errors.VaultError` subclasses for Vault-style failures. Anything else
raised becomes EXCEPTION / UNEXPECTED_ERROR with the traceback logged here, never sent.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from vaultjobs import errors, metrics
from vaultjobs.api.burst import BurstLimit
from vaultjobs.api.envelope import failure_payload, render, wants_xml
from vaultjobs.api.versions import check_version
from vaultjobs.models import User

access_log = logging.getLogger("vaultjobs.access")
logger = logging.getLogger(__name__)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def client_id_of(request: Request) -> str:
    """Vault's rule: ``client_id`` query parameter, else the header; ``unknown`` / ``invalid_client_id``."""
    raw = request.query_params.get("client_id")
    if raw is None:
        raw = request.headers.get("x-vaultapi-clientid")
    if raw is None or raw == "":
        return "unknown"
    return raw if _CLIENT_ID.match(raw) else "invalid_client_id"


@dataclass
class Call:
    """One API request as handlers see it."""

    request: Request
    version: str = ""
    user: User | None = None
    session_hash: bytes | None = None
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)
    #: 32 random hex digits, as a UUID's hex; drawn without building a UUID, which costs four times as much.
    execution_id: str = field(default_factory=lambda: os.urandom(16).hex())

    @property
    def path_params(self) -> dict[str, Any]:
        return self.request.path_params

    @property
    def query(self) -> Any:
        return self.request.query_params

    def require_user(self) -> User:
        if self.user is None:
            raise errors.InvalidSessionId()
        return self.user


Handler = Callable[[Call], "dict[str, Any] | Response"]
#: A handler's shortcut for a session checked a moment ago; None when it cannot answer (it did nothing).
Shortcut = Callable[[Call], "dict[str, Any] | Response | None"]
#: The same, awaited on the event loop (only where the store's ``inline`` allows it).
AsyncShortcut = Callable[[Call], Awaitable["dict[str, Any] | Response | None"]]
Authenticator = Callable[[Call], None]


class BodyTooLarge(errors.InvalidData):
    """The request body is too large."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def respond(
    call: Call, payload: dict[str, Any] | Response, *, rest_status_codes: bool, started: float,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    headers = {"X-VaultAPI-ExecutionId": call.execution_id}
    if extra_headers:
        headers.update(extra_headers)
    if call.user is not None:
        headers["X-VaultAPI-UserId"] = str(call.user.id)
    if isinstance(payload, Response):
        payload.headers.update(headers)
        payload.headers.setdefault("X-VaultAPI-Status", "SUCCESS")
        response = payload
        status = response.headers["X-VaultAPI-Status"]
        types = ""
    else:
        if "responseStatus" not in payload:
            payload = {"responseStatus": "SUCCESS", **payload}
        response = render(
            payload, xml=wants_xml(call.request.headers.get("accept")), headers=headers,
            rest_status_codes=rest_status_codes,
        )
        status = str(payload["responseStatus"])
        types = ",".join(str(e.get("type")) for e in payload.get("errors") or [])
    route = call.request.scope.get("route")
    seconds = time.perf_counter() - started
    metrics.observe_request(call.request.method, metrics.route_template(route.path) if route else "-", status,
                            types, seconds)
    if access_log.isEnabledFor(logging.INFO):
        client_id = client_id_of(call.request)
        access_log.info(
            "%s %s %s %s%s user=%s client_id=%s ref=%s %.1fms",
            call.execution_id,
            call.request.method,
            call.request.url.path,
            status,
            f" {types}" if types else "",
            call.user.id if call.user else "-",
            client_id,
            call.request.headers.get("x-vaultapi-referenceid", "-"),
            seconds * 1000,
            extra={"execution_id": call.execution_id, "method": call.request.method,
                   "route": call.request.url.path, "outcome": status, "errors": types or None,
                   "user": call.user.id if call.user else None, "job_id": call.request.path_params.get("job_id"),
                   "client_id": client_id, "duration_ms": round(seconds * 1000, 1)},
        )
    return response


def error_response(call: Call, error: errors.VaultError, *, rest_status_codes: bool, started: float,
                   extra_headers: dict[str, str] | None = None) -> Response:
    response = respond(call, failure_payload(error), rest_status_codes=rest_status_codes, started=started,
                       extra_headers=extra_headers)
    if isinstance(error, errors.ApiLimitExceeded) and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def endpoint(
    handler: Handler,
    *,
    authenticate: Authenticator | None,
    rest_status_codes: bool,
    max_body_bytes: int,
    body: str | None = None,
    shortcut: Shortcut | None = None,
    async_shortcut: AsyncShortcut | None = None,
    inline: bool = False,
    burst: BurstLimit | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` as a Starlette endpoint. ``body`` is None, ``"raw"`` or ``"form"``.

    A ``shortcut`` is tried first and the handler (after ``authenticate``) runs when it returns
    None; with ``inline`` the shortcut runs on the event loop, sparing the thread hop that costs
    more than its work (the store's ``inline``: SQLite, where it reads and writes in microseconds).
    An ``async_shortcut`` is awaited on the event loop, and only with ``inline``. ``burst`` counts
    the request against Vault's burst limit, whose headers every answer carries.
    """

    def run(call: Call) -> dict[str, Any] | Response:
        if authenticate is not None:
            authenticate(call)
        return handler(call)

    def run_with_shortcut(call: Call) -> dict[str, Any] | Response:
        assert shortcut is not None
        result = shortcut(call)
        return run(call) if result is None else result

    in_thread = run if shortcut is None or inline else run_with_shortcut

    async def asgi_endpoint(request: Request) -> Response:
        if burst is None:
            return await answer(request, None)
        # Counted first, so that its headers go into the answer as it is made.
        allowance = burst.count()
        limits = {"X-VaultAPI-BurstLimit": str(allowance.limit),
                  "X-VaultAPI-BurstLimitRemaining": str(allowance.remaining)}
        if allowance.delay:
            limits["X-VaultAPI-ResponseDelay"] = str(int(allowance.delay * 1000))
        response = await answer(request, limits)
        if allowance.delay:
            await anyio.sleep(allowance.delay)
        return response

    async def answer(request: Request, limits: dict[str, str] | None) -> Response:
        started = time.perf_counter()
        call = Call(request=request)
        try:
            version = request.path_params.get("version")
            if version is not None:
                call.version = check_version(version)
            if body == "raw":
                call.body = await read_body(request, max_body_bytes)
            elif body == "form":
                await read_body_into_form(call, max_body_bytes, refuse_nul=authenticate is not None)
            result = None
            if inline and async_shortcut is not None:
                result = await async_shortcut(call)
            elif inline and shortcut is not None:
                result = shortcut(call)
            if result is None:
                result = await anyio.to_thread.run_sync(in_thread, call)
            return respond(call, result, rest_status_codes=rest_status_codes, started=started, extra_headers=limits)
        except errors.VaultError as exc:
            return error_response(call, exc, rest_status_codes=rest_status_codes, started=started,
                                  extra_headers=limits)
        except Exception:
            logger.exception("unexpected error in %s %s (execution %s)", request.method, request.url.path,
                             call.execution_id)
            return error_response(
                call, errors.VaultError(), rest_status_codes=rest_status_codes, started=started, extra_headers=limits
            )

    return asgi_endpoint


async def read_body_into_form(call: Call, limit: int, *, refuse_nul: bool = True) -> None:
    """Parse an urlencoded or multipart form body, within the size limit. A NUL in a field is
    INVALID_DATA unless ``refuse_nul`` is off (the login form answers bad credentials its own way)."""
    declared = call.request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than {limit} bytes")
    try:
        form = await call.request.form(max_files=0, max_fields=100)
    except Exception as exc:
        raise errors.InvalidData(f"The request body is not a valid form: {exc}") from exc
    call.form = {k: v for k, v in form.items() if isinstance(v, str)}
    # No text column of either database holds a NUL (PostgreSQL refuses it outright).
    bad = next((k for k, v in call.form.items() if "\x00" in k or "\x00" in v), None)
    if bad is not None and refuse_nul:
        raise errors.InvalidData(f"Invalid value for [{bad.replace(chr(0), '')[:100]}]: it contains a NUL character")
