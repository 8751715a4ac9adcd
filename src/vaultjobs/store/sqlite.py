"""The store on an embedded SQLite file (WAL), one connection per thread.

Writes that must be atomic together run in ``BEGIN IMMEDIATE`` transactions, queued on a lock in
this process; the SQL itself is shared with PostgreSQL (the query modules of :mod:`vaultjobs.store`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from vaultjobs.store.composition import SqlStore
from vaultjobs.store.dialect import BufferedResult, Connection, marks
from vaultjobs.store.group_sync import GroupSync
from vaultjobs.store.history import CountedHistory
from vaultjobs.store.sqlite_files import connect_wal
from vaultjobs.store.status_windows import SideFileStatusWindows


class SqliteDialect:
    """SQLite: a connection per thread, writers queued on a lock, group commit for durable writes."""

    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
    skip_locked = ""
    row_lock = ""
    key_share = ""
    by_id = " NOT INDEXED"
    modifying_cte = False
    lateral = False
    inline = True

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._group_sync = GroupSync(path)
        self._write_lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_wal(self.path, "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction; ``durable`` waits until the commit is on disk (group commit).

        Writers of this process queue on a lock rather than in SQLite's busy handler, which
        sleeps up to 100 ms at a time when it finds the database locked.
        """
        conn = self.connection()
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

    def write_one(self, sql: str, params: Sequence[Any] = ()) -> BufferedResult:
        """One autocommitted writing statement, queued like transactions.

        Its rows are read inside the lock: a statement that returns rows (``RETURNING``) holds its
        write transaction open until the last is read, and a writer let in meanwhile would find the
        database locked and sleep in SQLite's busy handler (a millisecond at least)."""
        conn = self.connection()
        with self._write_lock:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
            return BufferedResult(cursor.rowcount, rows)

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction (WAL: it blocks no writer)."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def batch(self, durable: bool = False) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return self.write(durable)

    def claim(self, sql: str, params: Sequence[Any]) -> list[Any]:
        return list(self.write_one(sql, params).fetchall())

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        return f"{column} IN ({marks(len(values))})", tuple(values)

    def rows(self, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, tuple[Any, ...]]:
        one = "(" + marks(len(types)) + ")"
        return f"(VALUES {', '.join([one] * len(rows))}) AS v", tuple(value for row in rows for value in row)

    def insert(self, conn: Any, into: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.executemany(f"INSERT INTO {into} VALUES ({marks(len(types))})", rows)

    def hint(self, index: str) -> str:
        # After ``FROM jobs``: SQLite's planner, once ANALYZE has seen a store of finished jobs, would
        # otherwise scan the whole table inside the claims' write transaction, and pick a full scan
        # over the partial indexes the histories and monitors are built on.
        return f" INDEXED BY {index}"

    def notify_work(self, workers_only: bool = False) -> None:
        """Nothing to do: other processes on the same file poll."""

    def notify_within(self, conn: Connection, workers_only: bool = False) -> None:
        """Nothing to do: other processes on the same file poll."""

    def listen(self, callback: Callable[[], None], on_work: Callable[[], None] | None = None) -> None:
        """Nothing to listen to: other processes on the same file are polled."""

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, in order; return the versions applied now."""
        conn = self.connection()
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


class SqliteStore(SqlStore):
    """Store on one SQLite database file; histories count on the buckets of migration 0003, status
    windows in a side file (:mod:`vaultjobs.store.status_windows`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        dialect = SqliteDialect(path)
        windows = SideFileStatusWindows(SideFileStatusWindows.beside(path))
        super().__init__(dialect, CountedHistory(dialect), windows)
