"""Fencing: a write made on behalf of a lease holder happens only while it still holds the lease.

A leader that pauses (a long GC, a stopped VM, a lost network) may wake up after its lease ran out
and another node took over; whatever it then writes as leader would race the new leader. So every
such write checks the lease in its own transaction (:func:`check_fence`): the lease row must still
name the holder and not have expired, and on PostgreSQL the check locks that row, so a takeover
waits until the write is committed and a write after a takeover fails. SQLite runs one writer at a
time, so the check alone is enough there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.errors import StoreError
from vaultjobs.timeutil import Clock, to_ms


class LeaseLost(StoreError):
    """The writer no longer holds the lease it writes under; nothing was written."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease ``lease`` as held by ``holder``, checked by each write made under it."""

    lease: str
    holder: str
    #: The clock the lease's expiry is kept by, when not the clock of the writes it fences (the
    #: control plane's virtual clock moves the writes' time, never the leases').
    clock: Clock | None = None


def check_fence(db: Dialect, conn: Connection, fence: Fence, now: datetime) -> None:
    """Raise :class:`LeaseLost` unless ``fence`` still holds its lease; inside the write's transaction."""
    if fence.clock is not None:
        now = fence.clock.now()
    row = conn.execute(
        f"SELECT 1 FROM leases WHERE name = ? AND holder = ? AND expires_at >= ?{db.row_lock}",
        (fence.lease, fence.holder, to_ms(now)),
    ).fetchone()
    if row is None:
        raise LeaseLost(f"{fence.holder} no longer holds the {fence.lease} lease")
