"""What nodes share: wake-ups, leases, and the workers with what a dead one leaves behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from vaultjobs.status import JobStatus
from vaultjobs.store.dialect import Dialect
from vaultjobs.store.job_status import set_status
from vaultjobs.store.jobs import settle_if_idle, status_in
from vaultjobs.timeutil import to_ms

#: How long a recovered worker's row is kept (a day): longer than any pause a process may wake from.
RECOVERED_KEPT_MS = 86_400_000


@dataclass(kw_only=True)
class Recovery:
    """What resolving one dead worker did."""

    worker_id: str
    requeued_tasks: int = 0
    requeued_jobs: list[int] = field(default_factory=list)
    ended_jobs: list[int] = field(default_factory=list)


class Nodes:
    """Wake-ups, leases and workers; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db

    def notify_work(self, workers_only: bool = False) -> None:
        """Tell other nodes that work was enqueued (PostgreSQL: NOTIFY; SQLite: nothing to do);
        ``workers_only``: a job was queued, which concerns their workers and not their schedulers."""
        self.db.notify_work(workers_only)

    def listen(self, callback: Callable[[], None], on_work: Callable[[], None] | None = None) -> None:
        """Call ``callback`` when another node enqueues work (SQLite: other processes are polled),
        ``on_work`` instead (when given) for what is only for workers."""
        self.db.listen(callback, on_work)

    def acquire_lease(self, name: str, holder: str, now: datetime, ttl: float,
                      dead_before: datetime | None = None) -> bool:
        """Take or renew the lease ``name`` for ``ttl`` seconds; False while another holder's is alive.

        One conditional upsert: of any number of nodes asking at once, exactly one holds the lease,
        and another takes over once the holder stops renewing it — or at once when the holder is a
        worker that stopped or, with ``dead_before``, has not heartbeat since then (a node killed
        and restarted leads again without waiting for its old lease to run out).
        """
        ms = to_ms(now)
        dead = "" if dead_before is None else " OR workers.heartbeat_at < ?"
        cur = self.db.write_one(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
            "SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.holder = excluded.holder OR leases.expires_at < ? OR leases.holder IN "
            f"(SELECT id FROM workers WHERE workers.stopped_at IS NOT NULL{dead})",
            (name, holder, ms + int(ttl * 1000), ms, *(() if dead_before is None else (to_ms(dead_before),))),
        )
        return cur.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        self.db.write_one("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    # -- workers ---------------------------------------------------------------------------

    def register_worker(self, worker_id: str, hostname: str, pid: int, now: datetime) -> None:
        self.db.write_one(
            "INSERT INTO workers (id, hostname, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)",
            (worker_id, hostname, pid, to_ms(now), to_ms(now)),
        )

    def heartbeat_worker(self, worker_id: str, now: datetime) -> bool:
        """Record that the worker is alive; False when it is not registered as alive any more (it
        stopped, or a sweeper declared it dead and recovered what it held: it may claim nothing more
        under this id)."""
        cur = self.db.write_one(
            "UPDATE workers SET heartbeat_at = ? WHERE id = ? AND stopped_at IS NULL", (to_ms(now), worker_id)
        )
        return cur.rowcount == 1

    def stop_worker(self, worker_id: str, now: datetime) -> None:
        self.db.write_one("UPDATE workers SET stopped_at = ? WHERE id = ?", (to_ms(now), worker_id))

    def dead_workers(self, now: datetime, timeout: float) -> list[str]:
        rows = self.db.connection().execute(
            "SELECT id FROM workers WHERE recovered_at IS NULL AND (stopped_at IS NOT NULL OR heartbeat_at < ?)",
            (to_ms(now) - int(timeout * 1000),),
        ).fetchall()
        return [r[0] for r in rows]

    def recover_worker(self, worker_id: str, now: datetime, *, stale_before: datetime | None = None) -> Recovery:
        """Resolve everything a dead worker held, and mark it recovered.

        Idempotent jobs carry on: their running tasks go back on the queue and a job it was
        initialising or completing waits for another worker. Every other job it touched ends
        COMPLETED_DUE_TO_INACTIVITY with a log line saying why.

        With ``stale_before``, a worker that has heartbeat since then (it was slow, not dead) is left
        alone. The worker's row is locked first and kept, marked recovered, for
        :data:`RECOVERED_KEPT_MS`: a claim holds the row too (:mod:`vaultjobs.store.work`), so a
        process still alive under that id claims nothing after the recovery, nor during it unseen.
        """
        ms = to_ms(now)
        report = Recovery(worker_id=worker_id)
        with self.db.write() as conn:
            row = conn.execute(
                f"SELECT recovered_at, stopped_at, heartbeat_at FROM workers WHERE id = ?{self.db.row_lock}",
                (worker_id,),
            ).fetchone()
            if row is not None:
                alive = row[1] is None and stale_before is not None and int(row[2]) >= to_ms(stale_before)
                if row[0] is not None or alive:
                    return report
                conn.execute("UPDATE workers SET recovered_at = ?, stopped_at = COALESCE(stopped_at, ?) WHERE id = ?",
                             (ms, ms, worker_id))
            conn.execute("DELETE FROM workers WHERE recovered_at < ?", (ms - RECOVERED_KEPT_MS,))
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
                if status_in(conn, job_id) is JobStatus.CANCELLING:
                    conn.execute(
                        "UPDATE tasks SET state = 'CANCELLED', finished_at = ? "
                        "WHERE job_id = ? AND state = 'RUNNING' AND worker_id = ?",
                        (ms, job_id, worker_id),
                    )
                    conn.execute("UPDATE jobs SET worker_id = NULL WHERE id = ? AND worker_id = ?", (job_id, worker_id))
                    if settle_if_idle(self.db, conn, job_id, ms, agent="sweeper"):
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
                    # Its queued tasks are cancelled with the job's end.
                    if set_status(
                        self.db, conn, job_id, JobStatus.RUNNING, JobStatus.COMPLETED_DUE_TO_INACTIVITY, ms,
                        agent="sweeper", log=f"{why}; the processor is not idempotent, so the job ends "
                        "COMPLETED_DUE_TO_INACTIVITY rather than run its work twice",
                    ):
                        report.ended_jobs.append(job_id)
        return report

