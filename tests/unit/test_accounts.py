from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vaultjobs import errors
from vaultjobs.accounts import Accounts, AuthBurstLimit, token_hash
from vaultjobs.node import bootstrap_admin
from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore
from vaultjobs.testing import ManualClock, execute
from vaultjobs.timeutil import fixed_window


@pytest.fixture
def accounts(store: SqliteStore, clock: ManualClock, settings: Settings) -> Accounts:
    s = settings.evolve(
        session_idle_timeout=60, session_max_age=600, auth_attempts_per_minute=5, lockout_attempts=3,
        lockout_seconds=120,
    )
    a = Accounts(store, s, clock, auth_delay=1.0, sleep=clock.advance)  # a delayed login takes the clock's time
    a.add_user("alice", "correct horse", timezone="Europe/Paris")
    return a


def test_login_gives_a_session_that_identifies_the_user(accounts: Accounts) -> None:
    login = accounts.login("alice", "correct horse")
    assert len(login.token) == 64
    user, hashed = accounts.session_user(login.token)
    assert user.username == "alice" and hashed == token_hash(login.token)
    assert accounts.session_user(f"Bearer {login.token}")[0].id == user.id


def test_session_tokens_are_stored_hashed(accounts: Accounts, store: SqliteStore) -> None:
    login = accounts.login("alice", "correct horse")
    stored = [row[0] for row in execute(store, "SELECT token_hash FROM sessions")]
    assert login.token.encode() not in stored
    assert token_hash(login.token) in stored


