"""What workers do to the store, in batches: :class:`SqlWorkQueries`, mixed into every SQL store.

A worker claims several units of work in one statement, and writes what several of them led to in
one transaction, so that a busy queue costs a few round trips per batch rather than a dozen per job.
Statements that differ per unit take their rows as one parameter source (:meth:`SqlWorkQueries._rows`:
a ``VALUES`` list on SQLite, arrays ``unnest``-ed on PostgreSQL, where the statement text then stays
the same for any number of rows and is prepared once). On PostgreSQL a batch's transaction is also
pipelined: statements whose results are not needed yet go out without waiting for the server.

Every write stays conditional on what the worker holds (``worker_id``, ``status``, ``phase``), so a
unit resolved meanwhile by the sweeper, a cancel or another node is left alone and reported as lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from vaultjobs.models import Job, Task
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store.base import FinishedTask, JobEnd, Started, StoreError, TaskOutcome, TaskPlan
from vaultjobs.store.sql import _JOB_COLUMNS, Connection, Cursor, _check_transition, _dumps, _job_from_row
from vaultjobs.timeutil import to_ms

_MAX_ID = 9223372036854775807
#: The jobs a worker may take: QUEUED ones, and RUNNING ones between phases that nobody holds
#: (a dead worker's idempotent job, or one a batch handed back).
_HELD_NOWHERE = "status IN ('RUNNING', 'CANCELLING') AND phase IN ('init', 'complete') AND worker_id IS NULL"
#: Of the candidates numbered ``n`` in order, the first ``limit`` (the last parameter) up to the
#: first one after the first whose processor is not idempotent.
_SAFE_PREFIX_WHERE = (
    f"n <= ? AND n < COALESCE((SELECT min(n) FROM claimable WHERE idempotent = 0 AND n > 1), {_MAX_ID})"
)
_SAFE_PREFIX = f"SELECT id FROM claimable WHERE {_SAFE_PREFIX_WHERE}"
#: Tasks still to run: a job with one of these has not finished processing.
_UNFINISHED = "state IN ('QUEUED', 'RUNNING')"


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _dumps_or_none(value: Any) -> str | None:
    return None if value is None else _dumps(value)


class SqlWorkQueries:
    """Claims, task plans and ends, in batches. Needs the store's ``_conn``, ``_tx`` and ``_write``.

    The three ``_in``/``_rows``/``_insert`` hooks and ``_batch_tx`` are plain SQL here (SQLite);
    the PostgreSQL store overrides them.
    """

    if TYPE_CHECKING:
        skip_locked: ClassVar[str]
        row_lock: ClassVar[str]
        jobs_by_status: ClassVar[str]

        def _conn(self) -> Connection: ...

        @contextlib.contextmanager
        def _tx(self, durable: bool = False) -> Iterator[Any]: ...

        def _write(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor: ...

    # -- dialect hooks ---------------------------------------------------------------------

    def _in(self, column: str, values: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        """``column IN (…)`` over integer ``values``, and its parameters."""
        return f"{column} IN ({_marks(len(values))})", tuple(values)

    def _rows(self, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, tuple[Any, ...]]:
        """A row source named ``v`` with columns ``column1`` … (SQL ``types`` each), and its parameters."""
        one = "(" + _marks(len(types)) + ")"
        return f"(VALUES {', '.join([one] * len(rows))}) AS v", tuple(value for row in rows for value in row)

    def _insert(self, conn: Any, into: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``INSERT INTO into VALUES`` each of ``rows``."""
        if rows:
            conn.executemany(f"INSERT INTO {into} VALUES ({_marks(len(types))})", rows)

    def _claim(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Run a claiming ``UPDATE … RETURNING`` on its own; its rows."""
        return list(self._write(sql, params).fetchall())

    @contextlib.contextmanager
    def _batch_tx(self) -> Iterator[Any]:
        """The transaction of a batch's writes (PostgreSQL: pipelined; read results with ``fetchall``)."""
        with self._tx() as conn:
            yield conn

    # -- claims ----------------------------------------------------------------------------

    def claim_jobs(self, worker_id: str, now: datetime, limit: int) -> list[Job]:
        """Claim up to ``limit`` jobs, oldest first: QUEUED ones (→ RUNNING, phase init) and RUNNING
        ones between phases that no worker holds.

        First in, first out across jobs: a QUEUED job waits while an older job still has queued tasks.
        A job of a processor that is not idempotent comes only first in a batch: if this worker
        died, the sweeper would end every non-idempotent job it held, started or not.
        """
        ms = to_ms(now)
        hint = self.jobs_by_status
        rows = self._claim(
            "UPDATE jobs SET "
            "status = CASE WHEN status = 'QUEUED' THEN 'RUNNING' ELSE status END, "
            "phase = CASE WHEN status = 'QUEUED' THEN 'init' ELSE phase END, "
            "run_start = CASE WHEN status = 'QUEUED' THEN ? ELSE run_start END, "
            "modified_at = CASE WHEN status = 'QUEUED' THEN ? ELSE modified_at END, "
            "worker_id = ?, progress_at = ? "
            "WHERE id IN (WITH claimable AS (SELECT id, idempotent, row_number() OVER (ORDER BY id) AS n FROM ("
            f"SELECT id, idempotent FROM (SELECT id, idempotent FROM jobs{hint} WHERE status = 'QUEUED' "
            f"AND id < COALESCE((SELECT min(job_id) FROM tasks WHERE state = 'QUEUED'), {_MAX_ID}) "
            f"ORDER BY id LIMIT ?{self.skip_locked}) AS queued "
            f"UNION ALL SELECT id, idempotent FROM (SELECT id, idempotent FROM jobs{hint} WHERE {_HELD_NOWHERE} "
            f"ORDER BY id LIMIT ?{self.skip_locked}) AS unheld) AS candidates) "
            f"{_SAFE_PREFIX}) "
            f"AND (status = 'QUEUED' OR ({_HELD_NOWHERE})) "
            f"RETURNING {_JOB_COLUMNS}",
            (ms, ms, worker_id, ms, limit, limit, limit),
        )
        return sorted((_job_from_row(r) for r in rows), key=lambda job: job.id)

    def claim_job(self, worker_id: str, now: datetime) -> Job | None:
        claimed = self.claim_jobs(worker_id, now, 1)
        return claimed[0] if claimed else None

    def claim_tasks(self, worker_id: str, now: datetime, limit: int) -> list[Task]:
        """Claim up to ``limit`` queued tasks, oldest job first; as with jobs, a task of a processor
        that is not idempotent comes only first in a batch."""
        rows = self._claim(
            "UPDATE tasks SET state = 'RUNNING', worker_id = ?, started_at = ?, attempts = attempts + 1 "
            "WHERE (job_id, seq) IN (WITH claimable AS (SELECT job_id, seq, idempotent, "
            "row_number() OVER (ORDER BY job_id, seq) AS n FROM (SELECT job_id, seq, "
            "(SELECT idempotent FROM jobs WHERE jobs.id = tasks.job_id) AS idempotent FROM tasks "
            f"WHERE state = 'QUEUED' ORDER BY job_id, seq LIMIT ?{self.skip_locked}) AS queued) "
            f"SELECT job_id, seq FROM claimable WHERE {_SAFE_PREFIX_WHERE}) "
            "AND state = 'QUEUED' RETURNING job_id, seq, payload, attempts",
            (worker_id, to_ms(now), limit, limit),
        )
        tasks = [
            Task(job_id=job_id, seq=seq, state=TaskState.RUNNING, items=orjson.loads(payload),
                 worker_id=worker_id, attempts=attempts)
            for job_id, seq, payload, attempts in rows
        ]
        return sorted(tasks, key=lambda t: (t.job_id, t.seq))

    def claim_task(self, worker_id: str, now: datetime) -> Task | None:
        claimed = self.claim_tasks(worker_id, now, 1)
        return claimed[0] if claimed else None

    def release(self, worker_id: str, job_ids: Sequence[int] = (), tasks: Sequence[tuple[int, int]] = ()) -> None:
        """Hand back claimed units this worker has not started, for any worker to take.

        Jobs stay RUNNING in their phase, held by nobody; tasks go back on the queue as if never claimed.
        """
        with self._batch_tx() as conn:
            if job_ids:
                jobs_in, ids = self._in("id", job_ids)
                conn.execute(
                    f"UPDATE jobs SET worker_id = NULL WHERE worker_id = ? AND {jobs_in} "
                    "AND phase IN ('init', 'complete')",
                    (worker_id, *ids),
                )
            if tasks:
                source, rows = self._rows(("bigint", "integer"), tasks)
                conn.execute(
                    "UPDATE tasks SET state = 'QUEUED', worker_id = NULL, started_at = NULL, attempts = attempts - 1 "
                    "WHERE worker_id = ? AND state = 'RUNNING' "
                    f"AND (job_id, seq) IN (SELECT column1, column2 FROM {source})",
                    (worker_id, *rows),
                )

    # -- reading what a batch holds --------------------------------------------------------

    def job_statuses(self, job_ids: Sequence[int]) -> dict[int, JobStatus]:
        if not job_ids:
            return {}
        where, params = self._in("id", job_ids)
        rows = self._conn().execute(f"SELECT id, status FROM jobs WHERE {where}", params).fetchall()
        return {job_id: JobStatus(status) for job_id, status in rows}

    def get_jobs(self, job_ids: Sequence[int]) -> dict[int, Job]:
        if not job_ids:
            return {}
        where, params = self._in("id", job_ids)
        rows = self._conn().execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {where}", params).fetchall()
        return {row[0]: _job_from_row(row) for row in rows}

    def statuses_and_task_counts(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]:
        """Each job's status and its tasks per state (a job without tasks has ``{}``; a job that is
        gone is left out), in one query."""
        if not job_ids:
            return {}
        where, params = self._in("j.id", job_ids)
        rows = self._conn().execute(
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
        rows = self._conn().execute(
            f"SELECT {', '.join('j.' + c for c in _JOB_COLUMNS.split(', '))}, t.state, t.n FROM jobs j "
            "LEFT JOIN (SELECT state, count(*) AS n FROM tasks WHERE job_id = ? GROUP BY state) t ON 1 = 1 "
            "WHERE j.id = ?",
            (job_id, job_id),
        ).fetchall()
        if not rows:
            return None
        width = len(rows[0]) - 2
        counts = {TaskState(row[width]): row[width + 1] for row in rows if row[width] is not None}
        return _job_from_row(rows[0][:width]), counts

    def task_counts(self, job_id: int) -> dict[TaskState, int]:
        found = self.statuses_and_task_counts([job_id])
        return found[job_id][1] if job_id in found else {}

    # -- writing what a batch did ----------------------------------------------------------

    def _insert_logs(self, conn: Any, logs: Sequence[tuple[int, Sequence[tuple[datetime, str]]]]) -> None:
        rows = [(job_id, to_ms(at), message) for job_id, lines in logs for at, message in lines]
        self._insert(conn, "job_log (job_id, at, message)", ("bigint", "bigint", "text"), rows)

    def append_logs(self, job_id: int, logs: Sequence[tuple[datetime, str]]) -> None:
        if logs:
            with self._batch_tx() as conn:
                self._insert_logs(conn, [(job_id, logs)])

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
        with self._batch_tx() as conn:
            source, params = self._rows(("bigint", "text"), [(p.job_id, "process" if p.chunks else "complete")
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
            self._insert(conn, "tasks (job_id, seq, state, payload, worker_id, started_at, attempts)",
                         ("bigint", "integer", "text", "text", "text", "bigint", "integer"), rows)
            self._insert_logs(conn, [(p.job_id, p.logs) for p in kept])
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

    def start_tasks(
        self,
        job_id: int,
        worker_id: str,
        chunks: list[str],
        now: datetime,
        *,
        claim_first: bool = False,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> Started:
        """:meth:`start_tasks_of` for one job; raises when the worker no longer initialises it."""
        plan = TaskPlan(job_id=job_id, chunks=chunks, logs=logs, claim_first=claim_first)
        (started,) = self.start_tasks_of(worker_id, [plan], now)
        if started is None:
            raise StoreError(f"job {job_id} is no longer being initialised by this worker")
        return started

    def finish_tasks(self, worker_id: str, finished: Sequence[FinishedTask], now: datetime) -> set[int]:
        """Record the ends of tasks this worker ran; return the jobs whose last task this was, which
        this worker now holds in their complete phase.

        A task whose job left RUNNING while it ran (cancelled, timed out) ends CANCELLED whatever it
        did, with a log line saying so. A task no longer RUNNING under this worker (the sweeper
        resolved it) is left as it is.
        """
        return set(self.finish_tasks_counted(worker_id, finished, now))

    def finish_tasks_counted(
        self, worker_id: str, finished: Sequence[FinishedTask], now: datetime
    ) -> dict[int, tuple[JobStatus, dict[TaskState, int]]]:
        """:meth:`finish_tasks`, with what completing each job needs: its status and its tasks per
        state (read in the same transaction, which saves the worker a query)."""
        if not finished:
            return {}
        ms = to_ms(now)
        ids = sorted({f.job_id for f in finished})
        jobs_in, id_params = self._in("id", ids)
        source, rows = self._rows(
            ("bigint", "integer", "text", "text", "text"),
            [(f.job_id, f.seq, f.outcome.state.value, f.outcome.message, _dumps_or_none(f.outcome.output))
             for f in finished],
        )
        job_running = "(SELECT status FROM jobs WHERE jobs.id = tasks.job_id) = 'RUNNING'"
        with self._batch_tx() as conn:
            # Lock the jobs, in order, before anything else: two workers ending a job's last two
            # tasks at once then see each other's, and exactly one completes the job.
            locked = conn.execute(f"SELECT id, status FROM jobs WHERE {jobs_in} ORDER BY id{self.row_lock}", id_params)
            updated = conn.execute(
                f"UPDATE tasks SET state = CASE WHEN {job_running} THEN v.column3 ELSE 'CANCELLED' END, "
                f"finished_at = ?, message = CASE WHEN {job_running} THEN v.column4 END, "
                f"output = CASE WHEN {job_running} THEN v.column5 END "
                f"FROM {source} WHERE tasks.job_id = v.column1 AND tasks.seq = v.column2 "
                "AND tasks.state = 'RUNNING' AND tasks.worker_id = ? RETURNING tasks.job_id",
                (ms, *rows, worker_id),
            )
            pending_in, pending_params = self._in("job_id", ids)
            unfinished = conn.execute(
                f"SELECT DISTINCT job_id FROM tasks WHERE {pending_in} AND {_UNFINISHED}", pending_params
            )
            statuses = {job_id: JobStatus(status) for job_id, status in locked.fetchall()}
            ended = {row[0] for row in updated.fetchall()}
            pending = {row[0] for row in unfinished.fetchall()}
            done = [job_id for job_id in ids if job_id in ended and job_id not in pending]
            moves_in, moves_params = self._in("id", done)
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
                    lines.append((now, f"Task{f.seq} stopped: the job is {status.value if status else 'gone'}"))
                logs.append((f.job_id, lines))
            counted = None
            if done:
                counts_in, counts_params = self._in("job_id", done)
                counted = conn.execute(
                    f"SELECT job_id, state, count(*) FROM tasks WHERE {counts_in} GROUP BY job_id, state", counts_params
                )
            self._insert_logs(conn, logs)
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

    def finish_task(
        self,
        job_id: int,
        seq: int,
        worker_id: str,
        outcome: TaskOutcome,
        now: datetime,
        *,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> bool:
        """:meth:`finish_tasks` for one task: True when this worker now completes its job."""
        finished = FinishedTask(job_id=job_id, seq=seq, outcome=outcome, logs=logs)
        return job_id in self.finish_tasks(worker_id, [finished], now)

    def finish_jobs(self, worker_id: str, ends: Sequence[JobEnd], now: datetime) -> set[int]:
        """End jobs this worker holds, from RUNNING (or CANCELLING → CANCELLED); return those ended.

        A job that is not as expected (cancelled meanwhile, timed out) is left alone, its log lines unwritten.
        """
        if not ends:
            return set()
        rows = []
        for end in ends:
            expected = JobStatus.CANCELLING if end.status is JobStatus.CANCELLED else JobStatus.RUNNING
            _check_transition(expected, end.status)
            rows.append((end.job_id, end.status.value, expected.value, _dumps_or_none(end.result)))
        ms = to_ms(now)
        source, params = self._rows(("bigint", "text", "text", "text"), rows)
        with self._batch_tx() as conn:
            ended = {row[0] for row in conn.execute(
                "UPDATE jobs SET status = v.column2, run_end = ?, modified_at = ?, phase = NULL, worker_id = NULL, "
                f"result = v.column4 FROM {source} "
                "WHERE jobs.id = v.column1 AND jobs.status = v.column3 AND jobs.worker_id = ? RETURNING jobs.id",
                (ms, ms, *params, worker_id),
            ).fetchall()}
            if ended:
                where, ids = self._in("job_id", sorted(ended))
                conn.execute(
                    f"UPDATE tasks SET state = 'CANCELLED', finished_at = ? WHERE {where} AND state = 'QUEUED'",
                    (ms, *ids),
                )
                self._insert_logs(conn, [(e.job_id, e.logs) for e in ends if e.job_id in ended])
        return ended

    def finish_job(
        self,
        job_id: int,
        worker_id: str,
        status: JobStatus,
        now: datetime,
        result: dict[str, Any] | None = None,
        log: str | None = None,
        *,
        logs: Sequence[tuple[datetime, str]] = (),
    ) -> bool:
        """:meth:`finish_jobs` for one job, with an optional last log line."""
        end = JobEnd(job_id=job_id, status=status, result=result, logs=[*logs, *([(now, log)] if log else [])])
        return job_id in self.finish_jobs(worker_id, [end], now)
