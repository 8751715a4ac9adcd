"""Users, their sessions, and the windows that count sign-in attempts per user name."""

from __future__ import annotations

from datetime import datetime

from vaultjobs.models import Session, User
from vaultjobs.store.dialect import Dialect
from vaultjobs.store.errors import StoreError, UserExists
from vaultjobs.store.rows import USER_COLUMNS, user_from_row
from vaultjobs.timeutil import from_ms, to_ms

#: The session epoch, as a sub-select other reads can carry along (one statement, one snapshot).
SESSION_EPOCH = "SELECT epoch FROM session_epoch WHERE id = 1"


class Users:
    """Users and sessions; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db

    def create_user(
        self, *, username: str, password_hash: str, timezone: str, is_admin: bool, now: datetime
    ) -> User:
        try:
            with self.db.write() as conn:
                row = conn.execute(
                    "INSERT INTO users (username, password_hash, timezone, is_admin, active, "
                    "password_changed_at, created_at) VALUES (?, ?, ?, ?, 1, ?, ?) "
                    f"RETURNING {USER_COLUMNS}",
                    (username, password_hash, timezone, int(is_admin), to_ms(now), to_ms(now)),
                ).fetchone()
        except self.db.integrity_errors as exc:
            raise UserExists(f"user [{username}] exists already") from exc
        return user_from_row(row)

    def get_user(self, user_id: int) -> User | None:
        row = self.db.connection().execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else user_from_row(row)

    def get_user_by_name(self, username: str) -> User | None:
        row = self.db.connection().execute(
            f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower(?)", (username,)
        ).fetchone()
        return None if row is None else user_from_row(row)

    def get_password_hash(self, user_id: int) -> str:
        row = self.db.connection().execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise StoreError(f"no user with id {user_id}")
        return str(row[0])

    def list_users(self) -> list[User]:
        rows = self.db.connection().execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id").fetchall()
        return [user_from_row(r) for r in rows]

    def count_users(self) -> int:
        return int(self.db.connection().execute("SELECT count(*) FROM users").fetchone()[0])

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Change the password, unlock the user and end every session they had."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, "
                "locked_until = NULL WHERE id = ?",
                (password_hash, to_ms(now), user_id),
            )
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def set_active(self, user_id: int, active: bool) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(active), user_id))
            if not active:
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def record_login_failure(
        self, user_id: int, now: datetime, lock_after: int, lock_seconds: float
    ) -> User:
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE users SET failed_logins = failed_logins + 1, "
                "locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END "
                f"WHERE id = ? RETURNING {USER_COLUMNS}",
                (lock_after, to_ms(now) + int(lock_seconds * 1000), user_id),
            ).fetchone()
        return user_from_row(row)

    def record_login_success(self, user_id: int) -> None:
        self.db.write_one(
            "UPDATE users SET failed_logins = 0, locked_until = NULL "
            "WHERE id = ? AND (failed_logins != 0 OR locked_until IS NOT NULL)",
            (user_id,),
        )

    def count_auth_attempt(self, username: str, window_start: datetime) -> int:
        with self.db.write() as conn:
            start = to_ms(window_start)
            conn.execute("DELETE FROM auth_attempts WHERE window_start < ?", (start,))
            row = conn.execute(
                "INSERT INTO auth_attempts (username, window_start, attempts) VALUES (?, ?, 1) "
                "ON CONFLICT (username, window_start) DO UPDATE SET attempts = auth_attempts.attempts + 1 "
                "RETURNING attempts",
                (username.lower(), start),
            ).fetchone()
        return int(row[0])

    # -- sessions --------------------------------------------------------------------------

    def create_session(self, token_hash: bytes, user_id: int, now: datetime) -> None:
        self.db.write_one(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
            (token_hash, user_id, to_ms(now), to_ms(now)),
        )

    def get_session(self, token_hash: bytes) -> tuple[Session, User] | None:
        found = self.get_session_at_epoch(token_hash)
        return None if found is None else found[:2]

    def get_session_at_epoch(self, token_hash: bytes) -> tuple[Session, User, int] | None:
        """The session, its user and the session epoch, read in one statement (one snapshot): a
        session ended after this read moves the epoch past the one returned."""
        row = self.db.connection().execute(
            "SELECT s.created_at, s.last_seen, u.id, u.username, u.timezone, u.is_admin, u.active, "
            "u.created_at, u.password_changed_at, u.failed_logins, u.locked_until, "
            f"({SESSION_EPOCH}) FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        user = user_from_row(row[2:11])
        session = Session(
            token_hash=token_hash, user_id=user.id, created_at=from_ms(row[0]), last_seen=from_ms(row[1])
        )
        return session, user, int(row[11])

    def session_epoch(self) -> int:
        """The counter the database moves whenever a session ends or a user changes (migration 0008)."""
        return int(self.db.connection().execute(SESSION_EPOCH).fetchone()[0])

    def touch_session(self, token_hash: bytes, now: datetime) -> None:
        self.db.write_one(
            "UPDATE sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?",
            (to_ms(now), token_hash, to_ms(now)),
        )

    def delete_session(self, token_hash: bytes) -> None:
        self.db.write_one("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def purge_sessions(self, idle_before: datetime, created_before: datetime) -> int:
        cur = self.db.write_one(
            "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
            (to_ms(idle_before), to_ms(created_before)),
        )
        return cur.rowcount

