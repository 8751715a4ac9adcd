"""Opening a connection to an SQLite file in WAL mode, safely when other connections open it at once."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

#: How long a connection waits for another one to finish switching a new file to WAL.
WAL_SWITCH_TIMEOUT = 30.0


def connect_wal(path: Path | str, *pragmas: str) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode (autocommit, usable from any thread), with ``pragmas`` run.

    WAL mode is kept in the file, so only a new file needs the switch; and the switch takes an
    exclusive lock that SQLite does not wait for (no busy handler): two processes or threads opening a
    new file at once would see "database is locked". So: read the mode first, and retry the switch.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.005)
    for pragma in (*pragmas, "PRAGMA busy_timeout=30000"):
        conn.execute(pragma)
    return conn
