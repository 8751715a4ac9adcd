"""How every API endpoint runs: version check, session, handler, envelope and headers.

Handlers are plain synchronous functions run in one worker-thread hop (the store is synchronous);
they return a payload dict (the envelope's keys besides ``responseStatus``) or a ready Response,
and raise :class:`~vaultjobs.errors.VaultError` subclasses for Vault-style failures. Whatever they
raise is answered by :mod:`vaultjobs.api.failures`; the access log and the request metrics are the
:class:`~vaultjobs.api.access.AccessLog` middleware's.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from vaultjobs import errors
from vaultjobs.api.access import note_errors
from vaultjobs.api.burst import BurstLimit
from vaultjobs.api.envelope import JSON_MEDIA_TYPE, render, wants_xml
from vaultjobs.api.failures import BodyTooLarge, failure_response
from vaultjobs.api.versions import SUPPORTED_VERSIONS, check_version
from vaultjobs.models import User

_EXECUTION_IDS = random.Random(os.urandom(32))
# A forked child draws its own ids, not its parent's sequence.
os.register_at_fork(after_in_child=lambda: _EXECUTION_IDS.seed(os.urandom(32)))


@dataclass
class Call:
    """One API request as handlers see it."""

    request: Request
    version: str = ""
    user: User | None = None
    session_hash: bytes | None = None
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)
    #: 32 random hex digits, as a UUID's hex: an id for support to find a call by, not a secret, so
    #: drawn from a seeded generator (the system's random source is a system call per request).
    execution_id: str = field(default_factory=lambda: f"{_EXECUTION_IDS.getrandbits(128):032x}")
    #: The burst limit's headers, counted before the call is answered.
    limits: dict[str, str] | None = None

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

    def headers(self) -> dict[str, str]:
        """The ``X-VaultAPI-*`` headers every answer to this call carries, success or failure."""
        headers = {"X-VaultAPI-ExecutionId": self.execution_id}
        if self.limits:
            headers.update(self.limits)
        if self.user is not None:
            headers["X-VaultAPI-UserId"] = str(self.user.id)
        return headers


Handler = Callable[[Call], "dict[str, Any] | Response"]
#: A handler's shortcut for a session checked a moment ago; None when it cannot answer (it did nothing).
Shortcut = Callable[[Call], "dict[str, Any] | Response | None"]
#: The same, awaited on the event loop on every store (so it must never block it).
AsyncShortcut = Callable[[Call], Awaitable["dict[str, Any] | Response | None"]]
Authenticator = Callable[[Call], None]
#: An endpoint answering on the ASGI level: None when it answered; else it did nothing, and the full
#: endpoint must answer with the ``receive`` it gives back.
RawEndpoint = Callable[[Scope, Receive, Send], Awaitable[Receive | None]]

_SUPPORTED = frozenset(SUPPORTED_VERSIONS)
_JSON_TYPE = (b"content-type", JSON_MEDIA_TYPE.encode("latin-1"))


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


def respond(call: Call, payload: dict[str, Any] | Response, *, rest_status_codes: bool) -> Response:
    """A handler's answer as the envelope (or its ready Response), with the call's headers."""
    headers = call.headers()
    if isinstance(payload, Response):
        payload.headers.update(headers)
        payload.headers.setdefault("X-VaultAPI-Status", "SUCCESS")
        return payload
    if "responseStatus" not in payload:
        payload = {"responseStatus": "SUCCESS", **payload}
    if payload.get("errors"):
        note_errors(call.request.scope, ",".join(str(e.get("type")) for e in payload["errors"]))
    return render(payload, xml=wants_xml(call.request.headers.get("accept")), headers=headers,
                  rest_status_codes=rest_status_codes)


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
    An ``async_shortcut`` is awaited on the event loop on every store: it must not block it.
    ``burst`` counts the request against Vault's burst limit, whose headers every answer carries.
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
        # Counted first, so that its headers go into the answer as it is made.
        limits, delay = count_burst(burst)
        response = await answer(request, limits)
        if delay:
            await anyio.sleep(delay)
        return response

    async def answer(request: Request, limits: dict[str, str] | None) -> Response:
        call = Call(request=request, limits=limits)
        try:
            version = request.path_params.get("version")
            if version is not None:
                call.version = check_version(version)
            if body == "raw":
                call.body = await read_body(request, max_body_bytes)
            elif body == "form":
                await read_body_into_form(call, max_body_bytes, refuse_nul=authenticate is not None)
            result = None
            if async_shortcut is not None:
                result = await async_shortcut(call)
            elif inline and shortcut is not None:
                result = shortcut(call)
            if result is None:
                result = await anyio.to_thread.run_sync(in_thread, call)
            return respond(call, result, rest_status_codes=rest_status_codes)
        except Exception as exc:
            return failure_response(request, exc, rest_status_codes=rest_status_codes, headers=call.headers())

    return asgi_endpoint


def count_burst(burst: BurstLimit | None) -> tuple[dict[str, str] | None, float]:
    """Count one request against the burst limit: the headers its answer carries, and its delay."""
    if burst is None:
        return None, 0.0
    allowance = burst.count()
    limits = {"X-VaultAPI-BurstLimit": str(allowance.limit),
              "X-VaultAPI-BurstLimitRemaining": str(allowance.remaining)}
    if allowance.delay:
        limits["X-VaultAPI-ResponseDelay"] = str(int(allowance.delay * 1000))
    return limits, allowance.delay


def raw_endpoint(
    shortcut: Shortcut | None = None, *, async_shortcut: AsyncShortcut | None = None,
    max_body_bytes: int | None = None, rest_status_codes: bool, burst: BurstLimit | None,
) -> RawEndpoint:
    """A ``shortcut`` (or ``async_shortcut``) answered on the ASGI level, without Starlette's Request
    and Response objects; with ``max_body_bytes``, for a request whose body it reads first.

    It answers what the full :func:`endpoint` with this shortcut would — the same envelope, headers and
    errors — where that costs less than the work itself: a JSON answer to a supported version. Anything
    else (XML, an unsupported version, a session that needs the full check, a shortcut that declines,
    a body of no declared length or over the limit) it leaves alone, having counted and changed
    nothing, and hands back the ``receive`` with which the full endpoint must answer: the body it read,
    replayed. The path parameters are in ``scope["path_params"]``.
    """

    async def answer(scope: Scope, receive: Receive, send: Send) -> Receive | None:
        if scope["path_params"].get("version") not in _SUPPORTED:
            return receive
        declared = None
        for name, value in scope["headers"]:
            if name == b"accept" and wants_xml(value.decode("latin-1")):
                return receive
            if name == b"content-length":
                declared = value
        call = Call(request=Request(scope, receive), version=scope["path_params"]["version"])
        if max_body_bytes is not None:
            if declared is None or not declared.isdigit() or int(declared) > max_body_bytes:
                return receive
            messages, body = await _read_body(receive, max_body_bytes)
            receive = _replaying(messages, receive)
            if body is None:
                return receive
            call.body = body
        try:
            if async_shortcut is not None:
                result = await async_shortcut(call)
            else:
                assert shortcut is not None
                result = shortcut(call)
        except Exception as exc:
            call.limits, delay = count_burst(burst)
            failure = failure_response(call.request, exc, rest_status_codes=rest_status_codes, headers=call.headers())
            if delay:
                await anyio.sleep(delay)
            await failure(scope, receive, send)
            return None
        if result is None:
            return receive
        call.limits, delay = count_burst(burst)
        if delay:
            await anyio.sleep(delay)
        if isinstance(result, Response) or result.get("errors"):
            await respond(call, result, rest_status_codes=rest_status_codes)(scope, receive, send)
        else:
            await send_success(call, result, send)
        return None

    return answer


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes | None]:
    """The request's messages as received, and its body; None for the body when the client went away
    or sent more than ``limit`` (the full endpoint, given the messages again, answers those)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        size += len(message.get("body", b""))
        if size > limit:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(m.get("body", b"") for m in messages)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives ``messages`` again, in order."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def send_success(call: Call, payload: dict[str, Any], send: Send) -> None:
    """A successful JSON envelope sent as two ASGI messages: what :func:`respond` would make of
    ``payload``, header for header, without building a Response."""
    body = orjson.dumps({"responseStatus": "SUCCESS", **payload} if "responseStatus" not in payload else payload)
    headers = call.headers()
    headers["X-VaultAPI-Status"] = str(payload.get("responseStatus", "SUCCESS"))
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"content-length", str(len(body)).encode("latin-1")))
    raw.append(_JSON_TYPE)
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    await send({"type": "http.response.body", "body": body})


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
