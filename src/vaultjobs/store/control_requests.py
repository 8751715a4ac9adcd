"""The control plane's request journal: the newest API requests every replica answered, with outcome.

A bounded ring of :data:`KEPT_REQUESTS` rows: each writer drops what fell out of it now and then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from vaultjobs.store.dialect import Dialect
from vaultjobs.timeutil import from_ms, to_ms

KEPT_REQUESTS = 2_000


@dataclass(frozen=True)
class JournalEntry:
    at: datetime
    method: str
    path: str
    route: str | None
    operation: str | None
    status: int | None
    error_type: str | None
    user: str | None
    duration_ms: float
    headers: dict[str, str]
    #: The fault rule that answered the call instead of the API.
    fault: int | None = None


@dataclass(frozen=True)
class JournalFilter:
    """Which entries :meth:`ControlRequests.list` answers; None matches anything."""

    route: str | None = None
    operation: str | None = None
    method: str | None = None
    status: int | None = None
    error_type: str | None = None
    since: datetime | None = None


class ControlRequests:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def record(self, entry: JournalEntry) -> None:
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO control_requests (at, method, path, route, operation, status, error_type, username, "
                "duration_ms, headers, fault) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (to_ms(entry.at), entry.method, entry.path, entry.route, entry.operation, entry.status,
                 entry.error_type, entry.user, entry.duration_ms, orjson.dumps(entry.headers).decode(), entry.fault),
            ).fetchone()
            entry_id = int(row[0])
            if entry_id % 100 == 0:
                conn.execute("DELETE FROM control_requests WHERE id <= ?", (entry_id - KEPT_REQUESTS,))

    def list(self, where: JournalFilter, limit: int = KEPT_REQUESTS) -> list[JournalEntry]:
        """The entries ``where`` matches, oldest first, at most ``limit`` (the newest of them)."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("route", where.route), ("operation", where.operation), ("method", where.method),
                              ("status", where.status), ("error_type", where.error_type)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.since is not None:
            clauses.append("at >= ?")
            params.append(to_ms(where.since))
        condition = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = self.db.connection().execute(
            "SELECT at, method, path, route, operation, status, error_type, username, duration_ms, headers, fault "
            f"FROM control_requests {condition}ORDER BY id DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            JournalEntry(from_ms(int(r[0])), str(r[1]), str(r[2]), r[3], r[4], None if r[5] is None else int(r[5]),
                         r[6], r[7], float(r[8]), orjson.loads(r[9]), None if r[10] is None else int(r[10]))
            for r in reversed(rows)
        ]

    def clear(self) -> None:
        self.db.write_one("DELETE FROM control_requests")
