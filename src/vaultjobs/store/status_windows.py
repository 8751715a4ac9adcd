"""Status windows: one successful Retrieve Job Status per job per window, on every API node.

Opening a window is one conditional upsert, so concurrent callers on any number of connections,
threads or nodes get exactly one success per window, and a refused call never moves the window.

On PostgreSQL the windows live in the shared database (``status_polls``, unlogged: they last seconds
and need not survive a crash of the database, so their upsert writes no WAL and waits for no disk).
On SQLite every node shares one database file, so the windows must live in a file too; they get a
small one of their own beside it (``<name>-status-windows.db``, synchronous=OFF: a crash of the
machine may forget its last windows, never a job). Its only writers are status polls, each holding
its lock for microseconds, so the API can open a window on its event loop without queueing behind
the workers' transactions on the main file. The main file's ``status_polls`` table stays unused there.
While one process alone opens windows on a data folder (one ``vaultjobs serve``, the usual SQLite
deployment), it keeps them in a dict instead and writes them to the side file only when another
process asks to share it, or when it closes (:mod:`vaultjobs.store.sole_use`): the side file's write
transaction was a third of a status poll's cost. A process killed while it keeps its windows in
memory forgets them (at most one window's length of them), as a crash of the machine may.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from vaultjobs.store.batcher import Batcher
from vaultjobs.store.dialect import Connection, Cursor, Dialect
from vaultjobs.store.jobs import STATUS_READ_LATERAL, StatusRead, status_read_of
from vaultjobs.store.sole_use import SoleUse
from vaultjobs.store.sqlite_files import connect_wal
from vaultjobs.timeutil import to_ms

OPEN_WINDOW = (
    "INSERT INTO status_polls (job_id, polled_at) VALUES (?, ?) ON CONFLICT (job_id) "
    "DO UPDATE SET polled_at = excluded.polled_at WHERE status_polls.polled_at <= ?"
)
#: How many windows a side file opens between purges of the windows that have closed.
PURGE_EVERY = 4096


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks, as a session cache remembers them: the window opens only while the session epoch is
    still ``epoch`` and when the user may see the job (its creator, or an admin)."""

    user_id: int
    is_admin: bool
    epoch: int


@dataclass(frozen=True, slots=True)
class StatusPoll:
    """Retrieve Job Status's read, and its window: None when it opened, else seconds until it opens."""

    read: StatusRead
    wait: float | None


