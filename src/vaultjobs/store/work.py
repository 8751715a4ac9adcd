"""Work claiming: what workers do to the store, in batches.

A worker claims several units of work in one statement, and writes what several of them led to in
one transaction, so that a busy queue costs a few round trips per batch rather than a dozen per job.
Statements that differ per unit take their rows as one parameter source (``Dialect.rows``: a
``VALUES`` list on SQLite, arrays ``unnest``-ed on PostgreSQL, where the statement text then stays
the same for any number of rows and is prepared once). On PostgreSQL a batch's transaction is also
pipelined: statements whose results are not needed yet go out without waiting for the server.

Every write stays conditional on what the worker holds (``worker_id``, ``status``, ``phase``), so a
unit resolved meanwhile by the sweeper, a cancel or another node is left alone and reported as lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from vaultjobs.models import Job, Task
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.job_status import START_IF_QUEUED, Move, actor, move_jobs
from vaultjobs.store.jobs import insert_logs
from vaultjobs.store.rows import JOB_COLUMNS, dumps_or_none, job_from_row
from vaultjobs.timeutil import to_ms


@dataclass(frozen=True, kw_only=True)
class TaskOutcome:
    state: TaskState
    message: str | None = None
    output: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Started:
    """What storing a job's tasks led to."""

    #: The job has no tasks: the caller now holds it in its complete phase.
    complete_now: bool
    #: The first task, already claimed by the caller (with ``claim_first``).
    first_task: Task | None = None


@dataclass(frozen=True, kw_only=True)
class TaskPlan:
    """A job's tasks as ``init`` planned them (JSON payloads), with the log lines of its init."""

    job_id: int
    chunks: list[str]
    logs: Sequence[tuple[datetime, str]] = ()
    #: Whether the worker that ran ``init`` keeps the first task (saving it a claim).
    claim_first: bool = True


@dataclass(frozen=True, kw_only=True)
class FinishedTask:
    """How one task a worker ran ended, with the log lines it wrote."""

    job_id: int
    seq: int
    outcome: TaskOutcome
    logs: Sequence[tuple[datetime, str]] = ()


@dataclass(frozen=True, kw_only=True)
class JobEnd:
    """How a worker ends one job it holds."""

    job_id: int
    status: JobStatus
    result: dict[str, Any] | None = None
    logs: Sequence[tuple[datetime, str]] = ()


@dataclass(frozen=True, kw_only=True)
class SoloRun:
    """A job a worker took from ``init`` through the one task ``init`` planned (``task``: None when it
    planned none) in one go, nothing of it stored yet: the task's payload, when it started and how it
    ended (stored as ``Task1``), and the job's log lines so far. Ending such a job costs one write
    instead of three (its tasks, their ends, its end)."""

    job_id: int
    task: tuple[str, datetime, TaskOutcome] | None = None
    logs: Sequence[tuple[datetime, str]] = ()


@dataclass(frozen=True, kw_only=True)
class SoloEnd:
    """How a worker ends a job it ran through (:class:`SoloRun`; its logs end with the end's line)."""

    run: SoloRun
    status: JobStatus
    result: dict[str, Any] | None = None


def stopped_line(seq: int, status: JobStatus | None) -> str:
    """The log line of a task that ended while its job was not RUNNING (None: the job is gone)."""
    return f"Task{seq} stopped: the job is {status.value if status else 'gone'}"


def ending(job_id: int, status: JobStatus, result: dict[str, Any] | None) -> Move:
    """The move that ends a job a worker holds: from RUNNING, or from CANCELLING when it ends CANCELLED."""
    expected = JobStatus.CANCELLING if status is JobStatus.CANCELLED else JobStatus.RUNNING
    return Move(job_id, expected, status, result=result, sets_result=True)


_MAX_ID = 9223372036854775807
#: The jobs a worker may take: QUEUED ones, and RUNNING ones between phases that nobody holds
#: (a dead worker's idempotent job, or one a batch handed back).
#: Spelled as the partial index ``jobs_unheld`` is (migrations sqlite 0017, postgres 0015), for SQLite to use it.
_HELD_NOWHERE = (
    "(status = 'RUNNING' OR status = 'CANCELLING') AND (phase = 'init' OR phase = 'complete') AND worker_id IS NULL"
)
#: Of the candidates numbered ``n`` in order, the first ``limit`` (the last parameter) up to the
#: first one after the first whose processor is not idempotent.
_SAFE_PREFIX_WHERE = (
    f"n <= ? AND n < COALESCE((SELECT min(n) FROM claimable WHERE idempotent = 0 AND n > 1), {_MAX_ID})"
)
_SAFE_PREFIX = f"SELECT id FROM claimable WHERE {_SAFE_PREFIX_WHERE}"
#: Tasks still to run: a job with one of these has not finished processing.
_UNFINISHED = "state IN ('QUEUED', 'RUNNING')"


