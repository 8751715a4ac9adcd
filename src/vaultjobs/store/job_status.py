"""The one writer of job status.

Every change of a job's status is a conditional update (``… WHERE status = <expected>``) checked
against the transition table of :mod:`vaultjobs.status`, so that two nodes can never both move the
same job: :func:`move_jobs` for any number of jobs, :func:`set_status` for one, and the claim's
QUEUED → RUNNING assignments (:data:`START_IF_QUEUED`), which ride in the claiming statement itself.
A job that will not run its queued tasks any more (it ended, or is being cancelled) cancels them in
the same transaction (:func:`cancel_queued_tasks`).

Each writer also says who or what moved the job (``moved_by``: ``user:<id>``, ``worker:<id>``, or the
component, ``scheduler``, ``sweeper``, ``definitions``); the database's triggers (migrations sqlite
0011, postgres 0009) record every change in ``job_transitions`` in the same transaction
(:meth:`vaultjobs.store.jobs.Jobs.transitions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vaultjobs.status import JobStatus, can_transition
from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.errors import StoreError
from vaultjobs.store.rows import dumps_or_none


def check_transition(current: JobStatus, new: JobStatus) -> None:
    if not can_transition(current, new):
        raise StoreError(f"a job cannot move from {current.value} to {new.value}")


@dataclass(frozen=True)
class Move:
    """One job to move from ``expected`` to ``new``; ``result`` is written when ``sets_result``."""

    job_id: int
    expected: JobStatus
    new: JobStatus
    result: dict[str, Any] | None = None
    sets_result: bool = False


def actor(*, by: int | None = None, held_by: str | None = None, agent: str | None = None) -> str | None:
    """Who or what makes a change: ``agent`` when named, else the user ``by``, else the worker ``held_by``."""
    if agent is not None:
        return agent
    if by is not None:
        return f"user:{by}"
    return None if held_by is None else f"worker:{held_by}"


def move_jobs(
    db: Dialect, conn: Connection, moves: Sequence[Move], ms: int, *, by: int | None = None,
    held_by: str | None = None, agent: str | None = None,
) -> set[int]:
    """Move each job that is still in its expected status (and, with ``held_by``, held by that worker);
    return the ids moved. Inside a transaction. The change is recorded as made by :func:`actor`.

    Ending a job releases it (no phase, no worker) and, when it had started, sets its end of run.
    """
    if not moves:
        return set()
    rows = []
    for move in moves:
        check_transition(move.expected, move.new)
        release = move.new.is_terminal
        ends_run = release and move.expected in (JobStatus.RUNNING, JobStatus.CANCELLING)
        rows.append((move.job_id, move.new.value, move.expected.value, int(release), int(ends_run),
                     int(move.sets_result), dumps_or_none(move.result)))
    source, params = db.rows(("bigint", "text", "text", "integer", "integer", "integer", "text"), rows)
    held, holder = (" AND jobs.worker_id = ?", (held_by,)) if held_by is not None else ("", ())
    moved = {row[0] for row in conn.execute(
        "UPDATE jobs SET status = v.column2, modified_at = ?, modified_by = COALESCE(?, modified_by), moved_by = ?, "
        "run_end = CASE WHEN v.column5 = 1 THEN ? ELSE run_end END, "
        "phase = CASE WHEN v.column4 = 1 THEN NULL ELSE phase END, "
        "worker_id = CASE WHEN v.column4 = 1 THEN NULL ELSE worker_id END, "
        "result = CASE WHEN v.column6 = 1 THEN v.column7 ELSE result END "
        f"FROM {source} WHERE jobs.id = v.column1 AND jobs.status = v.column3{held} RETURNING jobs.id",
        (ms, by, actor(by=by, held_by=held_by, agent=agent), ms, *params, *holder),
    ).fetchall()}
    stopping = [m.job_id for m in moves if m.job_id in moved and (m.new.is_terminal or m.new is JobStatus.CANCELLING)]
    cancel_queued_tasks(db, conn, stopping, ms)
    return moved


def set_status(
    db: Dialect, conn: Connection, job_id: int, expected: JobStatus, new: JobStatus, ms: int, *,
    log: str | None = None, by: int | None = None, agent: str | None = None,
) -> bool:
    """Move one job from ``expected`` to ``new`` (:func:`move_jobs`), with a log line; False when it
    was not in ``expected`` any more. Inside a transaction."""
    if not move_jobs(db, conn, [Move(job_id, expected, new)], ms, by=by, agent=agent):
        return False
    if log:
        conn.execute("INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, ms, log))
    return True


def force_status(
    db: Dialect, conn: Connection, job_id: int, new: JobStatus, ms: int, *, agent: str, log: str | None = None
) -> None:
    """Set a job's status whatever it is, outside the transition table: only for the control plane's
    forced moves (a test that needs a state the lifecycle cannot reach). Ending releases the job as
    :func:`move_jobs` does; the change is recorded as made by ``agent``. Inside a transaction."""
    release = int(new.is_terminal)
    conn.execute(
        "UPDATE jobs SET status = ?, modified_at = ?, moved_by = ?, "
        "run_end = CASE WHEN ? = 1 AND run_start IS NOT NULL THEN ? ELSE run_end END, "
        "phase = CASE WHEN ? = 1 THEN NULL ELSE phase END, worker_id = CASE WHEN ? = 1 THEN NULL ELSE worker_id END "
        "WHERE id = ?",
        (new.value, ms, agent, release, ms, release, release, job_id),
    )
    if release or new is JobStatus.CANCELLING:
        cancel_queued_tasks(db, conn, [job_id], ms)
    if log:
        conn.execute("INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)", (job_id, ms, log))


def cancel_queued_tasks(db: Dialect, conn: Connection, job_ids: Iterable[int], ms: int) -> None:
    """The queued tasks of jobs that will not run them any more end CANCELLED."""
    ids = sorted(set(job_ids))
    if ids:
        where, params = db.any_of("job_id", ids)
        conn.execute(
            f"UPDATE tasks SET state = 'CANCELLED', finished_at = ? WHERE {where} AND state = 'QUEUED'",
            (ms, *params),
        )


check_transition(JobStatus.QUEUED, JobStatus.RUNNING)
#: The SET clause of a claim: a QUEUED job starts (RUNNING, phase init, moved by the fifth parameter),
#: its run starting and its modification at the claim's stamp (the first four parameters, all that one
#: value) or when it was queued, whichever is later: a worker stamps a claim just before it makes it,
#: and a job queued in between must not seem to run before it was queued. A RUNNING job between phases
#: keeps its status.
START_IF_QUEUED = (
    "status = CASE WHEN status = 'QUEUED' THEN 'RUNNING' ELSE status END, "
    "phase = CASE WHEN status = 'QUEUED' THEN 'init' ELSE phase END, "
    "run_start = CASE WHEN status <> 'QUEUED' THEN run_start WHEN modified_at > ? THEN modified_at ELSE ? END, "
    "modified_at = CASE WHEN status <> 'QUEUED' THEN modified_at WHEN modified_at > ? THEN modified_at ELSE ? END, "
    "moved_by = CASE WHEN status = 'QUEUED' THEN ? ELSE moved_by END"
)
