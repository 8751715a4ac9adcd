"""What the Job Status page reads besides listings: counts per status, workers, a log's tail.

Every query is bounded: unfinished jobs are a backlog (the monitor index), finished jobs are read
over a date range, workers are few, and a log tail is a limit on the newest lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultjobs.models import LogLine
from vaultjobs.status import JobStatus
from vaultjobs.store.dialect import Dialect
from vaultjobs.store.history import FINISHED, FINISHED_AT, UNFINISHED
from vaultjobs.timeutil import from_ms, maybe_from_ms, to_ms


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkerRow:
    """A worker process as the workers view shows it."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    running_tasks: int
    held_jobs: int


class Overview:
    """Read-only queries of the Job Status page; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db

    @staticmethod
    def _owner(created_by: int | None) -> tuple[str, list[Any]]:
        return ("", []) if created_by is None else (" AND created_by = ?", [created_by])

    def unfinished_counts(self, created_by: int | None) -> dict[JobStatus, int]:
        """Unfinished jobs per status (``created_by`` None: everyone's)."""
        owner, params = self._owner(created_by)
        rows = self.db.connection().execute(
            f"SELECT status, count(*) FROM jobs{self.db.hint('jobs_monitor')} WHERE {UNFINISHED}{owner} "
            "GROUP BY status", params,
        ).fetchall()
        return {JobStatus(status): int(n) for status, n in rows}

    def finished_per_hour(self, created_by: int | None, since: datetime) -> dict[int, dict[JobStatus, int]]:
        """Jobs finished since ``since``, per hour after it (0: the first hour) and status, in one read
        of the history index over that range."""
        owner, params = self._owner(created_by)
        index = "jobs_history" if created_by is None else "jobs_history_user"
        start = to_ms(since)
        hours: dict[int, dict[JobStatus, int]] = {}
        for hour, status, n in self.db.connection().execute(
            f"SELECT ({FINISHED_AT} - ?) / 3600000, status, count(*) FROM jobs{self.db.hint(index)} "
            f"WHERE {FINISHED}{owner} AND {FINISHED_AT} >= ? GROUP BY 1, 2", [start, *params, start],
        ).fetchall():
            hours.setdefault(int(hour), {})[JobStatus(status)] = int(n)
        return hours

    def workers(self) -> list[WorkerRow]:
        rows = self.db.connection().execute(
            "SELECT w.id, w.hostname, w.pid, w.started_at, w.heartbeat_at, w.stopped_at, "
            "(SELECT count(*) FROM tasks t WHERE t.state = 'RUNNING' AND t.worker_id = w.id), "
            "(SELECT count(*) FROM jobs j WHERE j.worker_id = w.id) "
            "FROM workers w WHERE w.recovered_at IS NULL ORDER BY w.started_at, w.id"
        ).fetchall()
        return [
            WorkerRow(id=r[0], hostname=r[1], pid=int(r[2]), started_at=from_ms(r[3]), heartbeat_at=from_ms(r[4]),
                      stopped_at=maybe_from_ms(r[5]), running_tasks=int(r[6]), held_jobs=int(r[7]))
            for r in rows
        ]

    def log_tail(self, job_id: int, lines: int) -> tuple[list[LogLine], int]:
        """The newest ``lines`` log lines of a job, oldest first, and how many lines it has."""
        conn = self.db.connection()
        total = int(conn.execute("SELECT count(*) FROM job_log WHERE job_id = ?", (job_id,)).fetchone()[0])
        rows = conn.execute(
            "SELECT at, message FROM job_log WHERE job_id = ? ORDER BY id DESC LIMIT ?", (job_id, lines)
        ).fetchall()
        return [LogLine(at=from_ms(at), message=message) for at, message in reversed(rows)], total