class Work:
    """Claims, task plans and ends, in batches; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db
        #: A claim's fence, with the worker's id as its parameter: a worker stopped or recovered as
        #: dead claims nothing. The row is held (``FOR KEY SHARE``) until the claim commits, so a
        #: recovery, which locks it first, either sees the claim or is seen by it. A worker with no
        #: row (never registered: the store's own tests) is not fenced.
        self._alive = f"(SELECT stopped_at FROM workers WHERE id = ?{db.key_share}) IS NULL"

    def claim_jobs(self, worker_id: str, now: datetime, limit: int) -> list[Job]:
        """Claim up to ``limit`` jobs, oldest first: QUEUED ones (→ RUNNING, phase init) and RUNNING
        ones between phases that no worker holds.

        A QUEUED job that something holds already (a scripted job of the control plane) is never claimed.
        First in, first out across jobs: a QUEUED job waits while an older job still has queued tasks.
        A job of a processor that is not idempotent comes only first in a batch: if this worker
        died, the sweeper would end every non-idempotent job it held, started or not.
        """
        ms = to_ms(now)
        hint, unheld = self.db.hint("jobs_status"), self.db.hint("jobs_unheld")
        rows = self.db.claim(
            f"UPDATE jobs{self.db.by_id} SET {START_IF_QUEUED}, worker_id = ?, progress_at = ? "
            "WHERE id IN (WITH claimable AS (SELECT id, idempotent, row_number() OVER (ORDER BY id) AS n FROM ("
            f"SELECT id, idempotent FROM (SELECT id, idempotent FROM jobs{hint} WHERE status = 'QUEUED' "
            f"AND worker_id IS NULL "
            f"AND id < COALESCE((SELECT min(job_id) FROM tasks WHERE state = 'QUEUED'), {_MAX_ID}) "
            f"ORDER BY id LIMIT ?{self.db.skip_locked}) AS queued "
            f"UNION ALL SELECT id, idempotent FROM (SELECT id, idempotent FROM jobs{unheld} WHERE {_HELD_NOWHERE} "
            f"ORDER BY id LIMIT ?{self.db.skip_locked}) AS unheld) AS candidates) "
            f"{_SAFE_PREFIX}) "
            f"AND ((status = 'QUEUED' AND worker_id IS NULL) OR ({_HELD_NOWHERE})) AND {self._alive} "
            f"RETURNING {JOB_COLUMNS}",
            (ms, ms, ms, ms, actor(held_by=worker_id), worker_id, ms, limit, limit, limit, worker_id),
        )
        return sorted((job_from_row(r) for r in rows), key=lambda job: job.id)

    def claim_tasks(self, worker_id: str, now: datetime, limit: int) -> list[Task]:
        """Claim up to ``limit`` queued tasks, oldest job first; as with jobs, a task of a processor
        that is not idempotent comes only first in a batch."""
        rows = self.db.claim(
            "UPDATE tasks SET state = 'RUNNING', worker_id = ?, started_at = ?, attempts = attempts + 1 "
            "WHERE (job_id, seq) IN (WITH claimable AS (SELECT job_id, seq, idempotent, "
            "row_number() OVER (ORDER BY job_id, seq) AS n FROM (SELECT job_id, seq, "
            "(SELECT idempotent FROM jobs WHERE jobs.id = tasks.job_id) AS idempotent FROM tasks "
            f"WHERE state = 'QUEUED' ORDER BY job_id, seq LIMIT ?{self.db.skip_locked}) AS queued) "
            f"SELECT job_id, seq FROM claimable WHERE {_SAFE_PREFIX_WHERE}) "
            f"AND state = 'QUEUED' AND {self._alive} RETURNING job_id, seq, payload, attempts",
            (worker_id, to_ms(now), limit, limit, worker_id),
        )
        tasks = [
            Task(job_id=job_id, seq=seq, state=TaskState.RUNNING, items=orjson.loads(payload),
                 worker_id=worker_id, attempts=attempts)
            for job_id, seq, payload, attempts in rows
        ]
        return sorted(tasks, key=lambda t: (t.job_id, t.seq))

    def release(self, worker_id: str, job_ids: Sequence[int] = (), tasks: Sequence[tuple[int, int]] = ()) -> None:
        """Hand back claimed units this worker has not started, for any worker to take.

        Jobs stay RUNNING in their phase, held by nobody; tasks go back on the queue as if never claimed.
        """
        with self.db.batch() as conn:
            if job_ids:
                jobs_in, ids = self.db.any_of("id", job_ids)
                conn.execute(
                    f"UPDATE jobs SET worker_id = NULL WHERE worker_id = ? AND {jobs_in} "
                    "AND phase IN ('init', 'complete')",
                    (worker_id, *ids),
                )
            if tasks:
                source, rows = self.db.rows(("bigint", "integer"), tasks)
                conn.execute(
                    "UPDATE tasks SET state = 'QUEUED', worker_id = NULL, started_at = NULL, attempts = attempts - 1 "
                    "WHERE worker_id = ? AND state = 'RUNNING' "
                    f"AND (job_id, seq) IN (SELECT column1, column2 FROM {source})",
                    (worker_id, *rows),
                )

    def release_claim(self, worker_id: str, stamp: datetime) -> None:
        """Hand back what one call stamped ``stamp`` gave this worker — a claim, a first task handed
        out with a job's tasks, a job moved to its complete phase — when the worker never heard its
        answer (the connection broke as it committed). A worker stamps each such call with its own
        instant, so nothing else it holds carries that stamp."""
        ms = to_ms(stamp)
        with self.db.batch() as conn:
            conn.execute(
                "UPDATE jobs SET worker_id = NULL WHERE worker_id = ? AND progress_at = ? "
                "AND phase IN ('init', 'complete')",
                (worker_id, ms),
            )
            conn.execute(
                "UPDATE tasks SET state = 'QUEUED', worker_id = NULL, started_at = NULL, attempts = attempts - 1 "
                "WHERE worker_id = ? AND state = 'RUNNING' AND started_at = ?",
                (worker_id, ms),
            )

    def start_tasks_of(self, worker_id: str, plans: Sequence[TaskPlan], now: datetime) -> list[Started | None]:
        """Store each job's tasks and hand them to the pool, the first one to ``worker_id`` itself
        when the plan says ``claim_first`` (which saves it a claim). A job with no tasks goes straight
        to its complete phase, still held by ``worker_id``, with ``complete_now`` set: the caller
        completes it.

        One answer per plan, in order: None where the job is no longer RUNNING in its init phase under
        this worker (cancelled or timed out while init ran, or taken from a worker thought dead);
        nothing is stored for it.
        """
        if not plans:
            return []
        ms = to_ms(now)
        with self.db.batch() as conn:
            source, params = self.db.rows(("bigint", "text"), [(p.job_id, "process" if p.chunks else "complete")
                                                            for p in plans])
            # With tasks, the job is nobody's until they end; without, this worker completes it.
            held = {row[0] for row in conn.execute(
                f"UPDATE jobs SET phase = v.column2, progress_at = ?, "
                "worker_id = CASE WHEN v.column2 = 'complete' THEN worker_id END "
                f"FROM {source} WHERE jobs.id = v.column1 AND jobs.phase = 'init' AND jobs.worker_id = ? "
                "AND jobs.status = 'RUNNING' RETURNING jobs.id",
                (ms, *params, worker_id),
            ).fetchall()}
            kept = [p for p in plans if p.job_id in held]
            rows = [
                (p.job_id, seq, "RUNNING", payload, worker_id, ms, 1) if seq == 1 and p.claim_first
                else (p.job_id, seq, "QUEUED", payload, None, None, 0)
                for p in kept
                for seq, payload in enumerate(p.chunks, start=1)
            ]
            self.db.insert(conn, "tasks (job_id, seq, state, payload, worker_id, started_at, attempts)",
                         ("bigint", "integer", "text", "text", "text", "bigint", "integer"), rows)
            insert_logs(self.db, conn, [(p.job_id, p.logs) for p in kept])
        answers: list[Started | None] = []
        for plan in plans:
            if plan.job_id not in held:
                answers.append(None)
            elif not plan.chunks:
                answers.append(Started(complete_now=True))
            elif not plan.claim_first:
                answers.append(Started(complete_now=False))
            else:
                first = Task(job_id=plan.job_id, seq=1, state=TaskState.RUNNING, items=orjson.loads(plan.chunks[0]),
                             worker_id=worker_id, attempts=1)
                answers.append(Started(complete_now=False, first_task=first))
        return answers

    def finish_tasks_counted(
        self, worker_id: str, finished: Sequence[FinishedTask], now: datetime
    ) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]:
        """Record the ends of tasks this worker ran; return the jobs whose last task this was, which
        this worker now holds in their complete phase, with what completing each needs: its status and
        its tasks per state (read in the same transaction, which saves the worker a query).

        A task whose job left RUNNING while it ran (cancelled, timed out) ends CANCELLED whatever it
        did, with a log line saying so. A task no longer RUNNING under this worker (the sweeper
        resolved it) is left as it is.
        """
        if not finished:
            return {}
        ms = to_ms(now)
        ids = sorted({f.job_id for f in finished})
        jobs_in, id_params = self.db.any_of("id", ids)
        source, rows = self.db.rows(
            ("bigint", "integer", "text", "text", "text"),
            [(f.job_id, f.seq, f.outcome.state.value, f.outcome.message, dumps_or_none(f.outcome.output))
             for f in finished],
        )
        job_running = "(SELECT status FROM jobs WHERE jobs.id = tasks.job_id) = 'RUNNING'"
        with self.db.batch() as conn:
            # Lock the jobs, in order, before anything else: two workers ending a job's last two
            # tasks at once then see each other's, and exactly one completes the job.
            locked = conn.execute(
                f"SELECT id, status FROM jobs WHERE {jobs_in} ORDER BY id{self.db.row_lock}", id_params
            )
            updated = conn.execute(
                f"UPDATE tasks SET state = CASE WHEN {job_running} THEN v.column3 ELSE 'CANCELLED' END, "
                f"finished_at = ?, message = CASE WHEN {job_running} THEN v.column4 END, "
                f"output = CASE WHEN {job_running} THEN v.column5 END "
                f"FROM {source} WHERE tasks.job_id = v.column1 AND tasks.seq = v.column2 "
                "AND tasks.state = 'RUNNING' AND tasks.worker_id = ? RETURNING tasks.job_id",
                (ms, *rows, worker_id),
            )
            pending_in, pending_params = self.db.any_of("job_id", ids)
            unfinished = conn.execute(
                f"SELECT DISTINCT job_id FROM tasks WHERE {pending_in} AND {_UNFINISHED}", pending_params
            )
            statuses = {job_id: JobStatus(status) for job_id, status in locked.fetchall()}
            ended = {row[0] for row in updated.fetchall()}
            pending = {row[0] for row in unfinished.fetchall()}
            done = [job_id for job_id in ids if job_id in ended and job_id not in pending]
            moves_in, moves_params = self.db.any_of("id", done)
            moves = f"{moves_in} AND phase = 'process' AND status IN ('RUNNING', 'CANCELLING')"
            moved = conn.execute(
                f"UPDATE jobs SET progress_at = ?, phase = CASE WHEN {moves} THEN 'complete' ELSE phase END, "
                f"worker_id = CASE WHEN {moves} THEN ? ELSE worker_id END "
                f"WHERE {jobs_in} RETURNING id, phase, worker_id",
                (ms, *moves_params, *moves_params, worker_id, *id_params),
            ) if ended else None
            logs = []
            for f in finished:
                lines = list(f.logs)
                status = statuses.get(f.job_id)
                if f.job_id in ended and status is not JobStatus.RUNNING:
                    lines.append((now, stopped_line(f.seq, status)))
                logs.append((f.job_id, lines))
            counted = None
            if done:
                counts_in, counts_params = self.db.any_of("job_id", done)
                counted = conn.execute(
                    f"SELECT job_id, state, count(*) FROM tasks WHERE {counts_in} GROUP BY job_id, state", counts_params
                )
            insert_logs(self.db, conn, logs)
            rows_moved = moved.fetchall() if moved is not None else []
            rows_counted = counted.fetchall() if counted is not None else []
        done_set = set(done)
        completing: dict[int, tuple[JobStatus, dict[TaskState, int]]] = {
            job_id: (statuses[job_id], {}) for job_id, phase, holder in rows_moved
            if job_id in done_set and phase == "complete" and holder == worker_id
        }
        for job_id, state, count in rows_counted:
            if job_id in completing:
                completing[job_id][1][TaskState(state)] = count
        return completing

    def finish_solo_jobs(self, worker_id: str, ends: Sequence[SoloEnd], now: datetime) -> set[int]:
        """End jobs this worker holds in their ``init`` phase and ran through, as :meth:`finish_jobs`
        does, storing each one's task in the same transaction; return those ended. A job that is not
        as expected is left alone, task and log lines unwritten."""
        if not ends:
            return set()
        ms = to_ms(now)
        moves = [ending(end.run.job_id, end.status, end.result) for end in ends]
        with self.db.batch() as conn:
            ended = move_jobs(self.db, conn, moves, ms, held_by=worker_id)
            self._store_runs(conn, worker_id, [end.run for end in ends if end.run.job_id in ended], ms)
        return ended

    def hand_over_solo_jobs(self, worker_id: str, runs: Sequence[SoloRun], now: datetime) -> set[int]:
        """Store jobs this worker ran through as any job whose last task ended is stored — its task
        ended (CANCELLED when the job is being cancelled), the job RUNNING or CANCELLING in its complete
        phase — held by nobody, for any worker to complete; return those handed over. A job this
        worker no longer holds in its init phase is left alone but for its log lines."""
        if not runs:
            return set()
        ms = to_ms(now)
        jobs_in, ids = self.db.any_of("id", [run.job_id for run in runs])
        with self.db.batch() as conn:
            moved = dict(conn.execute(
                f"UPDATE jobs SET phase = 'complete', worker_id = NULL, progress_at = ? WHERE {jobs_in} "
                "AND status IN ('RUNNING', 'CANCELLING') AND phase = 'init' AND worker_id = ? RETURNING id, status",
                (ms, *ids, worker_id),
            ).fetchall())
            kept = []
            for run in runs:
                status = JobStatus(moved[run.job_id]) if run.job_id in moved else None
                if run.task is not None and status is JobStatus.CANCELLING:
                    payload, started, _ = run.task
                    run = SoloRun(job_id=run.job_id, task=(payload, started, TaskOutcome(state=TaskState.CANCELLED)),
                                  logs=[*run.logs, (now, stopped_line(1, status))])
                if status is not None:
                    kept.append(run)
            self._store_runs(conn, worker_id, kept, ms)
            # Ended or taken elsewhere: their log lines still tell what ran.
            insert_logs(self.db, conn, [(run.job_id, run.logs) for run in runs if run.job_id not in moved])
        return set(moved)

    def _store_runs(self, conn: Connection, worker_id: str, runs: Sequence[SoloRun], ms: int) -> None:
        """The tasks and log lines of jobs run through, inside the transaction that ends or hands them over."""
        tasks = []
        for run in runs:
            if run.task is not None:
                payload, started, outcome = run.task
                tasks.append((run.job_id, 1, outcome.state.value, payload, worker_id, to_ms(started), ms, 1,
                              outcome.message, dumps_or_none(outcome.output)))
        self.db.insert(
            conn, "tasks (job_id, seq, state, payload, worker_id, started_at, finished_at, attempts, message, output)",
            ("bigint", "integer", "text", "text", "text", "bigint", "bigint", "integer", "text", "text"), tasks)
        insert_logs(self.db, conn, [(run.job_id, run.logs) for run in runs])

    def finish_jobs(self, worker_id: str, ends: Sequence[JobEnd], now: datetime) -> set[int]:
        """End jobs this worker holds, from RUNNING (or CANCELLING → CANCELLED); return those ended.

        A job that is not as expected (cancelled meanwhile, timed out) is left alone, its log lines unwritten.
        """
        if not ends:
            return set()
        ms = to_ms(now)
        moves = [ending(end.job_id, end.status, end.result) for end in ends]
        with self.db.batch() as conn:
            ended = move_jobs(self.db, conn, moves, ms, held_by=worker_id)
            if ended:
                insert_logs(self.db, conn, [(e.job_id, e.logs) for e in ends if e.job_id in ended])
        return ended

