"""The page's login: the API's own sessions, carried in a cookie, and the CSRF token of each form.

The cookie holds the same session id the Auth API hands out (so sessions expire, end on logout and
on a password change exactly as the API's do). It is HttpOnly (no script can read it) and
SameSite=Strict (no other site's page can send it). Every form that changes something carries a CSRF
token as well: an HMAC of the session id, so it needs no storage, differs per session and is
worthless without the session id it was derived from.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from vaultjobs import errors
from vaultjobs.accounts import Accounts
from vaultjobs.models import User

COOKIE = "vaultjobs_ui_session"
CSRF_FIELD = "csrf_token"


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"vaultjobs ui csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of a request, with the session that signed them in."""

    user: User
    session_id: str
    session_hash: bytes

    @property
    def csrf(self) -> str:
        return csrf_token(self.session_id)

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(str(sent), self.csrf)


def viewer_of(request: Request, accounts: Accounts) -> Viewer | None:
    """The viewer behind the request's cookie; None when there is none or its session has ended."""
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    try:
        user, hashed = accounts.session_user(session_id)
    except errors.VaultError:
        return None
    return Viewer(user=user, session_id=session_id, session_hash=hashed)


def cookie_path(request: Request) -> str:
    """The page's own path (under any URL prefix): the cookie goes nowhere else."""
    return str(request.scope.get("root_path", "")) or "/"


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    response.set_cookie(
        COOKIE, session_id, path=cookie_path(request), httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=cookie_path(request), httponly=True, samesite="strict")
