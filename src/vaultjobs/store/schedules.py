"""Job definitions and the scheduled jobs they lead to."""

from __future__ import annotations

from datetime import datetime

from vaultjobs.models import Definition, Job
from vaultjobs.status import JobStatus
from vaultjobs.store.dialect import Dialect
from vaultjobs.store.job_status import set_status
from vaultjobs.store.rows import DEFINITION_COLUMNS, JOB_COLUMNS, definition_from_row, dumps, job_from_row, ms_or_none
from vaultjobs.timeutil import maybe_from_ms, to_ms


class Schedules:
    """Definitions and scheduled jobs; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db

    def due_scheduled_jobs(self, now: datetime, limit: int = 100) -> list[Job]:
        rows = self.db.connection().execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'SCHEDULED' AND scheduled_for <= ? "
            "ORDER BY scheduled_for LIMIT ?",
            (to_ms(now), limit),
        ).fetchall()
        return [job_from_row(r) for r in rows]

    def next_scheduled_time(self) -> datetime | None:
        row = self.db.connection().execute(
            "SELECT min(scheduled_for) FROM jobs WHERE status = 'SCHEDULED'"
        ).fetchone()
        return maybe_from_ms(row[0])

    # -- job definitions -------------------------------------------------------------------

    def upsert_definition(self, definition: Definition, now: datetime, *, keep_enabled: bool) -> None:
        """Create or update a definition; ``keep_enabled`` keeps an existing one's enabled flag."""
        d = definition
        self.db.write_one(
            f"INSERT INTO job_definitions ({DEFINITION_COLUMNS}, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET processor = excluded.processor, title = excluded.title, "
            "parameters = excluded.parameters, owner_id = excluded.owner_id, cron = excluded.cron, "
            "timezone = excluded.timezone, interval_ms = excluded.interval_ms, timeout_ms = excluded.timeout_ms, "
            "inactivity_timeout_ms = excluded.inactivity_timeout_ms, single_instance = excluded.single_instance, "
            "enabled = CASE WHEN ? THEN job_definitions.enabled ELSE excluded.enabled END, "
            "updated_at = excluded.updated_at",
            (d.name, d.processor, d.title, dumps(d.parameters), d.owner_id, d.cron, d.timezone,
             ms_or_none(d.interval), ms_or_none(d.timeout), ms_or_none(d.inactivity_timeout),
             int(d.single_instance), int(d.enabled), to_ms(now), bool(keep_enabled)),
        )

    def list_definitions(self) -> list[Definition]:
        rows = self.db.connection().execute(
            f"SELECT {DEFINITION_COLUMNS} FROM job_definitions ORDER BY name"
        ).fetchall()
        return [definition_from_row(r) for r in rows]

    def set_definition_enabled(self, name: str, enabled: bool, now: datetime) -> bool:
        """Enable or disable a definition; disabling cancels its SCHEDULED instance."""
        with self.db.write() as conn:
            cur = conn.execute("UPDATE job_definitions SET enabled = ? WHERE name = ?", (int(enabled), name))
            if cur.rowcount != 1:
                return False
            if not enabled:
                ms = to_ms(now)
                for (job_id,) in conn.execute(
                    "SELECT id FROM jobs WHERE definition = ? AND status = 'SCHEDULED'", (name,)
                ).fetchall():
                    set_status(self.db, conn, job_id, JobStatus.SCHEDULED, JobStatus.CANCELLED, ms,
                               agent="definitions", log=f"definition [{name}] was disabled")
        return True

    def definition_has_instance(self, name: str, statuses: frozenset[JobStatus]) -> bool:
        marks = ",".join("?" * len(statuses))
        row = self.db.connection().execute(
            f"SELECT 1 FROM jobs WHERE definition = ? AND status IN ({marks}) LIMIT 1",
            (name, *(s.value for s in statuses)),
        ).fetchone()
        return row is not None

    def next_instance_time(self, name: str) -> datetime | None:
        row = self.db.connection().execute(
            "SELECT scheduled_for FROM jobs WHERE definition = ? AND status = 'SCHEDULED'", (name,)
        ).fetchone()
        return None if row is None else maybe_from_ms(row[0])

    def last_instance_time(self, name: str) -> datetime | None:
        row = self.db.connection().execute(
            "SELECT max(scheduled_for) FROM jobs WHERE definition = ?", (name,)
        ).fetchone()
        return maybe_from_ms(row[0])