def test_passwords_are_stored_as_argon2(store: SqliteStore, accounts: Accounts) -> None:
    (stored,) = execute(store, "SELECT password_hash FROM users WHERE username = 'alice'")[0]
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("alice", "wrong password", errors.UsernameOrPasswordIncorrect),
        ("nobody", "whatever1", errors.UsernameOrPasswordIncorrect),
        ("alice", "", errors.NoPasswordProvided),
        ("", "correct horse", errors.ParameterRequired),
    ],
)
def test_bad_logins(accounts: Accounts, username: str, password: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        accounts.login(username, password)


def test_session_expires_after_inactivity(accounts: Accounts, clock: ManualClock) -> None:
    token = accounts.login("alice", "correct horse").token
    clock.advance(50)
    accounts.session_user(token)  # activity keeps it alive
    clock.advance(50)
    accounts.session_user(token)
    clock.advance(61)
    with pytest.raises(errors.InvalidSessionId):
        accounts.session_user(token)


def test_session_ends_at_its_maximum_age(accounts: Accounts, clock: ManualClock) -> None:
    token = accounts.login("alice", "correct horse").token
    for _ in range(12):  # active every 50 s for the whole 600 s maximum age
        clock.advance(50)
        accounts.session_user(token)
    clock.advance(1)
    with pytest.raises(errors.InvalidSessionId):
        accounts.session_user(token)


def test_password_change_and_deactivation_end_sessions(accounts: Accounts, store: SqliteStore) -> None:
    token = accounts.login("alice", "correct horse").token
    user = accounts.session_user(token)[0]
    accounts.set_password(user, "battery staple")
    with pytest.raises(errors.InvalidSessionId):
        accounts.session_user(token)
    token = accounts.login("alice", "battery staple").token
    store.users.set_active(user.id, False)
    with pytest.raises(errors.InvalidSessionId):
        accounts.session_user(token)
    with pytest.raises(errors.InactiveUser):
        accounts.login("alice", "battery staple")


def test_lockout_after_repeated_failures(accounts: Accounts, clock: ManualClock) -> None:
    for _ in range(3):
        with pytest.raises(errors.UsernameOrPasswordIncorrect):
            accounts.login("alice", "wrong password")
    with pytest.raises(errors.UserLockedOut):
        accounts.login("alice", "correct horse")
    clock.advance(121)
    assert accounts.login("alice", "correct horse").user.username == "alice"


def test_auth_attempts_are_limited_per_username_per_minute(accounts: Accounts, clock: ManualClock) -> None:
    for _ in range(5):
        accounts.login("alice", "correct horse")
    with pytest.raises(errors.ApiLimitExceeded) as refused:
        accounts.login("alice", "correct horse")
    assert refused.value.retry_after == 57  # three of the five were held back a second each
    with pytest.raises(errors.UsernameOrPasswordIncorrect):  # other names have their own count
        accounts.login("bob", "whatever1")
    clock.advance(57)
    accounts.login("alice", "correct horse")


def test_auth_calls_are_delayed_from_half_the_limit_and_refusals_are_not(
    accounts: Accounts, clock: ManualClock
) -> None:
    taken = []
    for _ in range(5):  # the limit is 5: the third call reaches half of it
        before = clock.monotonic()
        accounts.login("alice", "correct horse")
        taken.append(clock.monotonic() - before)
    assert taken == [0, 0, 1, 1, 1]
    before = clock.monotonic()
    with pytest.raises(errors.ApiLimitExceeded):
        accounts.login("alice", "correct horse")
    assert clock.monotonic() == before
    # unknown users are counted too, whatever the case of their name
    with pytest.raises(errors.UsernameOrPasswordIncorrect):
        accounts.login("Nobody", "whatever1")
    assert accounts.auth_limit.admit("nobody") == 0
    assert accounts.auth_limit.admit("NOBODY") == 1


@pytest.mark.parametrize("phase", [0.0, 29.5, 59.0, 59.999])
def test_auth_windows_are_fixed_minutes_wherever_the_calls_start(
    store: SqliteStore, settings: Settings, phase: float
) -> None:
    """Vault's rule: calls on either side of a minute boundary count in two windows."""
    clock = ManualClock(datetime(2026, 3, 1, 9, 41, tzinfo=UTC) + timedelta(seconds=phase))
    limit = AuthBurstLimit(store, 3, clock, delay=0)
    for _ in range(3):
        limit.admit("alice")
    with pytest.raises(errors.ApiLimitExceeded) as refused:
        limit.admit("alice")
    assert refused.value.retry_after == max(1, math.ceil(60 - phase))
    clock.advance(60 - phase - 0.001)  # the last millisecond of the window: still refused
    with pytest.raises(errors.ApiLimitExceeded) as refused:
        limit.admit("alice")
    assert refused.value.retry_after == 1
    clock.advance(0.001)  # the next window begins: a full limit again
    for _ in range(3):
        limit.admit("alice")
    with pytest.raises(errors.ApiLimitExceeded) as refused:
        limit.admit("alice")
    assert refused.value.retry_after == 60


def test_fixed_windows_count_from_the_epoch() -> None:
    now = datetime(2026, 3, 1, 9, 41, 59, 999_000, tzinfo=UTC)
    assert fixed_window(now, 60) == (datetime(2026, 3, 1, 9, 41, tzinfo=UTC), datetime(2026, 3, 1, 9, 42, tzinfo=UTC))
    assert fixed_window(now + timedelta(milliseconds=1), 60)[0] == datetime(2026, 3, 1, 9, 42, tzinfo=UTC)
    paris = now.astimezone(ZoneInfo("Europe/Paris"))
    assert fixed_window(paris, 60) == fixed_window(now, 60)
    with pytest.raises(ValueError):
        fixed_window(now, 0)


@pytest.mark.parametrize("header", [None, "", "Bearer ", "not-a-session", "Bearer 00"])
def test_missing_or_unknown_sessions(accounts: Accounts, header: str | None) -> None:
    with pytest.raises(errors.InvalidSessionId):
        accounts.session_user(header)


def test_bad_user_details_are_refused(accounts: Accounts) -> None:
    with pytest.raises(ValueError):
        accounts.add_user("bob", "short")
    with pytest.raises(ValueError):
        accounts.add_user("bob", "long enough", timezone="Mars/Olympus")
    with pytest.raises(ValueError):
        accounts.add_user("bad name", "long enough")


def test_bootstrap_takes_the_admin_another_node_created_meanwhile(
    store: SqliteStore, clock: ManualClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = bootstrap_admin(Accounts(store, settings, clock), settings)
    assert first is not None
    saved = (settings.data_dir / "admin-password").read_text()
    # A second node counted the users before the first committed admin, so it tries to create it too.
    monkeypatch.setattr(store.users, "count_users", lambda: 0)
    assert bootstrap_admin(Accounts(store, settings, clock), settings) is None
    assert (settings.data_dir / "admin-password").read_text() == saved
    assert Accounts(store, settings, clock).login("admin", first).user.is_admin
