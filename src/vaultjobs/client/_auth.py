"""The session a client sends, and the credentials to replace it when Vault says INVALID_SESSION_ID.

The flows that log in and replay are in `_operations` (`send_authorized`); this is their state.
"""

from __future__ import annotations

import threading

import httpx

from ._models import Session
from ._parse import as_list, as_str, decode_body

__all__ = ["VaultAuth", "is_invalid_session"]


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


class VaultAuth:
    """The current session, its generation, and the username and password to log in with (if any).

    The generation counts session changes, so a caller that saw INVALID_SESSION_ID can tell whether
    another caller already logged in again since it sent its request.
    """

    def __init__(self, *, username: str | None, password: str | None, session_id: str | None) -> None:
        if session_id is None and (username is None or password is None):
            raise ValueError("give a session id, or a username and a password")
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._session = None if session_id is None else Session(session_id=session_id)
        self._generation = 0

    @property
    def can_login(self) -> bool:
        return self._username is not None and self._password is not None

    @property
    def session(self) -> Session | None:
        return self._session

    def current(self) -> tuple[Session | None, int]:
        """The session and its generation, read together."""
        with self._lock:
            return self._session, self._generation

    def set_session(self, session: Session) -> None:
        with self._lock:
            self._session = session
            self._generation += 1

    def clear_session(self) -> None:
        with self._lock:
            self._session = None
            self._generation += 1

    def login_form(self) -> dict[str, str]:
        """The form body of ``POST /auth``."""
        if self._username is None or self._password is None:
            raise ValueError("no username and password to log in with")
        return {"username": self._username, "password": self._password}
