"""The control plane's place in front of the Vault API: fault rules and the request journal.

:class:`ControlIntercept` is pure ASGI middleware, installed by
:func:`~vaultjobs.control.app.control_middleware` only when the control plane is on, so a server
without it pays nothing. It sees each call to a path under
``/api`` before the router: it resolves the route (template and operation name), lets the fault
rules delay or answer it (:mod:`vaultjobs.control.faults`), and records it in the journal
(:mod:`vaultjobs.control.journal`) before the last byte of its answer leaves, so that a test reading
the journal right after a call finds the call there.
"""

from __future__ import annotations

import time

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultjobs.accounts import Accounts
from vaultjobs.api.services import Services
from vaultjobs.control.faults import CallFacts, Faults, store_call
from vaultjobs.control.journal import ERROR_BODY_LIMIT, error_type_of, redacted_headers
from vaultjobs.control.operations import ResolvedRoute, resolve
from vaultjobs.errors import InvalidSessionId
from vaultjobs.store.control_requests import JournalEntry


def api_path(scope: Scope) -> str | None:
    """The path under the server's root path, when it is one of the Vault API's; else None."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):]
    return path if path == "/api" or path.startswith("/api/") else None


class Answered:
    """What went out for one call: status, Vault status, content type and (small) body."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.vault_status: str | None = None
        self.content_type = ""
        self.user_id: int | None = None
        self.body = bytearray()

    def start(self, message: Message) -> None:
        self.status = int(message["status"])
        for name, value in message.get("headers", []):
            if name.lower() == b"x-vaultapi-status":
                self.vault_status = value.decode("latin-1")
            elif name.lower() == b"content-type":
                self.content_type = value.decode("latin-1").lower()
            elif name.lower() == b"x-vaultapi-userid" and value.isdigit():
                self.user_id = int(value)

    def add(self, chunk: bytes) -> None:
        if self.vault_status in ("FAILURE", "EXCEPTION") and len(self.body) <= ERROR_BODY_LIMIT:
            self.body += chunk

    @property
    def error_type(self) -> str | None:
        return error_type_of(self.vault_status, self.content_type, bytes(self.body))


class ControlIntercept:
    def __init__(self, app: ASGIApp, *, services: Services) -> None:
        self.app = app
        self.services = services
        self.store = services.store
        self.faults = Faults(services)

    def username(self, authorization: str | None) -> str | None:
        """The user of the call's session, read without touching the session (the call may never run)."""
        if not authorization:
            return None
        try:
            found = self.store.users.get_session(Accounts.session_hash(authorization))
        except InvalidSessionId:
            return None
        return None if found is None else found[1].username

    def username_by_id(self, user_id: int) -> str | None:
        found = self.store.users.get_user(user_id)
        return None if found is None else found.username

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = api_path(scope) if scope["type"] == "http" else None
        if path is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        at = self.services.clock.now()
        route = resolve(scope["app"].router.routes, scope) or ResolvedRoute("", None, {})
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        user = await store_call(self.store, self.username, authorization)
        answered = Answered()
        recorded = False
        fault: int | None = None

        async def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            username = user
            if username is None and answered.user_id is not None:  # a login: its user is known once answered
                username = await store_call(self.store, self.username_by_id, answered.user_id)
            entry = JournalEntry(
                at=at, method=scope["method"], path=path, route=route.template or None, operation=route.operation,
                status=answered.status, error_type=answered.error_type, user=username,
                duration_ms=(time.perf_counter() - started) * 1000, headers=redacted_headers(scope["headers"]),
                fault=fault,
            )
            await store_call(self.store, self.store.control_requests.record, entry, writes=True)

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered.start(message)
            elif message["type"] == "http.response.body":
                answered.add(message.get("body", b""))
                if not message.get("more_body", False):
                    await record()
            await send(message)

        try:
            call = CallFacts(method=scope["method"], route=route, user=user)
            decided = await self.faults.decide(call)
            if decided is None:
                await self.app(scope, receive, watching_send)
            else:
                fault, answer = decided
                if answer.drop:
                    # Journaled before the client sees the connection close, as an answer is before its
                    # body goes: a call the client makes next, and its read of the journal, come after.
                    await record()
                await self.faults.answer(answer, scope, receive, watching_send)
        finally:
            # A dropped connection, or an answer cut short: recorded as it stands.
            with anyio.CancelScope(shield=True):
                await record()
