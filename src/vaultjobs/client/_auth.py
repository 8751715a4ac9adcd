"""Session handling as an httpx auth flow: inject the session, log in again once on INVALID_SESSION_ID."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator

import httpx

from ._models import Session
from ._parse import as_list, as_str, decode_body

__all__ = ["VaultAuth"]

_FORWARDED = ("accept", "user-agent", "x-vaultapi-clientid", "x-vaultapi-referenceid")


def is_invalid_session(response: httpx.Response) -> bool:
    """True when the body is a Vault failure carrying INVALID_SESSION_ID (whatever the HTTP status)."""
    try:
        body = decode_body(response.content, response.headers.get("content-type"))
    except ValueError:
        return False
    for item in as_list(body.get("errors")):
        if isinstance(item, dict) and as_str(item.get("type")) == "INVALID_SESSION_ID":
            return True
    return False


class VaultAuth(httpx.Auth):
    """Sends ``Authorization: {sessionId}``; logs in when there is no session yet.

    When a response says INVALID_SESSION_ID and a username and password are known, it logs in once
    more and replays the request; a second INVALID_SESSION_ID is then returned to the caller as is.
    If another request already replaced the session in the meantime, the replay uses that session
    without logging in again. ``parse_login`` turns the auth response into a `Session` or raises.
    """

    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        *,
        login_url: httpx.URL,
        username: str | None,
        password: str | None,
        session_id: str | None,
        parse_login: Callable[[httpx.Response], Session],
    ) -> None:
        if session_id is None and (username is None or password is None):
            raise ValueError("give a session id, or a username and a password")
        self._login_url = login_url
        self._username = username
        self._password = password
        self._parse_login = parse_login
        self._lock = threading.Lock()
        self._session = None if session_id is None else Session(session_id=session_id)
        self._generation = 0

    @property
    def can_login(self) -> bool:
        return self._username is not None and self._password is not None

    @property
    def session(self) -> Session | None:
        return self._session

    def set_session(self, session: Session) -> None:
        with self._lock:
            self._session = session
            self._generation += 1

    def clear_session(self) -> None:
        with self._lock:
            self._session = None
            self._generation += 1

    def build_login_request(self, headers: httpx.Headers | None = None) -> httpx.Request:
        if self._username is None or self._password is None:
            raise ValueError("no username and password to log in with")
        forwarded = {k: v for k, v in (headers or {}).items() if k.lower() in _FORWARDED}
        return httpx.Request(
            "POST",
            self._login_url,
            data={"username": self._username, "password": self._password},
            headers=forwarded,
        )

    def _current(self) -> tuple[Session | None, int]:
        with self._lock:
            return self._session, self._generation

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session, generation = self._current()
        if session is None:
            response = yield self.build_login_request(request.headers)
            session = self._parse_login(response)
            self.set_session(session)
            generation = self._current()[1]
        request.headers["Authorization"] = session.session_id
        response = yield request
        if not (self.can_login and is_invalid_session(response)):
            return
        current, current_generation = self._current()
        if current is None or current_generation == generation:
            response = yield self.build_login_request(request.headers)
            current = self._parse_login(response)
            self.set_session(current)
        request.headers["Authorization"] = current.session_id
        yield request
