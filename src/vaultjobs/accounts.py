"""Users, passwords and sessions: the rules, independent of HTTP.

Passwords are hashed with Argon2id (memory-hard). Session ids are 256 random bits shown to the
client once; the store keeps only their SHA-256, so a copy of the database lets nobody log in.
Logins are held to Vault's Auth API burst limit (:class:`AuthBurstLimit`).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vaultjobs import errors
from vaultjobs.control.limits import Limits
from vaultjobs.models import User
from vaultjobs.session_cache import CachedSession, SessionCache
from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock, fixed_window, zone

_hasher = PasswordHasher()
# Each Argon2 hash takes 64 MiB; a burst of logins must not take the machine's memory.
_hashing_slots = threading.BoundedSemaphore(2)
_DUMMY_HASH = _hasher.hash("vaultjobs: equalise the time of unknown-user logins")
MAX_PASSWORD_LENGTH = 1024
USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@+")
#: Vault counts auth calls in fixed one-minute windows.
AUTH_WINDOW_SECONDS = 60.0
#: How long each auth call is held back once half the window's limit is used. Vault documents the
#: delay but not its length (it reports it per response); half a second slows a password-guessing
#: loop several times over and costs a person who mistypes nothing they would notice.
AUTH_DELAY_SECONDS = 0.5


def hash_password(password: str) -> str:
    with _hashing_slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _hashing_slots:
        try:
            return bool(_hasher.verify(password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def new_session_token() -> str:
    return secrets.token_hex(32).upper()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def check_username(username: str) -> str:
    if not username or len(username) > 150 or not set(username) <= USERNAME_CHARS:
        raise ValueError("a username is 1 to 150 letters, digits or . _ - @ +")
    return username


def check_password(password: str) -> str:
    if len(password) < 8 or len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password is 8 to {MAX_PASSWORD_LENGTH} characters")
    return password


def check_timezone(name: str) -> str:
    zone(name)
    return name


class AuthBurstLimit:
    """Vault's Auth API burst limit: auth calls per username in fixed one-minute windows.

    From the call that reaches half the limit on, each call is delayed; past the limit, calls fail
    with API_LIMIT_EXCEEDED until the next window begins. The store counts, so the limit holds
    across every node of a cluster.
    """

    def __init__(
        self,
        store: Store,
        limit: int | Callable[[], int],
        clock: Clock,
        *,
        delay: float = AUTH_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if delay < 0:
            raise ValueError("the auth delay cannot be negative")
        self.store = store
        self.limit = limit
        self.clock = clock
        self.delay = delay
        self._sleep = sleep

    def admit(self, username: str) -> float:
        """Count one auth call for ``username``; return how long it was held back, in seconds."""
        now = self.clock.now()
        start, end = fixed_window(now, AUTH_WINDOW_SECONDS)
        attempts = self.store.users.count_auth_attempt(username, start)
        limit = self.limit() if callable(self.limit) else self.limit
        if attempts > limit:
            retry = math.ceil((end - now).total_seconds())
            raise errors.ApiLimitExceeded(
                f"Too many authentication attempts for [{username}] in this minute; try again in {retry} s",
                retry_after=max(1, retry),
            )
        if self.delay and attempts * 2 >= limit:
            self._sleep(self.delay)
            return self.delay
        return 0.0


@dataclass(frozen=True)
class Login:
    token: str
    user: User


class Accounts:
    """Logging in, checking sessions, and managing users."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        *,
        auth_delay: float = AUTH_DELAY_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        #: Session lifetimes and the auth limit in force (the control plane may change them).
        self.limits = limits or Limits(settings)
        auth_limit: int | Callable[[], int] = settings.auth_attempts_per_minute
        if limits is not None and limits.overrides is not None:
            auth_limit = lambda: self.limits.current().auth_attempts_per_minute  # noqa: E731
        self.auth_limit = AuthBurstLimit(store, auth_limit, clock, delay=auth_delay, sleep=sleep)
        # Refresh a session's last-seen time at most this often (saves a write per request).
        self._touch_every = timedelta(seconds=min(5.0, settings.session_idle_timeout / 10))
        #: Sessions checked a moment ago; each still needs the current session epoch to count.
        self.sessions = SessionCache(self._touch_every)

    # -- users -----------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, timezone: str = "UTC", is_admin: bool = False) -> User:
        return self.store.users.create_user(
            username=check_username(username),
            password_hash=hash_password(check_password(password)),
            timezone=check_timezone(timezone),
            is_admin=is_admin,
            now=self.clock.now(),
        )

    def set_password(self, user: User, password: str) -> None:
        self.store.users.set_password(user.id, hash_password(check_password(password)), self.clock.now())

    # -- login and sessions ----------------------------------------------------------------

    def login(self, username: str | None, password: str | None) -> Login:
        if not username:
            raise errors.ParameterRequired.named("username")
        if not password:
            raise errors.NoPasswordProvided()
        try:
            check_username(username)
        except ValueError:
            # No user can have this name; the store need not be asked (nor burdened with it).
            verify_password(_DUMMY_HASH, password)
            raise errors.UsernameOrPasswordIncorrect("Authentication failed for that user.") from None
        self.auth_limit.admit(username)
        now = self.clock.now()
        user = self.store.users.get_user_by_name(username)
        if user is None:
            verify_password(_DUMMY_HASH, password)
            raise errors.UsernameOrPasswordIncorrect(f"Authentication failed for user: {username}.")
        if user.locked_until is not None and user.locked_until > now:
            raise errors.UserLockedOut()
        if len(password) > MAX_PASSWORD_LENGTH or not verify_password(
            self.store.users.get_password_hash(user.id), password
        ):
            self.store.users.record_login_failure(
                user.id, now, self.settings.lockout_attempts, self.settings.lockout_seconds
            )
            raise errors.UsernameOrPasswordIncorrect(f"Authentication failed for user: {username}.")
        if not user.active:
            raise errors.InactiveUser()
        self.store.users.record_login_success(user.id)
        token = new_session_token()
        self.store.users.create_session(token_hash(token), user.id, now)
        return Login(token=token, user=user)

    def session_user(self, authorization: str | None) -> tuple[User, bytes]:
        """The user behind an ``Authorization`` header value (``{sessionId}`` or ``Bearer {sessionId}``).

        A session this node checked a moment ago costs one read of the session epoch; any other
        gets the full lookup (:meth:`check_session`).
        """
        hashed = self.session_hash(authorization)
        cached = self.sessions.get(hashed, self.clock.now())
        if cached is not None and self.confirm(cached, self.store.users.session_epoch()):
            return cached.user, hashed
        return self.check_session(hashed), hashed

    def cached_session(self, authorization: str | None, now: datetime | None = None
                       ) -> tuple[CachedSession, bytes] | None:
        """A session checked a moment ago (``now``: the clock's time), valid if the session epoch is
        still ``cached.epoch`` (:meth:`confirm`): for a request that reads the epoch along with its own data."""
        try:
            hashed = self.session_hash(authorization)
        except errors.InvalidSessionId:
            return None
        cached = self.sessions.get(hashed, now or self.clock.now())
        return None if cached is None else (cached, hashed)

    def confirm(self, cached: CachedSession, epoch: int, now: datetime | None = None) -> bool:
        """Whether a cached session still counts at ``now`` (the clock's time), given the epoch read
        after it was taken from the cache; past its maximum age it never does (the full lookup ends it)."""
        return cached.epoch == epoch and self.within_max_age(cached, now)

    def within_max_age(self, cached: CachedSession, now: datetime | None = None) -> bool:
        """Whether a cached session is younger than the maximum age at ``now`` (the clock's time): the
        half of :meth:`confirm` that needs no read, for a caller that confirms the epoch in its own
        transaction."""
        age = (now or self.clock.now()) - cached.session.created_at
        return age <= timedelta(seconds=self.limits.current().session_max_age)

    @staticmethod
    def session_hash(authorization: str | None) -> bytes:
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise errors.InvalidSessionId()
        return token_hash(token)

    def check_session(self, hashed: bytes) -> User:
        """The full lookup: the session and its user from the store, ended when idle or too old,
        its last-seen time refreshed now and then; remembered in the cache when valid."""
        found = self.store.users.get_session_at_epoch(hashed)
        if found is None:
            self.sessions.discard(hashed)
            raise errors.InvalidSessionId()
        session, user, epoch = found
        now = self.clock.now()
        limits = self.limits.current()
        if (
            not user.active
            or now - session.last_seen > timedelta(seconds=limits.session_idle_timeout)
            or now - session.created_at > timedelta(seconds=limits.session_max_age)
        ):
            self.sessions.discard(hashed)
            self.store.users.delete_session(hashed)
            raise errors.InvalidSessionId()
        if now - session.last_seen >= self._touch_every:
            self.store.users.touch_session(hashed, now)
            session = replace(session, last_seen=now)
        self.sessions.put(CachedSession(session=session, user=user, epoch=epoch))
        return user

    def logout(self, hashed: bytes) -> None:
        self.sessions.discard(hashed)
        self.store.users.delete_session(hashed)


