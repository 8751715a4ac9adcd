"""Group commit for SQLite: make committed transactions survive power loss with one fsync for many.

Writes commit with ``synchronous=NORMAL`` (in the OS page cache: safe against ``kill -9``, not yet
against power loss). A caller that must not acknowledge before the data is on disk then calls
:meth:`GroupSync.sync`: the first caller fsyncs the WAL file, and every caller whose commit came
before that fsync started shares it. Under load, many job submissions cost one fsync.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class GroupSync:
    def __init__(self, database: Path) -> None:
        self._wal = Path(f"{database}-wal")
        self._database = database
        self._cond = threading.Condition()
        self._issued = 0
        self._synced = 0
        self._syncing = False

    def sync(self) -> None:
        """Return once everything committed before this call is on disk."""
        with self._cond:
            self._issued += 1
            ticket = self._issued
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                covers = self._issued
                self._cond.release()
                try:
                    self._fsync()
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self._synced = max(self._synced, covers)

    def _fsync(self) -> None:
        # Opened afresh each time: SQLite may delete and recreate the WAL file.
        for path in (self._wal, self._database):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # no WAL right now: the commit was checkpointed into the database file
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if path == self._wal:
                return
