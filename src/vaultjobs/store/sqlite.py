"""The store on an embedded SQLite file (WAL), one connection per thread.

Writes that must be atomic together run in ``BEGIN IMMEDIATE`` transactions, queued on a lock in
this process; the SQL itself is shared with PostgreSQL (:mod:`vaultjobs.store.sql`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

from vaultjobs.store.group_sync import GroupSync
from vaultjobs.store.objects import ObjectQueries
from vaultjobs.store.sql import SqlStore
from vaultjobs.store.sql_work import SqlWorkQueries
from vaultjobs.store.sqlite_content import SqliteContentQueries
from vaultjobs.store.sqlite_history import SqliteHistoryQueries


class SqliteStore(ObjectQueries, SqliteHistoryQueries, SqliteContentQueries, SqlWorkQueries, SqlStore):
    """Store on one SQLite database file."""

    integrity_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.IntegrityError,)
    jobs_by_status: ClassVar[str] = " INDEXED BY jobs_status"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._group_sync = GroupSync(path)
        self._write_lock = threading.Lock()

    # -- connections and transactions ------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` waits until the commit is on disk (group commit).

        Writers of this process queue on a lock rather than in SQLite's busy handler, which
        sleeps up to 100 ms at a time when it finds the database locked.
        """
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        if durable:
            self._group_sync.sync()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One autocommitted writing statement, queued like transactions."""
        conn = self._conn()
        with self._write_lock:
            return conn.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, in order; return the versions applied now."""
        conn = self._conn()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)"
        )
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        folder = resources.files("vaultjobs.store.migrations.sqlite")
        scripts = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
        done: list[int] = []
        for script in scripts:
            version = int(script.name.split("_", 1)[0])
            if version in applied:
                continue
            sql = script.read_text(encoding="utf-8")
            # The version row goes first: a process that started at the same moment and applied
            # this script while we waited for the write lock makes it fail at once, and we skip.
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\nINSERT INTO schema_migrations VALUES ({version}, "
                                   f"CAST(strftime('%s','now') AS INTEGER) * 1000);\n{sql}\n;COMMIT;")
            except sqlite3.IntegrityError:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone():
                    continue
                raise
            done.append(version)
        return done

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run raw SQL (benchmarks and tests only)."""
        return list(self._conn().execute(sql, params))
