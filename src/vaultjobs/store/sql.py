"""The store's SQL, shared by SQLite and PostgreSQL.

Every job state change is a conditional ``UPDATE … WHERE status = ?`` checked against the allowed
transitions, and every method is one unit of work. Subclasses supply connections
(``_conn``, ``_tx``, ``_write``), their integrity-error classes and the row-locking clause
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers anyway). Placeholders are
``?``; the PostgreSQL store translates them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol

import orjson

from vaultjobs.models import Definition, Job, LogLine, Page, Session, Task, User
from vaultjobs.status import JobStatus, TaskState, can_transition
from vaultjobs.store.base import NewJob, Recovery, StoreError, UserExists
from vaultjobs.timeutil import from_ms, maybe_from_ms, to_ms

_JOB_COLUMNS = (
    "id, processor, title, parameters, status, method, scheduled, created_by, created_at, modified_by, "
    "modified_at, scheduled_for, run_start, run_end, phase, worker_id, progress_at, idempotent, result, "
    "definition, cancellable"
)
_DEFINITION_COLUMNS = (
    "name, processor, title, parameters, owner_id, cron, timezone, interval_ms, timeout_ms, "
    "inactivity_timeout_ms, single_instance, enabled"
)
_USER_COLUMNS = (
    "id, username, timezone, is_admin, active, created_at, password_changed_at, failed_logins, locked_until"
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _job_from_row(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        processor=row[1],
        title=row[2],
        parameters=orjson.loads(row[3]),
        status=JobStatus(row[4]),
        method=row[5],
        scheduled=bool(row[6]),
        created_by=row[7],
        created_at=from_ms(row[8]),
        modified_by=row[9],
        modified_at=from_ms(row[10]),
        scheduled_for=maybe_from_ms(row[11]),
        run_start=maybe_from_ms(row[12]),
        run_end=maybe_from_ms(row[13]),
        phase=row[14],
        worker_id=row[15],
        progress_at=maybe_from_ms(row[16]),
        idempotent=bool(row[17]),
        result=None if row[18] is None else orjson.loads(row[18]),
        definition=row[19],
        cancellable=bool(row[20]),
    )


def _ms_or_none(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def _seconds_or_none(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _definition_from_row(row: tuple[Any, ...]) -> Definition:
    return Definition(
        name=row[0],
        processor=row[1],
        title=row[2],
        parameters=orjson.loads(row[3]),
        owner_id=row[4],
        cron=row[5],
        timezone=row[6],
        interval=_seconds_or_none(row[7]),
        timeout=_seconds_or_none(row[8]),
        inactivity_timeout=_seconds_or_none(row[9]),
        single_instance=bool(row[10]),
        enabled=bool(row[11]),
    )


def _user_from_row(row: tuple[Any, ...]) -> User:
    return User(
        id=row[0],
        username=row[1],
        timezone=row[2],
        is_admin=bool(row[3]),
        active=bool(row[4]),
        created_at=from_ms(row[5]),
        password_changed_at=from_ms(row[6]),
        failed_logins=row[7],
        locked_until=maybe_from_ms(row[8]),
    )


def _check_transition(current: JobStatus, new: JobStatus) -> None:
    if not can_transition(current, new):
        raise StoreError(f"a job cannot move from {current.value} to {new.value}")


class Cursor(Protocol):
    """What the SQL code uses of a cursor (a DB-API cursor, or a buffered result)."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...