class StatusWindows(Protocol):
    def open(self, job_id: int, now: datetime, window: float) -> float | None:
        """Open the job's status window; None on success, else seconds until it opens again."""
        ...

    def poll(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """:meth:`Jobs.status_read` and :meth:`open` in one statement, the window opened only if the
        viewer's session epoch is current and they may see the job (else ``wait`` means nothing);
        None where the windows live apart from the jobs."""
        ...

    async def poll_async(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """:meth:`poll` awaited on the event loop without blocking it; None where there is no such poll."""
        ...

    def clear(self) -> None:
        """Close every window (the control plane's reset), for every node that shares them."""
        ...

    def close(self) -> None: ...


def _wait(opened: Cursor, conn: Connection, job_id: int, ms: int, window_ms: int) -> float | None:
    if opened.rowcount == 1:
        return None
    row = conn.execute("SELECT polled_at FROM status_polls WHERE job_id = ?", (job_id,)).fetchone()
    return _seconds_left(ms if row is None else int(row[0]), ms, window_ms)


def _seconds_left(polled_at: int, ms: int, window_ms: int) -> float:
    """Seconds until the window opened at ``polled_at`` closes, at ``ms`` (all in ms)."""
    return max(0.0, (polled_at + window_ms - ms) / 1000.0)


#: Retrieve Job Status's read and its window in one statement, where one statement can both write and
#: read (PostgreSQL's data-modifying ``WITH``); the sub-select of ``polled_at`` sees the row as it was
#: before this statement. PostgreSQL only, so its read is the lateral one.
POLL = (
    "WITH opened AS (INSERT INTO status_polls (job_id, polled_at) "
    "SELECT j.id, ? FROM jobs j JOIN session_epoch e ON e.id = 1 AND e.epoch = ? "
    "WHERE j.id = ? AND (? = 1 OR j.created_by = ?) "
    "ON CONFLICT (job_id) DO UPDATE SET polled_at = excluded.polled_at "
    "WHERE status_polls.polled_at <= ? RETURNING job_id) "
    "SELECT r.*, (SELECT count(*) FROM opened), (SELECT polled_at FROM status_polls WHERE job_id = ?) "
    f"FROM ({STATUS_READ_LATERAL}) r"
)


@dataclass(frozen=True, slots=True)
class _Poll:
    """One poll of :data:`POLL`: the job, the time in ms, the window in ms, who asks."""

    job_id: int
    ms: int
    window_ms: int
    viewer: Viewer

    @classmethod
    def of(cls, job_id: int, now: datetime, window: float, viewer: Viewer) -> _Poll:
        return cls(job_id, to_ms(now), int(window * 1000), viewer)

    def params(self) -> tuple[int, ...]:
        ms, viewer = self.ms, self.viewer
        return (ms, viewer.epoch, self.job_id, int(viewer.is_admin), viewer.user_id, ms - self.window_ms,
                self.job_id, self.job_id)

    def outcome(self, rows: Sequence[Sequence[Any]]) -> StatusPoll:
        (row,) = rows
        read = status_read_of(row[:-2])
        if row[-2]:
            return StatusPoll(read, None)
        opened = self.ms if row[-1] is None else int(row[-1])
        return StatusPoll(read, _seconds_left(opened, self.ms, self.window_ms))


class SharedStatusWindows:
    """Windows in the store's own database (PostgreSQL: shared by every replica)."""

    def __init__(self, db: Dialect) -> None:
        self.db = db
        self._polls: Batcher[_Poll, StatusPoll] | None = None
        self._polls_lock = threading.Lock()

    def open(self, job_id: int, now: datetime, window: float) -> float | None:
        ms, window_ms = to_ms(now), int(window * 1000)
        opened = self.db.write_one(OPEN_WINDOW, (job_id, ms, ms - window_ms))
        return _wait(opened, self.db.connection(), job_id, ms, window_ms)

    def poll(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """One round trip (None where the dialect cannot write and read in one statement)."""
        if not self.db.modifying_cte:
            return None
        poll = _Poll.of(job_id, now, window, viewer)
        return poll.outcome(self.db.connection().execute(POLL, poll.params()).fetchall())

    async def poll_async(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """:meth:`poll` for the event loop: it waits for its batch rather than a thread. The polls that
        arrive together go in one pipelined transaction, one round trip, each statement seeing the
        ones before it (two polls of one job in a batch: the second finds the window open)."""
        if not self.db.modifying_cte:
            return None
        if self._polls is None:
            with self._polls_lock:
                if self._polls is None:
                    self._polls = Batcher(self._poll_many, name="vaultjobs-status-polls")
        return await self._polls.submit_async(_Poll.of(job_id, now, window, viewer))

    def _poll_many(self, polls: Sequence[_Poll]) -> list[StatusPoll]:
        # (One statement for the whole batch, its asks unnested from arrays, cost PostgreSQL nearly
        # twice the CPU of these pipelined statements.)
        with self.db.batch() as tx:
            sent = [tx.execute(POLL, poll.params()) for poll in polls]
            return [poll.outcome(cursor.fetchall()) for poll, cursor in zip(polls, sent, strict=True)]

    def clear(self) -> None:
        self.db.write_one("DELETE FROM status_polls")

    def close(self) -> None:
        """Stop the batch thread, if any (the connections are the store's)."""
        if self._polls is not None:
            self._polls.close()


class SideFileStatusWindows:
    """Windows in a small SQLite file of their own, beside the store's file; one connection per process.
    While this is the side file's sole user, the windows are kept in memory instead."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._opened = 0
        self._use: SoleUse | None = None
        #: job id -> polled_at (ms), while this is the sole user.
        self._windows: dict[int, int] = {}

    @staticmethod
    def beside(database: Path) -> Path:
        return database.with_name(f"{database.stem}-status-windows.db")

    @property
    def in_memory(self) -> bool:
        """Whether the windows are kept in memory now (this is the side file's sole user)."""
        return self._use is not None and self._use.sole

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = connect_wal(self.path, "PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS status_polls (job_id INTEGER PRIMARY KEY, "
                         "polled_at INTEGER NOT NULL)")
            self._conn = conn
        return self._conn

    def _joined(self) -> SoleUse:
        """Join the side file's users on first use (a process that never polls never takes part)."""
        if self._use is None:
            use = SoleUse(self.path, self._write_out, self._lock)
            try:
                sole = use.join()
            except BaseException:
                use.close()
                raise
            if sole:
                self._windows = self._file_windows()
            self._use = use
        return self._use

    def _write_out(self) -> None:
        """Hand the windows kept in memory to the side file (the lock is held)."""
        if self._windows:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO status_polls (job_id, polled_at) VALUES (?, ?) ON CONFLICT (job_id) "
                "DO UPDATE SET polled_at = max(polled_at, excluded.polled_at)",
                self._windows.items(),
            )
            conn.execute("COMMIT")
        self._windows = {}

    def open(self, job_id: int, now: datetime, window: float) -> float | None:
        ms, window_ms = to_ms(now), int(window * 1000)
        with self._lock:
            if self._joined().sole:
                return self._open_in_memory(job_id, ms, window_ms)
            conn = self._connection()
            wait = _wait(conn.execute(OPEN_WINDOW, (job_id, ms, ms - window_ms)), conn, job_id, ms, window_ms)
            self._opened += 1
            if self._opened % PURGE_EVERY == 0:
                # A closed window is as good as none: the file holds only the windows still open.
                conn.execute("DELETE FROM status_polls WHERE polled_at <= ?", (ms - window_ms,))
            return wait

    def _open_in_memory(self, job_id: int, ms: int, window_ms: int) -> float | None:
        windows = self._windows
        polled_at = windows.get(job_id)
        if polled_at is not None and polled_at > ms - window_ms:
            return _seconds_left(polled_at, ms, window_ms)
        windows[job_id] = ms
        self._opened += 1
        if self._opened % PURGE_EVERY == 0:
            cutoff = ms - window_ms
            self._windows = {job: at for job, at in windows.items() if at > cutoff}
        return None

    def recorded(self) -> dict[int, int]:
        """Each job's last opened window (ms), closed or not, as every user of the side file sees them
        (joining them: a sole user elsewhere hands over). For tests and tools."""
        with self._lock:
            if self._joined().sole:
                return dict(self._windows)
            return self._file_windows()

    def _file_windows(self) -> dict[int, int]:
        return dict(self._connection().execute("SELECT job_id, polled_at FROM status_polls").fetchall())

    def poll(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """None: the windows are in another file than the jobs."""
        return None

    async def poll_async(self, job_id: int, now: datetime, window: float, viewer: Viewer) -> StatusPoll | None:
        """None: the windows are in another file than the jobs (and SQLite's statements run inline)."""
        return None

    def clear(self) -> None:
        """Every process on the machine shares the side file: emptying it closes their windows too (a
        sole user elsewhere hands its windows over first)."""
        with self._lock:
            self._joined()
            self._windows = {}
            self._connection().execute("DELETE FROM status_polls")

    def close(self) -> None:
        with self._lock:
            if self._use is not None:
                self._use.close()  # a sole user writes its windows out first
                self._use = None
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
