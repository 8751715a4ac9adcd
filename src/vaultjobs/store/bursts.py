"""The burst limit's shared counts: requests answered per fixed window, by every node together."""

from __future__ import annotations

from datetime import datetime

from vaultjobs.store.dialect import Dialect
from vaultjobs.timeutil import to_ms


class Bursts:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def add(self, window_start: datetime, requests: int, now: datetime, window: float) -> int:
        """Add ``requests`` to the window starting at ``window_start``; the window's total since.
        Windows that ended before ``now`` by more than a window are dropped on the way."""
        ms = to_ms(window_start)
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO burst_windows (window_start, requests) VALUES (?, ?) ON CONFLICT (window_start) "
                "DO UPDATE SET requests = burst_windows.requests + excluded.requests RETURNING requests",
                (ms, requests),
            ).fetchone()
            conn.execute("DELETE FROM burst_windows WHERE window_start < ?", (to_ms(now) - int(2 * window * 1000),))
        return int(row[0])
