"""The virtual clock's one row: where the control plane's clock stands, shared by every replica.

The clock either stands still at ``frozen_at`` or runs ``offset`` ahead of the real clock. Every
change bumps ``version``, so that a reader can tell a change from the same state read twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultjobs.store.dialect import Dialect
from vaultjobs.timeutil import from_ms, to_ms


@dataclass(frozen=True, slots=True)
class ClockState:
    frozen_at: datetime | None
    offset: timedelta
    version: int

    def now(self, real: datetime) -> datetime:
        """The virtual now, given the real one."""
        return self.frozen_at if self.frozen_at is not None else real + self.offset


@dataclass(frozen=True, slots=True)
class DueRule:
    """One time rule, as the jobs it concerns and the instant (epoch ms SQL) each falls due."""

    kind: str
    where: str
    due: str


def due_rules(grace_ms: int, job_timeout_ms: int | None, retention_ms: int | None,
              inactivity_timeout_ms: int | None = None) -> list[DueRule]:
    """The engine's time rules: what falls due when (the scheduler's and the sweeper's conditions,
    each one millisecond past its bound where the rule says *past*)."""
    from vaultjobs.store.control_scripts import SCRIPTED_WORKER
    from vaultjobs.store.history import FINISHED, FINISHED_AT

    unscripted = f"(worker_id IS NULL OR worker_id <> '{SCRIPTED_WORKER}')"
    timeout = ("timeout_ms IS NOT NULL", "run_start + timeout_ms + 1") if job_timeout_ms is None else (
        unscripted, f"run_start + {int(job_timeout_ms)} + 1")
    rules = [
        DueRule("schedule", "status = 'SCHEDULED'", "scheduled_for"),
        DueRule("missed_schedule", "status = 'QUEUEING'", f"COALESCE(scheduled_for, created_at) + {grace_ms} + 1"),
        DueRule("timeout", f"status = 'RUNNING' AND {timeout[0]}", timeout[1]),
        DueRule("inactivity", "status = 'RUNNING' AND inactivity_timeout_ms IS NOT NULL",
                "progress_at + inactivity_timeout_ms + 1") if inactivity_timeout_ms is None else
        DueRule("inactivity", "status = 'RUNNING'", f"progress_at + {int(inactivity_timeout_ms)} + 1"),
    ]
    if retention_ms is not None:
        rules.append(DueRule("retention", FINISHED, f"{FINISHED_AT} + {int(retention_ms)} + 1"))
    return rules



class ControlClock:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def state(self) -> ClockState:
        row = self.db.connection().execute(
            "SELECT frozen_at, offset_ms, version FROM control_clock WHERE id = 1"
        ).fetchone()
        if row is None:  # a store migrated before the row existed never lacks it; be safe anyway
            return ClockState(None, timedelta(0), 0)
        return ClockState(None if row[0] is None else from_ms(int(row[0])), timedelta(milliseconds=int(row[1])),
                          int(row[2]))

    def set(self, frozen_at: datetime | None, offset: timedelta) -> ClockState:
        """Stand the clock at ``frozen_at`` (None: let it run ``offset`` ahead of the real clock)."""
        offset_ms = math.ceil(offset.total_seconds() * 1000)  # up: a resumed clock never reads earlier
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE control_clock SET frozen_at = ?, offset_ms = ?, version = version + 1 WHERE id = 1 "
                "RETURNING version",
                (None if frozen_at is None else to_ms(frozen_at), offset_ms),
            ).fetchone()
        return ClockState(frozen_at, timedelta(milliseconds=offset_ms), int(row[0]))


    def next_after(self, rules: list[DueRule], after: datetime) -> datetime | None:
        conn = self.db.connection()
        found = []
        for rule in rules:
            row = conn.execute(
                f"SELECT min({rule.due}) FROM jobs WHERE {rule.where} AND {rule.due} > ?", (to_ms(after),)
            ).fetchone()
            if row is not None and row[0] is not None:
                found.append(int(row[0]))
        return from_ms(min(found)) if found else None

    def due_by(self, rules: list[DueRule], until: datetime, limit: int = 1000) -> list[tuple[str, int, datetime]]:
        """(kind, job id, due instant) of the jobs whose rule is due at ``until``."""
        conn = self.db.connection()
        found: list[tuple[str, int, datetime]] = []
        for rule in rules:
            rows = conn.execute(
                f"SELECT id, {rule.due} FROM jobs WHERE {rule.where} AND {rule.due} <= ? ORDER BY 2, 1 LIMIT ?",
                (to_ms(until), limit),
            ).fetchall()
            found.extend((rule.kind, int(r[0]), from_ms(int(r[1]))) for r in rows)
        return found
