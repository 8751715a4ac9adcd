"""Connections opening a new SQLite file at the same moment all get it in WAL mode (two nodes starting at once)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from vaultjobs.store.sqlite_files import connect_wal


def open_at_once(path: Path, opener: Callable[[Path], sqlite3.Connection], count: int = 16) -> list[str]:
    """Open ``count`` connections to ``path`` from threads released together; each one's journal mode or error."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = []

    def open_one() -> None:
        barrier.wait()
        try:
            conn = opener(path)
            conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            outcomes.append(str(conn.execute("PRAGMA journal_mode").fetchone()[0]))
            conn.close()
        except sqlite3.OperationalError as exc:
            outcomes.append(f"error: {exc}")

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_connections_opening_a_new_file_at_once_all_get_wal(tmp_path: Path) -> None:
    for n in range(20):
        outcomes = open_at_once(tmp_path / f"new-{n}.db", lambda path: connect_wal(path, "PRAGMA synchronous=OFF"))
        assert outcomes == ["wal"] * 16, outcomes


def test_a_file_already_in_wal_mode_is_not_switched_again(tmp_path: Path) -> None:
    path = tmp_path / "kept.db"
    connect_wal(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a switch would need this lock: reading the mode does not
    try:
        conn = connect_wal(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        holder.execute("ROLLBACK")

