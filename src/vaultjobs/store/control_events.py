"""The control plane's event log: what happened to the test server, readable from every replica.

Publishers are the control plane's parts (clock moves, fired faults, forced or scripted
transitions); readers follow the log by id (``GET /_vaultjobs/events``). The log keeps the newest
:data:`KEPT_EVENTS` entries: a reader that falls further behind misses the oldest ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from vaultjobs.store.dialect import Dialect
from vaultjobs.timeutil import from_ms, to_ms

KEPT_EVENTS = 10_000


@dataclass(frozen=True)
class ControlEvent:
    id: int
    at: datetime
    kind: str
    job_id: int | None
    data: dict[str, Any]


class ControlEvents:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def publish(self, kind: str, at: datetime, data: dict[str, Any], *, job_id: int | None = None) -> int:
        """Append one event; its id. Events older than the newest :data:`KEPT_EVENTS` are dropped."""
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO control_events (at, kind, job_id, data) VALUES (?, ?, ?, ?) RETURNING id",
                (to_ms(at), kind, job_id, orjson.dumps(data).decode()),
            ).fetchone()
            event_id = int(row[0])
            if event_id % 100 == 0:
                conn.execute("DELETE FROM control_events WHERE id <= ?", (event_id - KEPT_EVENTS,))
        return event_id

    def since(self, after_id: int, limit: int = 500) -> list[ControlEvent]:
        """The events after ``after_id``, oldest first, at most ``limit``."""
        rows = self.db.connection().execute(
            "SELECT id, at, kind, job_id, data FROM control_events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [ControlEvent(int(r[0]), from_ms(int(r[1])), str(r[2]), None if r[3] is None else int(r[3]),
                             orjson.loads(r[4])) for r in rows]

    def latest_id(self) -> int:
        """The id of the newest event (0 when there is none): where a new reader starts."""
        row = self.db.connection().execute("SELECT max(id) FROM control_events").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def job_statuses(self, after_id: int, watched: Sequence[int]) -> list[tuple[int, str, datetime]]:
        """``(job id, status, modified at)`` of the jobs created after ``after_id`` and of the ``watched``
        ones: how the events stream follows job transitions that nobody published."""
        watching, params = self.db.any_of("id", watched)
        rows = self.db.connection().execute(
            f"SELECT id, status, modified_at FROM jobs WHERE id > ? OR {watching} ORDER BY id",
            (after_id, *params),
        ).fetchall()
        return [(int(r[0]), str(r[1]), from_ms(int(r[2]))) for r in rows]

    def clear(self) -> None:
        """Forget every event (a reset); ids keep growing, so readers never see an id twice."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM control_events")