class SqlStore:
    """The SQL of every store operation; see the module docstring for what subclasses provide."""

    #: Exceptions the driver raises for constraint violations.
    integrity_errors: ClassVar[tuple[type[Exception], ...]] = ()
    #: Appended to the sub-selects that pick a row to claim.
    skip_locked: ClassVar[str] = ""
    #: Appended to a select that locks rows until the transaction ends (SQLite's writers hold the
    #: whole database anyway).
    row_lock: ClassVar[str] = ""
    #: After ``FROM jobs`` in the claim queries: SQLite's planner, once ANALYZE has seen a store of
    #: finished jobs, would otherwise scan the whole table inside the write transaction.
    jobs_by_status: ClassVar[str] = ""

    def _conn(self) -> Connection:
        raise NotImplementedError

    @contextlib.contextmanager
    def _tx(self, durable: bool = False) -> Iterator[Any]:
        raise NotImplementedError
        yield

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        raise NotImplementedError

    def notify_work(self) -> None:
        """Tell other nodes that work was enqueued (PostgreSQL: NOTIFY; SQLite: nothing to do)."""

    def listen(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when another node enqueues work (SQLite: other processes are polled)."""

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False while another holder's is alive.

        One conditional upsert: of any number of nodes asking at once, exactly one holds the lease,
        and another takes over once the holder stops renewing it.
        """
        ms = to_ms(now)
        cur = self._write(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
            "SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
            (name, holder, ms + int(ttl * 1000), ms),
        )
        return cur.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        self._write("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # -- users -----------------------------------------------------------------------------

    def create_user(
        self, *, username: str, password_hash: str, timezone: str, is_admin: bool, now: datetime
    ) -> User:
        try:
            with self._tx() as conn:
                row = conn.execute(
                    "INSERT INTO users (username, password_hash, timezone, is_admin, active, "
                    "password_changed_at, created_at) VALUES (?, ?, ?, ?, 1, ?, ?) "
                    f"RETURNING {_USER_COLUMNS}",
                    (username, password_hash, timezone, int(is_admin), to_ms(now), to_ms(now)),
                ).fetchone()
        except self.integrity_errors as exc:
            raise UserExists(f"user [{username}] exists already") from exc
        return _user_from_row(row)

    def get_user(self, user_id: int) -> User | None:
        row = self._conn().execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else _user_from_row(row)

    def get_user_by_name(self, username: str) -> User | None:
        row = self._conn().execute(
            f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower(?)", (username,)
        ).fetchone()
        return None if row is None else _user_from_row(row)

    def get_password_hash(self, user_id: int) -> str:
        row = self._conn().execute("SELECT password_hash FROM users WHERE id = ?", (user_id,)).fetchone()
        if row is None:
            raise StoreError(f"no user with id {user_id}")
        return str(row[0])

    def list_users(self) -> list[User]:
        rows = self._conn().execute(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id").fetchall()
        return [_user_from_row(r) for r in rows]

    def count_users(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM users").fetchone()[0])

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Change the password, unlock the user and end every session they had."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_logins = 0, "
                "locked_until = NULL WHERE id = ?",
                (password_hash, to_ms(now), user_id),
            )
            conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def set_active(self, user_id: int, active: bool) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE users SET active = ? WHERE id = ?", (int(active), user_id))
            if not active:
                conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def record_login_failure(
        self, user_id: int, now: datetime, lock_after: int, lock_seconds: float
    ) -> User:
        with self._tx() as conn:
            row = conn.execute(
                "UPDATE users SET failed_logins = failed_logins + 1, "
                "locked_until = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE locked_until END "
                f"WHERE id = ? RETURNING {_USER_COLUMNS}",
                (lock_after, to_ms(now) + int(lock_seconds * 1000), user_id),
            ).fetchone()
        return _user_from_row(row)

    def record_login_success(self, user_id: int) -> None:
        self._write(
            "UPDATE users SET failed_logins = 0, locked_until = NULL "
            "WHERE id = ? AND (failed_logins != 0 OR locked_until IS NOT NULL)",
            (user_id,),
        )

    def count_auth_attempt(self, username: str, window_start: datetime) -> int:
        with self._tx() as conn:
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
        self._write(
            "INSERT INTO sessions (token_hash, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
            (token_hash, user_id, to_ms(now), to_ms(now)),
        )

    def get_session(self, token_hash: bytes) -> tuple[Session, User] | None:
        row = self._conn().execute(
            "SELECT s.created_at, s.last_seen, u.id, u.username, u.timezone, u.is_admin, u.active, "
            "u.created_at, u.password_changed_at, u.failed_logins, u.locked_until "
            "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
            (token_hash,),
        ).fetchone()
        if row is None:
            return None
        user = _user_from_row(row[2:])
        session = Session(
            token_hash=token_hash, user_id=user.id, created_at=from_ms(row[0]), last_seen=from_ms(row[1])
        )
        return session, user

    def touch_session(self, token_hash: bytes, now: datetime) -> None:
        self._write(
            "UPDATE sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?",
            (to_ms(now), token_hash, to_ms(now)),
        )

    def delete_session(self, token_hash: bytes) -> None:
        self._write("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))

    def purge_sessions(self, idle_before: datetime, created_before: datetime) -> int:
        cur = self._write(
            "DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
            (to_ms(idle_before), to_ms(created_before)),
        )
        return cur.rowcount

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, new: NewJob, now: datetime) -> Job:
        """Insert a job; the commit is on disk before this returns (its id may be acknowledged).

        ``StoreError`` when the job would be a second SCHEDULED instance of its definition.
        """
        try:
            return self._insert_job(new, now)
        except self.integrity_errors as exc:
            raise StoreError(f"definition [{new.definition}] has a scheduled instance already") from exc

    def _insert_job(self, new: NewJob, now: datetime) -> Job:
        with self._tx(durable=True) as conn:
            row = conn.execute(
                "INSERT INTO jobs (processor, title, parameters, status, method, scheduled, created_by, "
                "created_at, modified_by, modified_at, scheduled_for, idempotent, timeout_ms, "
                "inactivity_timeout_ms, definition, cancellable) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                f"RETURNING {_JOB_COLUMNS}",
                (
                    new.processor,
                    new.title,
                    _dumps(new.parameters),
                    new.status.value,
                    new.method,
                    int(new.scheduled),
                    new.created_by,
                    to_ms(now),
                    new.created_by,
                    to_ms(now),
                    None if new.scheduled_for is None else to_ms(new.scheduled_for),
                    int(new.idempotent),
                    _ms_or_none(new.timeout),
                    _ms_or_none(new.inactivity_timeout),
                    new.definition,
                    int(new.cancellable),
                ),
            ).fetchone()
        return _job_from_row(row)

    def get_job(self, job_id: int) -> Job | None:
        row = self._conn().execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job_from_row(row)

    def transition_job(
        self,
        job_id: int,
        expected: JobStatus,
        new: JobStatus,
        now: datetime,
        *,
        log: str | None = None,
        by: int | None = None,
    ) -> bool:
        """Move a job from ``expected`` to ``new``; False when it was not in ``expected`` any more."""
        with self._tx() as conn:
            return self._transition(conn, job_id, expected, new, to_ms(now), log=log, by=by)

    @staticmethod
    def _transition(
        conn: Any,
        job_id: int,
        expected: JobStatus,
        new: JobStatus,
        ms: int,
        *,
        log: str | None = None,
        by: int | None = None,
    ) -> bool:
        """The one conditional update every job state change goes through (inside a transaction).

        Leaving RUNNING for anything but CANCELLING also releases the job; queued tasks of a job that
        will not run them any more are cancelled in the same transaction.
        """
        _check_transition(expected, new)
        release = new.is_terminal
        cur = conn.execute(
            "UPDATE jobs SET status = ?, modified_at = ?, modified_by = COALESCE(?, modified_by), "
            "run_end = CASE WHEN ? THEN ? ELSE run_end END, "
            "phase = CASE WHEN ? THEN NULL ELSE phase END, "
            "worker_id = CASE WHEN ? THEN NULL ELSE worker_id END "
            "WHERE id = ? AND status = ?",
            (new.value, ms, by, release and expected in (JobStatus.RUNNING, JobStatus.CANCELLING), ms,
             release, release, job_id, expected.value),
        )
        if cur.rowcount != 1:
            return False
        if release or new is JobStatus.CANCELLING:
            conn.execute(
                "UPDATE tasks SET state = 'CANCELLED', finished_at = ? WHERE job_id = ? AND state = 'QUEUED'",
                (ms, job_id),
            )
        if log:
            conn.execute("INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, ms, log))
        return True

    def job_status(self, job_id: int) -> JobStatus | None:
        row = self._conn().execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JobStatus(row[0])

    def cancel_job(self, job_id: int, by: int, now: datetime) -> tuple[bool, JobStatus]:
        """Cancel a job: at once when it has not started, cooperatively (CANCELLING) when it runs.

        Returns whether the cancel was accepted and the job's status afterwards. A RUNNING job whose
        processor is not cancellable, and a finished job, are left as they are.
        """
        ms = to_ms(now)
        with self._tx() as conn:
            row = conn.execute("SELECT status, cancellable FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"no job with id {job_id}")
            status = JobStatus(row[0])
            if status is JobStatus.CANCELLING:
                return True, status
            if status in (JobStatus.SCHEDULED, JobStatus.QUEUEING, JobStatus.QUEUED):
                self._transition(conn, job_id, status, JobStatus.CANCELLED, ms, by=by,
                                 log=f"cancelled by user {by} while {status.value}")
                return True, JobStatus.CANCELLED
            if status is not JobStatus.RUNNING or not row[1]:
                return False, status
            self._transition(conn, job_id, status, JobStatus.CANCELLING, ms, by=by,
                             log=f"cancel requested by user {by}; running tasks are asked to stop")
            if self._settle_cancelling(conn, job_id, ms):
                return True, JobStatus.CANCELLED
            return True, JobStatus.CANCELLING

    def _settle_cancelling(self, conn: Any, job_id: int, ms: int) -> bool:
        """End a CANCELLING job as CANCELLED when no worker holds it or any of its tasks."""
        busy = conn.execute(
            "SELECT 1 FROM jobs WHERE id = ? AND (worker_id IS NOT NULL OR EXISTS "
            "(SELECT 1 FROM tasks WHERE state = 'RUNNING' AND job_id = ?))",
            (job_id, job_id),
        ).fetchone()
        if busy is not None:
            return False
        return self._transition(conn, job_id, JobStatus.CANCELLING, JobStatus.CANCELLED, ms,
                                log="job ended CANCELLED")

    def settle_cancelling(self, now: datetime) -> list[int]:
        """Every CANCELLING job nobody works on any more becomes CANCELLED; returns their ids."""
        ids = [r[0] for r in self._conn().execute("SELECT id FROM jobs WHERE status = 'CANCELLING'")]
        settled = []
        for job_id in ids:
            with self._tx() as conn:
                if self._settle_cancelling(conn, job_id, to_ms(now)):
                    settled.append(job_id)
        return settled

    def overdue_jobs(self, now: datetime) -> list[tuple[Job, JobStatus]]:
        """RUNNING jobs past their timeout (→ TIMEOUT) or idle past their inactivity timeout while a
        worker holds them or one of their tasks (→ COMPLETED_DUE_TO_INACTIVITY)."""
        ms = to_ms(now)
        conn = self._conn()
        timed_out = conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'RUNNING' AND timeout_ms IS NOT NULL "
            "AND run_start + timeout_ms < ?",
            (ms,),
        ).fetchall()
        inactive = conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs j WHERE status = 'RUNNING' AND inactivity_timeout_ms IS NOT NULL "
            "AND progress_at + inactivity_timeout_ms < ? AND (worker_id IS NOT NULL OR EXISTS "
            "(SELECT 1 FROM tasks t WHERE t.state = 'RUNNING' AND t.job_id = j.id))",
            (ms,),
        ).fetchall()
        found: dict[int, tuple[Job, JobStatus]] = {}
        for row in inactive:
            job = _job_from_row(row)
            found[job.id] = (job, JobStatus.COMPLETED_DUE_TO_INACTIVITY)
        for row in timed_out:
            job = _job_from_row(row)
            found[job.id] = (job, JobStatus.TIMEOUT)
        return list(found.values())

    def queueing_jobs(self) -> list[Job]:
        rows = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'QUEUEING' ORDER BY id"
        ).fetchall()
        return [_job_from_row(r) for r in rows]

    def touch_job_progress(self, job_id: int, now: datetime) -> None:
        self._write("UPDATE jobs SET progress_at = ? WHERE id = ?", (to_ms(now), job_id))

    def list_tasks(self, job_id: int, limit: int, offset: int) -> Page:
        conn = self._conn()
        total = conn.execute("SELECT count(*) FROM tasks WHERE job_id = ?", (job_id,)).fetchone()[0]
        rows = conn.execute(
            "SELECT seq, state, attempts, message FROM tasks WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (job_id, offset, limit),
        ).fetchall()
        items = [
            Task(job_id=job_id, seq=seq, state=TaskState(state), attempts=attempts, message=message)
            for seq, state, attempts, message in rows
        ]
        return Page(items=items, total=total, limit=limit, offset=offset)

    def failed_tasks(self, job_id: int) -> list[Task]:
        rows = self._conn().execute(
            "SELECT seq, state, attempts, message FROM tasks WHERE job_id = ? AND state = 'ERRORS_ENCOUNTERED' "
            "ORDER BY seq",
            (job_id,),
        ).fetchall()
        return [
            Task(job_id=job_id, seq=seq, state=TaskState(state), attempts=attempts, message=message)
            for seq, state, attempts, message in rows
        ]

    def append_log(self, job_id: int, message: str, now: datetime) -> None:
        self._write(
            "INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, to_ms(now), message)
        )

    def read_log(self, job_id: int) -> list[LogLine]:
        rows = self._conn().execute(
            "SELECT at, message FROM job_log WHERE job_id = ? ORDER BY id", (job_id,)
        ).fetchall()
        return [LogLine(at=from_ms(at), message=message) for at, message in rows]

    def open_status_window(self, job_id: int, now: datetime, window: float) -> float | None:
        """Open the job's status window; None on success, else seconds until it opens again.

        One conditional upsert, so concurrent callers on any number of connections (or replicas)
        get exactly one success per window, and a refused call never moves the window.
        """
        ms = to_ms(now)
        window_ms = int(window * 1000)
        conn = self._conn()
        cur = self._write(
            "INSERT INTO status_polls (job_id, polled_at) VALUES (?, ?) ON CONFLICT (job_id) "
            "DO UPDATE SET polled_at = excluded.polled_at WHERE status_polls.polled_at <= ?",
            (job_id, ms, ms - window_ms),
        )
        if cur.rowcount == 1:
            return None
        row = conn.execute("SELECT polled_at FROM status_polls WHERE job_id = ?", (job_id,)).fetchone()
        polled_at = ms if row is None else int(row[0])
        return max(0.0, (polled_at + window_ms - ms) / 1000.0)

    # -- scheduler -------------------------------------------------------------------------

    def due_scheduled_jobs(self, now: datetime, limit: int = 100) -> list[Job]:
        rows = self._conn().execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = 'SCHEDULED' AND scheduled_for <= ? "
            "ORDER BY scheduled_for LIMIT ?",
            (to_ms(now), limit),
        ).fetchall()
        return [_job_from_row(r) for r in rows]

    def next_scheduled_time(self) -> datetime | None:
        row = self._conn().execute(
            "SELECT min(scheduled_for) FROM jobs WHERE status = 'SCHEDULED'"
        ).fetchone()
        return maybe_from_ms(row[0])

    # -- job definitions -------------------------------------------------------------------

    def upsert_definition(self, definition: Definition, now: datetime, *, keep_enabled: bool) -> None:
        """Create or update a definition; ``keep_enabled`` keeps an existing one's enabled flag."""
        d = definition
        self._write(
            f"INSERT INTO job_definitions ({_DEFINITION_COLUMNS}, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET processor = excluded.processor, title = excluded.title, "
            "parameters = excluded.parameters, owner_id = excluded.owner_id, cron = excluded.cron, "
            "timezone = excluded.timezone, interval_ms = excluded.interval_ms, timeout_ms = excluded.timeout_ms, "
            "inactivity_timeout_ms = excluded.inactivity_timeout_ms, single_instance = excluded.single_instance, "
            "enabled = CASE WHEN ? THEN job_definitions.enabled ELSE excluded.enabled END, "
            "updated_at = excluded.updated_at",
            (d.name, d.processor, d.title, _dumps(d.parameters), d.owner_id, d.cron, d.timezone,
             _ms_or_none(d.interval), _ms_or_none(d.timeout), _ms_or_none(d.inactivity_timeout),
             int(d.single_instance), int(d.enabled), to_ms(now), bool(keep_enabled)),
        )

    def list_definitions(self) -> list[Definition]:
        rows = self._conn().execute(f"SELECT {_DEFINITION_COLUMNS} FROM job_definitions ORDER BY name").fetchall()
        return [_definition_from_row(r) for r in rows]

    def set_definition_enabled(self, name: str, enabled: bool, now: datetime) -> bool:
        """Enable or disable a definition; disabling cancels its SCHEDULED instance."""
        with self._tx() as conn:
            cur = conn.execute("UPDATE job_definitions SET enabled = ? WHERE name = ?", (int(enabled), name))
            if cur.rowcount != 1:
                return False
            if not enabled:
                ms = to_ms(now)
                for (job_id,) in conn.execute(
                    "SELECT id FROM jobs WHERE definition = ? AND status = 'SCHEDULED'", (name,)
                ).fetchall():
                    self._transition(conn, job_id, JobStatus.SCHEDULED, JobStatus.CANCELLED, ms,
                                     log=f"definition [{name}] was disabled")
        return True

    def definition_has_instance(self, name: str, statuses: frozenset[JobStatus]) -> bool:
        marks = ",".join("?" * len(statuses))
        row = self._conn().execute(
            f"SELECT 1 FROM jobs WHERE definition = ? AND status IN ({marks}) LIMIT 1",
            (name, *(s.value for s in statuses)),
        ).fetchone()
        return row is not None

    def next_instance_time(self, name: str) -> datetime | None:
        row = self._conn().execute(
            "SELECT scheduled_for FROM jobs WHERE definition = ? AND status = 'SCHEDULED'", (name,)
        ).fetchone()
        return None if row is None else maybe_from_ms(row[0])

    def last_instance_time(self, name: str) -> datetime | None:
        row = self._conn().execute(
            "SELECT max(scheduled_for) FROM jobs WHERE definition = ?", (name,)
        ).fetchone()
        return maybe_from_ms(row[0])

    # -- workers ---------------------------------------------------------------------------

    def register_worker(self, worker_id: str, hostname: str, pid: int, now: datetime) -> None:
        self._write(
            "INSERT INTO workers (id, hostname, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
            (worker_id, hostname, pid, to_ms(now), to_ms(now)),
        )

    def heartbeat_worker(self, worker_id: str, now: datetime) -> None:
        self._write(
            "UPDATE workers SET heartbeat_at = ? WHERE id = ? AND stopped_at IS NULL", (to_ms(now), worker_id)
        )

    def stop_worker(self, worker_id: str, now: datetime) -> None:
        self._write("UPDATE workers SET stopped_at = ? WHERE id = ?", (to_ms(now), worker_id))

    def dead_workers(self, now: datetime, timeout: float) -> list[str]:
        rows = self._conn().execute(
            "SELECT id FROM workers WHERE stopped_at IS NOT NULL OR heartbeat_at < ?",
            (to_ms(now) - int(timeout * 1000),),
        ).fetchall()
        return [r[0] for r in rows]

    @staticmethod
    def _job_status_in(conn: Any, job_id: int) -> JobStatus | None:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JobStatus(row[0])

    def recover_worker(self, worker_id: str, now: datetime) -> Recovery:
        """Resolve everything a dead worker held, then forget the worker.

        Idempotent jobs carry on: their running tasks go back on the queue and a job it was
        initialising or completing waits for another worker. Every other job it touched ends
        COMPLETED_DUE_TO_INACTIVITY with a log line saying why.
        """
        ms = to_ms(now)
        report = Recovery(worker_id=worker_id)
        with self._tx() as conn:
            held_jobs = {
                row[0]: bool(row[1])
                for row in conn.execute(
                    "SELECT id, idempotent FROM jobs WHERE worker_id = ? AND status IN ('RUNNING','CANCELLING')",
                    (worker_id,),
                )
            }
            task_jobs = {
                row[0]: bool(row[1])
                for row in conn.execute(
                    "SELECT DISTINCT t.job_id, j.idempotent FROM tasks t JOIN jobs j ON j.id = t.job_id "
                    "WHERE t.state = 'RUNNING' AND t.worker_id = ?",
                    (worker_id,),
                )
            }
            why = f"worker {worker_id} stopped or died while running this job"
            for job_id, idempotent in {**held_jobs, **task_jobs}.items():
                if self._job_status_in(conn, job_id) is JobStatus.CANCELLING:
                    conn.execute(
                        "UPDATE tasks SET state = 'CANCELLED', finished_at = ? "
                        "WHERE job_id = ? AND state = 'RUNNING' AND worker_id = ?",
                        (ms, job_id, worker_id),
                    )
                    conn.execute("UPDATE jobs SET worker_id = NULL WHERE id = ? AND worker_id = ?", (job_id, worker_id))
                    if self._settle_cancelling(conn, job_id, ms):
                        report.ended_jobs.append(job_id)
                    continue
                if idempotent:
                    cur = conn.execute(
                        "UPDATE tasks SET state = 'QUEUED', worker_id = NULL, started_at = NULL "
                        "WHERE job_id = ? AND state = 'RUNNING' AND worker_id = ?",
                        (job_id, worker_id),
                    )
                    report.requeued_tasks += cur.rowcount
                    conn.execute(
                        "UPDATE jobs SET worker_id = NULL WHERE id = ? AND worker_id = ?", (job_id, worker_id)
                    )
                    report.requeued_jobs.append(job_id)
                    conn.execute(
                        "INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)",
                        (job_id, ms, f"{why}; the processor is idempotent, so its unfinished work runs again"),
                    )
                else:
                    conn.execute(
                        "UPDATE tasks SET state = 'ERRORS_ENCOUNTERED', finished_at = ?, message = ? "
                        "WHERE job_id = ? AND state = 'RUNNING' AND worker_id = ?",
                        (ms, why, job_id, worker_id),
                    )
                    conn.execute(
                        "UPDATE tasks SET state = 'CANCELLED', finished_at = ? WHERE job_id = ? AND state = 'QUEUED'",
                        (ms, job_id),
                    )
                    if self._transition(
                        conn, job_id, JobStatus.RUNNING, JobStatus.COMPLETED_DUE_TO_INACTIVITY, ms,
                        log=f"{why}; the processor is not idempotent, so the job ends "
                        "COMPLETED_DUE_TO_INACTIVITY rather than run its work twice",
                    ):
                        report.ended_jobs.append(job_id)
            conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
        return report
