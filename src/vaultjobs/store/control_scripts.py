"""Scripted jobs: the scripts set per processor, and where each scripted job stands in its script.

A scripted job never reaches a worker: it is created held (``worker_id`` :data:`SCRIPTED_WORKER`,
no timeouts), and the control plane moves it from step to step through the job transition table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.timeutil import maybe_from_ms, to_ms

#: The worker id that holds scripted jobs: no worker has it, so none claims or recovers them.
SCRIPTED_WORKER = "control-plane-script"


@dataclass(frozen=True, slots=True)
class Script:
    processor: str
    steps: list[dict[str, Any]]
    advance_on: str


@dataclass(frozen=True, slots=True)
class ScriptedJob:
    job_id: int
    steps: list[dict[str, Any]]
    advance_on: str
    next_step: int
    due_at: datetime | None


class ControlScripts:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    # -- scripts per processor ---------------------------------------------------------------

    def put(self, script: Script) -> None:
        self.db.write_one(
            "INSERT INTO control_scripts (processor, steps, advance_on) VALUES (?, ?, ?) ON CONFLICT (processor) "
            "DO UPDATE SET steps = excluded.steps, advance_on = excluded.advance_on",
            (script.processor, orjson.dumps(script.steps).decode(), script.advance_on),
        )

    def get(self, processor: str) -> Script | None:
        row = self.db.connection().execute(
            "SELECT processor, steps, advance_on FROM control_scripts WHERE processor = ?", (processor,)
        ).fetchone()
        return None if row is None else Script(str(row[0]), orjson.loads(row[1]), str(row[2]))

    def all(self) -> list[Script]:
        rows = self.db.connection().execute(
            "SELECT processor, steps, advance_on FROM control_scripts ORDER BY processor"
        ).fetchall()
        return [Script(str(r[0]), orjson.loads(r[1]), str(r[2])) for r in rows]

    def delete(self, processor: str | None = None) -> int:
        if processor is None:
            return int(self.db.write_one("DELETE FROM control_scripts").rowcount)
        return int(self.db.write_one("DELETE FROM control_scripts WHERE processor = ?", (processor,)).rowcount)

    # -- scripted jobs -----------------------------------------------------------------------

    def hold(self, conn: Connection, job_id: int, script: Script, due_at: datetime | None) -> None:
        """Make job ``job_id`` follow ``script``, in the transaction that creates it."""
        conn.execute(
            "UPDATE jobs SET worker_id = ?, timeout_ms = NULL, inactivity_timeout_ms = NULL WHERE id = ?",
            (SCRIPTED_WORKER, job_id),
        )
        conn.execute(
            "INSERT INTO control_scripted_jobs (job_id, steps, advance_on, next_step, due_at) VALUES (?, ?, ?, 0, ?)",
            (job_id, orjson.dumps(script.steps).decode(), script.advance_on,
             None if due_at is None else to_ms(due_at)),
        )

    def job(self, job_id: int) -> ScriptedJob | None:
        row = self.db.connection().execute(
            "SELECT job_id, steps, advance_on, next_step, due_at FROM control_scripted_jobs WHERE job_id = ?",
            (job_id,),
        ).fetchone()
        return None if row is None else _scripted(row)

    def due(self, now: datetime) -> list[ScriptedJob]:
        """Clock-driven scripted jobs whose next step is due at ``now``, soonest first."""
        rows = self.db.connection().execute(
            "SELECT job_id, steps, advance_on, next_step, due_at FROM control_scripted_jobs "
            "WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at, job_id",
            (to_ms(now),),
        ).fetchall()
        return [_scripted(r) for r in rows]

    def next_due(self) -> datetime | None:
        row = self.db.connection().execute("SELECT min(due_at) FROM control_scripted_jobs").fetchone()
        return maybe_from_ms(None if row is None else row[0])

    def step_done(self, conn: Connection, job_id: int, step: int, next_step: int, due_at: datetime | None) -> bool:
        """Record that step ``step`` was taken (only when nobody took it first); whether this call did."""
        done = conn.execute(
            "UPDATE control_scripted_jobs SET next_step = ?, due_at = ? WHERE job_id = ? AND next_step = ?",
            (next_step, None if due_at is None else to_ms(due_at), job_id, step),
        )
        return int(done.rowcount) == 1

    @staticmethod
    def set_progress(conn: Connection, job_id: int, progress: dict[str, int], ms: int) -> None:
        """Give a scripted job finished tasks in these states and numbers (its ``progress`` in Retrieve
        Job Status), in place of those it had."""
        conn.execute("DELETE FROM tasks WHERE job_id = ?", (job_id,))
        states = [state for state, count in progress.items() for _ in range(count)]
        conn.executemany(
            "INSERT INTO tasks (job_id, seq, state, payload, attempts, started_at, finished_at) "
            "VALUES (?, ?, ?, '[]', 1, ?, ?)",
            [(job_id, seq, state, ms, ms) for seq, state in enumerate(states, 1)],
        )

    def release_cancelled(self) -> int:
        """Let go of the scripted jobs a user cancelled while they ran (CANCELLING), so that the sweeper
        ends them CANCELLED as it ends any job nobody works on any more."""
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM control_scripted_jobs WHERE job_id IN "
                "(SELECT id FROM jobs WHERE status = 'CANCELLING' AND worker_id = ?)", (SCRIPTED_WORKER,))
            return int(conn.execute("UPDATE jobs SET worker_id = NULL WHERE status = 'CANCELLING' AND worker_id = ?",
                                    (SCRIPTED_WORKER,)).rowcount)

    def forget(self, conn: Connection, job_id: int) -> None:
        conn.execute("DELETE FROM control_scripted_jobs WHERE job_id = ?", (job_id,))

    def clear(self) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM control_scripted_jobs")
            conn.execute("DELETE FROM control_scripts")


def _scripted(row: Any) -> ScriptedJob:
    return ScriptedJob(int(row[0]), orjson.loads(row[1]), str(row[2]), int(row[3]), maybe_from_ms(row[4]))
