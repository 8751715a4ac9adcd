"""Jobs, their tasks as the API shows them, their log lines and their status windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultjobs.models import Job, LogLine, Page, StatusFacts, Task, Transition
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store.batcher import Batcher
from vaultjobs.store.control_scripts import SCRIPTED_WORKER
from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.errors import StoreError
from vaultjobs.store.job_status import actor, set_status
from vaultjobs.store.leases import Fence, check_fence
from vaultjobs.store.rows import JOB_COLUMNS, dumps, job_from_row, ms_or_none, status_facts_from_row
from vaultjobs.store.users import SESSION_EPOCH
from vaultjobs.timeutil import from_ms, to_ms


@dataclass(frozen=True, kw_only=True)
class NewJob:
    processor: str
    parameters: dict[str, Any]
    created_by: int
    title: str | None = None
    method: str | None = "POST"
    status: JobStatus = JobStatus.QUEUED
    scheduled: bool = False
    scheduled_for: datetime | None = None
    idempotent: bool = False
    timeout: float | None = None
    inactivity_timeout: float | None = None
    definition: str | None = None
    cancellable: bool = True


@dataclass(frozen=True, slots=True)
class StatusRead:
    """Retrieve Job Status's read: the job's columns as read (:data:`JOB_COLUMNS`; None when there is
    no such job), its tasks per state, and the session epoch."""

    row: tuple[Any, ...] | None
    counts: dict[TaskState, int]
    session_epoch: int

    @property
    def facts(self) -> StatusFacts | None:
        """What the status shows of the job (cheap: nothing decoded)."""
        return None if self.row is None else status_facts_from_row(self.row)

    @property
    def job(self) -> Job | None:
        """The whole job, decoded anew on each access."""
        return None if self.row is None else job_from_row(self.row)

    def whole_job(self) -> Job:
        """:attr:`job`, for a read that found one."""
        job = self.job
        assert job is not None, "no job was read"
        return job


INSERT_JOB = (
    "INSERT INTO jobs (processor, title, parameters, status, method, scheduled, created_by, "
    "created_at, modified_by, modified_at, scheduled_for, idempotent, timeout_ms, "
    "inactivity_timeout_ms, definition, cancellable, moved_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "RETURNING id"
)


def insert_job(conn: Connection, new: NewJob, now: datetime) -> Job:
    """Insert ``new``; the job as the store now holds it (:func:`inserted_job`)."""
    values = job_values(new, now)
    return inserted_job(conn.execute(INSERT_JOB, values), values)


def inserted_job(cursor: Any, values: tuple[Any, ...]) -> Job:
    """The job that :data:`INSERT_JOB` of ``values`` made, its new id read from ``cursor``: made from
    the values inserted rather than read back (``RETURNING`` every column costs the insert a third more
    on SQLite, and a job's other columns are all empty when it is made). Reading the id only here lets
    a batch send all its inserts before it waits for the first answer (PostgreSQL's pipeline)."""
    (job_id,) = cursor.fetchone()
    # In the order of JOB_COLUMNS: what job_values gives, the run's columns (still empty) between.
    return job_from_row((job_id, *values[:11], None, None, None, None, None, values[11], None, values[14], values[15]))


def job_values(new: NewJob, now: datetime) -> tuple[Any, ...]:
    return (
        new.processor,
        new.title,
        dumps(new.parameters),
        new.status.value,
        new.method,
        int(new.scheduled),
        new.created_by,
        to_ms(now),
        new.created_by,
        to_ms(now),
        None if new.scheduled_for is None else to_ms(new.scheduled_for),
        int(new.idempotent),
        ms_or_none(new.timeout),
        ms_or_none(new.inactivity_timeout),
        new.definition,
        int(new.cancellable),
        actor(agent="scheduler" if new.definition else None, by=new.created_by),
    )


#: The task states Retrieve Job Status counts, in the order its read returns their counts.
COUNTED_STATES: tuple[TaskState, ...] = tuple(TaskState)
_JOB = ", ".join("j." + column for column in JOB_COLUMNS.split(", "))
_COUNTS = ", ".join(f"count(*) FILTER (WHERE t.state = '{state.value}') AS {state.value.lower()}"
                    for state in COUNTED_STATES)
#: Retrieve Job Status's read, one row: the session epoch, the job's columns (NULL when there is no
#: job) and its tasks' count in each of :data:`COUNTED_STATES`. Parameter: the job id. SQLite: an
#: aggregate query whose other columns come from its one job (SQLite's bare columns); neither a
#: grouped sub-select (a temporary B-tree per call) nor a scalar count per state (five index walks).
STATUS_READ_BARE = (
    f"SELECT e.epoch, {_JOB}, {_COUNTS} FROM session_epoch e LEFT JOIN jobs j ON j.id = ? "
    "LEFT JOIN tasks t ON t.job_id = j.id WHERE e.id = 1"
)
#: :data:`STATUS_READ_BARE` where a query must group what it shows (PostgreSQL): the counts are a
#: lateral aggregate of the job's tasks.
STATUS_READ_LATERAL = (
    f"SELECT e.epoch, {_JOB}, c.* FROM session_epoch e LEFT JOIN jobs j ON j.id = ? "
    f"LEFT JOIN LATERAL (SELECT {_COUNTS} FROM tasks t WHERE t.job_id = j.id) c ON true WHERE e.id = 1"
)


def status_read_sql(db: Dialect) -> str:
    """The status read this dialect runs."""
    return STATUS_READ_LATERAL if db.lateral else STATUS_READ_BARE


def status_read_of(row: Sequence[Any]) -> StatusRead:
    """The :class:`StatusRead` of the status read's row."""
    width = len(row) - len(COUNTED_STATES)
    job = None if row[1] is None else tuple(row[1:width])
    counts = {state: n for state, n in zip(COUNTED_STATES, row[width:], strict=True) if n}
    return StatusRead(row=job, counts=counts, session_epoch=int(row[0]))


def status_in(conn: Connection, job_id: int) -> JobStatus | None:
    row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else JobStatus(row[0])


def settle_if_idle(db: Dialect, conn: Connection, job_id: int, ms: int, *, agent: str) -> bool:
    """End a CANCELLING job as CANCELLED when no worker holds it or any of its tasks."""
    busy = conn.execute(
        "SELECT 1 FROM jobs WHERE id = ? AND (worker_id IS NOT NULL OR EXISTS "
        "(SELECT 1 FROM tasks WHERE state = 'RUNNING' AND job_id = ?))",
        (job_id, job_id),
    ).fetchone()
    if busy is not None:
        return False
    return set_status(db, conn, job_id, JobStatus.CANCELLING, JobStatus.CANCELLED, ms, log="job ended CANCELLED",
                      agent=agent)


def insert_logs(db: Dialect, conn: Connection, logs: Sequence[tuple[int, Sequence[tuple[datetime, str]]]]) -> None:
    """Log lines of several jobs, in one statement."""
    rows = [(job_id, to_ms(at), message) for job_id, lines in logs for at, message in lines]
    db.insert(conn, "job_log (job_id, at, message)", ("bigint", "bigint", "text"), rows)


@dataclass(frozen=True, slots=True)
class _Insert:
    """One job for the batch of inserts: when it was asked for; the session epoch its caller's session
    was checked at, when the batch's transaction must confirm it (None: checked already); whether that
    transaction also tells the other nodes (else its caller does)."""

    new: NewJob
    now: datetime
    session_epoch: int | None = None
    notify: bool = False


class Jobs:
    """Jobs and what the API reads of them; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db
        self._batch: Batcher[_Insert, Job | None] = Batcher(self._insert_jobs, name="vaultjobs-job-inserts")

    def close(self) -> None:
        self._batch.close()

    def create_job(self, new: NewJob, now: datetime, *, within: Callable[[Connection, Job], None] | None = None
                   ) -> Job:
        """Insert a job; the commit is on disk before this returns (its id may be acknowledged).

        Jobs of no definition (every job the API starts) that arrive together are inserted together,
        in one durable transaction (:mod:`vaultjobs.store.batcher`). ``within`` runs in the job's own
        transaction once it has its id (a reservation the job holds, such as the submission it
        imports; such a job is not batched); whatever it raises undoes the job too. ``StoreError``
        when the job would be a second SCHEDULED instance of its definition.
        """
        if new.definition is None and within is None:
            job = self._batch.submit(_Insert(new, now))
            assert job is not None  # no session epoch to confirm
            return job
        try:
            return self._insert_job(new, now, within)
        except self.db.integrity_errors as exc:
            raise StoreError(f"definition [{new.definition}] has a scheduled instance already") from exc

    async def create_job_async(self, new: NewJob, now: datetime, *, session_epoch: int | None = None) -> Job | None:
        """:meth:`create_job` for the event loop (a job of no definition): it waits for its batch, not a
        thread, and the batch's transaction tells the other nodes (and this one's listener) of it.

        With ``session_epoch`` the job is made only if the session epoch is still that in the very
        transaction that inserts it: a caller whose session was checked a moment ago needs no read of
        its own. None, and nothing inserted, when the epoch has moved (the session needs its full check).
        """
        if new.definition is not None:
            raise ValueError("a job of a definition is created with create_job")
        return await self._batch.submit_async(_Insert(new, now, session_epoch, notify=True))

    def _insert_job(self, new: NewJob, now: datetime, within: Callable[[Connection, Job], None] | None) -> Job:
        with self.db.write(durable=True) as conn:
            job = insert_job(conn, new, now)
            if within is not None:
                within(conn, job)
        return job

    def _insert_jobs(self, inserts: Sequence[_Insert]) -> list[Job | None]:
        # A batch, pipelined on PostgreSQL: the inserts go out together, one round trip in all.
        with self.db.batch(durable=True) as conn:
            epoch = None
            if any(insert.session_epoch is not None for insert in inserts):
                epoch = int(conn.execute(SESSION_EPOCH).fetchone()[0])
            jobs: list[Job | None] = []
            unread: list[tuple[int, Any, tuple[Any, ...]]] = []
            for insert in inserts:
                if insert.session_epoch is not None and insert.session_epoch != epoch:
                    jobs.append(None)
                    continue
                values = job_values(insert.new, insert.now)
                cursor = conn.execute(INSERT_JOB, values)
                if self.db.inline:
                    # SQLite gains nothing by waiting, and the next insert would find the cached
                    # statement busy and prepare its own (half as much again per start).
                    jobs.append(inserted_job(cursor, values))
                else:
                    unread.append((len(jobs), cursor, values))
                    jobs.append(None)
            for index, cursor, values in unread:
                jobs[index] = inserted_job(cursor, values)
            told = [job for job, insert in zip(jobs, inserts, strict=True) if job is not None and insert.notify]
            if told:
                self.db.notify_within(conn, workers_only=all(job.status is JobStatus.QUEUED for job in told))
            return jobs

    def get_job(self, job_id: int) -> Job | None:
        row = self.db.connection().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else job_from_row(row)

    def get_jobs(self, job_ids: Sequence[int]) -> dict[int, Job]:
        if not job_ids:
            return {}
        where, params = self.db.any_of("id", job_ids)
        rows = self.db.connection().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where}", params).fetchall()
        return {row[0]: job_from_row(row) for row in rows}

    def job_status(self, job_id: int) -> JobStatus | None:
        row = self.db.connection().execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JobStatus(row[0])

    def job_statuses(self, job_ids: Sequence[int]) -> dict[int, JobStatus]:
        if not job_ids:
            return {}
        where, params = self.db.any_of("id", job_ids)
        rows = self.db.connection().execute(f"SELECT id, status FROM jobs WHERE {where}", params).fetchall()
        return {job_id: JobStatus(status) for job_id, status in rows}

    def transition_job(
        self,
        job_id: int,
        expected: JobStatus,
        new: JobStatus,
        now: datetime,
        *,
        log: str | None = None,
        by: int | None = None,
        agent: str | None = None,
        fence: Fence | None = None,
    ) -> bool:
        """Move a job from ``expected`` to ``new``; False when it was not in ``expected`` any more.
        With ``fence``, only while its holder holds the lease (:class:`~vaultjobs.store.leases.LeaseLost`).
        The change is recorded as made by the user ``by`` or the component ``agent``."""
        with self.db.write() as conn:
            if fence is not None:
                check_fence(self.db, conn, fence, now)
            return set_status(self.db, conn, job_id, expected, new, to_ms(now), log=log, by=by, agent=agent)

    def cancel_job(self, job_id: int, by: int, now: datetime) -> tuple[bool, JobStatus]:
        """Cancel a job: at once when it has not started, cooperatively (CANCELLING) when it runs.

        Returns whether the cancel was accepted and the job's status afterwards. A RUNNING job whose
        processor is not cancellable, and a finished job, are left as they are.
        """
        ms = to_ms(now)
        with self.db.write() as conn:
            row = conn.execute("SELECT status, cancellable FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"no job with id {job_id}")
            status = JobStatus(row[0])
            if status is JobStatus.CANCELLING:
                return True, status
            if status in (JobStatus.SCHEDULED, JobStatus.QUEUEING, JobStatus.QUEUED):
                set_status(self.db, conn, job_id, status, JobStatus.CANCELLED, ms, by=by,
                                 log=f"cancelled by user {by} while {status.value}")
                return True, JobStatus.CANCELLED
            if status is not JobStatus.RUNNING or not row[1]:
                return False, status
            set_status(self.db, conn, job_id, status, JobStatus.CANCELLING, ms, by=by,
                             log=f"cancel requested by user {by}; running tasks are asked to stop")
            if settle_if_idle(self.db, conn, job_id, ms, agent=f"user:{by}"):
                return True, JobStatus.CANCELLED
            return True, JobStatus.CANCELLING

    def settle_cancelling(self, now: datetime) -> list[int]:
        """Every CANCELLING job nobody works on any more becomes CANCELLED; returns their ids."""
        ids = [r[0] for r in self.db.connection().execute("SELECT id FROM jobs WHERE status = 'CANCELLING'")]
        settled = []
        for job_id in ids:
            with self.db.write() as conn:
                if settle_if_idle(self.db, conn, job_id, to_ms(now), agent="sweeper"):
                    settled.append(job_id)
        return settled

    def overdue_jobs(self, now: datetime, *, job_timeout: float | None = None,
                     inactivity_timeout: float | None = None) -> list[tuple[Job, JobStatus]]:
        """RUNNING jobs past their timeout (→ TIMEOUT) or idle past their inactivity timeout while a
        worker holds them or one of their tasks (→ COMPLETED_DUE_TO_INACTIVITY). ``job_timeout`` and
        ``inactivity_timeout`` (seconds) replace every job's own (the control plane's limits)."""
        ms = to_ms(now)
        conn = self.db.connection()
        if job_timeout is None:
            timed_out = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'RUNNING' AND timeout_ms IS NOT NULL "
                "AND run_start + timeout_ms < ?",
                (ms,),
            ).fetchall()
        else:
            timed_out = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'RUNNING' AND (worker_id IS NULL OR worker_id <> ?) "
                "AND run_start + ? < ?",
                (SCRIPTED_WORKER, int(job_timeout * 1000), ms),
            ).fetchall()
        if inactivity_timeout is None:
            idle_past = "inactivity_timeout_ms IS NOT NULL AND progress_at + inactivity_timeout_ms < ?"
            idle_params: tuple[int, ...] = (ms,)
        else:
            idle_past = "progress_at + ? < ?"
            idle_params = (int(inactivity_timeout * 1000), ms)
        inactive = conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs j WHERE status = 'RUNNING' AND {idle_past} "
            "AND (worker_id IS NOT NULL OR EXISTS "
            "(SELECT 1 FROM tasks t WHERE t.state = 'RUNNING' AND t.job_id = j.id))",
            idle_params,
        ).fetchall()
        found: dict[int, tuple[Job, JobStatus]] = {}
        for row in inactive:
            job = job_from_row(row)
            found[job.id] = (job, JobStatus.COMPLETED_DUE_TO_INACTIVITY)
        for row in timed_out:
            job = job_from_row(row)
            found[job.id] = (job, JobStatus.TIMEOUT)
        return list(found.values())

    def queueing_jobs(self) -> list[Job]:
        rows = self.db.connection().execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'QUEUEING' ORDER BY id"
        ).fetchall()
        return [job_from_row(r) for r in rows]

    def touch_job_progress(self, job_id: int, now: datetime) -> None:
        self.db.write_one("UPDATE jobs SET progress_at = ? WHERE id = ?", (to_ms(now), job_id))

    # -- tasks and log lines ---------------------------------------------------------------

    def statuses_and_task_counts(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]:
        """Each job's status and its tasks per state (a job without tasks has ``{}``; a job that is
        gone is left out), in one query."""
        if not job_ids:
            return {}
        where, params = self.db.any_of("j.id", job_ids)
        rows = self.db.connection().execute(
            f"SELECT j.id, j.status, t.state, count(t.seq) FROM jobs j LEFT JOIN tasks t ON t.job_id = j.id "
            f"WHERE {where} GROUP BY j.id, j.status, t.state",
            params,
        ).fetchall()
        found: dict[int, tuple[JobStatus, dict[TaskState, int]]] = {}
        for job_id, status, state, count in rows:
            counts = found.setdefault(job_id, (JobStatus(status), {}))[1]
            if state is not None:
                counts[TaskState(state)] = count
        return found

    def job_and_task_counts(self, job_id: int) -> tuple[Job, dict[TaskState, int]] | None:
        """A job and its tasks per state in one query (what Retrieve Job Status shows)."""
        read = self.status_read(job_id)
        job = read.job
        return None if job is None else (job, read.counts)

    def status_read(self, job_id: int) -> StatusRead:
        """What Retrieve Job Status reads, in one statement: the job (None when there is none), its
        tasks per state, and the session epoch that confirms a cached session (:mod:`vaultjobs.session_cache`)."""
        return status_read_of(self.db.connection().execute(status_read_sql(self.db), (job_id,)).fetchone())

    def list_tasks(self, job_id: int, limit: int, offset: int) -> Page:
        conn = self.db.connection()
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
        rows = self.db.connection().execute(
            "SELECT seq, state, attempts, message FROM tasks WHERE job_id = ? AND state = 'ERRORS_ENCOUNTERED' "
            "ORDER BY seq",
            (job_id,),
        ).fetchall()
        return [
            Task(job_id=job_id, seq=seq, state=TaskState(state), attempts=attempts, message=message)
            for seq, state, attempts, message in rows
        ]

    def append_log(self, job_id: int, message: str, now: datetime) -> None:
        self.db.write_one(
            "INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, to_ms(now), message)
        )

    def append_logs(self, job_id: int, logs: Sequence[tuple[datetime, str]]) -> None:
        if logs:
            with self.db.batch() as conn:
                insert_logs(self.db, conn, [(job_id, logs)])

    def transitions(self, job_id: int) -> list[Transition]:
        """Every change of the job's status, oldest first, as recorded in the transaction that made it
        (none for jobs created before schema sqlite 0011 / postgres 0009)."""
        rows = self.db.connection().execute(
            "SELECT from_status, to_status, at, actor FROM job_transitions WHERE job_id = ? ORDER BY id", (job_id,)
        ).fetchall()
        return [Transition(from_status=None if old is None else JobStatus(old), to_status=JobStatus(new),
                           at=from_ms(at), actor=who) for old, new, at, who in rows]

    def read_log(self, job_id: int) -> list[LogLine]:
        rows = self.db.connection().execute(
            "SELECT at, message FROM job_log WHERE job_id = ? ORDER BY id", (job_id,)
        ).fetchall()
        return [LogLine(at=from_ms(at), message=message) for at, message in rows]
