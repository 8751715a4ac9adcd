"""Sole use of something several processes may share: while one user holds it alone, it may keep its
state in memory; once another asks to share, it hands its state over to the shared form and shares.

The SQLite status windows use it (:mod:`vaultjobs.store.status_windows`): one ``vaultjobs serve``
alone on its data folder keeps its windows in a dict, sparing each status poll a write transaction on
the side file (a third of the poll's cost), while a second API node on the same folder still sees
every window the first opened, as the DESIGN's rate limit requires.

The protocol, on two lock files beside the shared thing (``flock``: held per open file, so two users
in one process exclude each other as two processes do, and freed by the kernel when a process dies):

- ``<name>.owner``: the sole user holds it exclusively. Its first byte is the *doorbell*: ``1`` when
  another user asks to share.
- ``<name>.shared``: every user in the shared form holds it shared.

A newcomer that gets ``owner`` exclusively clears the doorbell, then tries ``shared`` exclusively: if
nobody holds it, the newcomer is the sole user; if somebody does, it joins them (``shared``, then lets
``owner`` go). A newcomer that cannot get ``owner`` joins ``shared`` first, then rings, then waits to
get ``owner`` shared: that is, until the sole user has handed over, joined ``shared`` and let ``owner``
go. The sole user looks at the doorbell every :data:`LISTEN_INTERVAL` (a thread of its own, so an
idle owner answers too). Ringing after joining ``shared``, and clearing before testing it, leaves no
order of events in which a ring goes unheard or a sole user coexists with a shared one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # not a POSIX system: every user shares, as if others were always there
    fcntl = None  # type: ignore[assignment]

#: How often a sole user looks at its doorbell: at most this long a newcomer waits to share.
LISTEN_INTERVAL = 0.01
#: How long a newcomer waits for the sole user to hand over before it gives up.
HANDOVER_TIMEOUT = 30.0


class HandoverTimeout(RuntimeError):
    """The sole user did not hand over in time (stopped, or stuck): sharing cannot start safely."""


class SoleUse:
    """One user's side of the protocol. :meth:`join` says whether it is the sole user; a sole user's
    ``hand_over`` runs (under the caller's lock) when another asks to share, before they may start."""

    def __init__(self, base: Path, hand_over: Callable[[], None], lock: threading.Lock) -> None:
        self.base = base
        self._fds: list[int] = []
        if fcntl is not None:
            self._fds = [os.open(f"{base}.{name}", os.O_RDWR | os.O_CREAT, 0o600) for name in ("owner", "shared")]
        self._owner, self._shared = self._fds or (-1, -1)
        self._hand_over = hand_over
        self._lock = lock
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.sole = False

    def join(self) -> bool:
        """Become the sole user if nobody else uses it, else share (after a sole user handed over)."""
        if fcntl is None:
            return False
        if _try_lock(self._owner, fcntl.LOCK_EX):
            os.pwrite(self._owner, b"0", 0)  # before the test below: a ring after it is heard
            if _try_lock(self._shared, fcntl.LOCK_EX):
                fcntl.flock(self._shared, fcntl.LOCK_UN)
                self.sole = True
                self._listener = threading.Thread(target=self._listen, name="vaultjobs-sole-use", daemon=True)
                self._listener.start()
                return True
            fcntl.flock(self._shared, fcntl.LOCK_SH)
            fcntl.flock(self._owner, fcntl.LOCK_UN)
            return False
        fcntl.flock(self._shared, fcntl.LOCK_SH)  # before ringing: a sole user to come sees us
        os.pwrite(self._owner, b"1", 0)
        deadline = time.monotonic() + HANDOVER_TIMEOUT
        while not _try_lock(self._owner, fcntl.LOCK_SH):
            if time.monotonic() > deadline:
                raise HandoverTimeout(f"the sole user of {self.base} did not hand over in {HANDOVER_TIMEOUT:g} s")
            time.sleep(LISTEN_INTERVAL / 4)
        fcntl.flock(self._owner, fcntl.LOCK_UN)
        return False

    def _listen(self) -> None:
        while not self._stop.wait(LISTEN_INTERVAL):
            try:
                rung = os.pread(self._owner, 1, 0) == b"1"
            except OSError:  # closed meanwhile
                return
            if rung:
                with self._lock:
                    if self.sole:
                        self.share()
                return

    def share(self) -> None:
        """A sole user hands over and shares from now on. The caller holds the lock."""
        self._hand_over()
        fcntl.flock(self._shared, fcntl.LOCK_SH)
        self.sole = False
        fcntl.flock(self._owner, fcntl.LOCK_UN)

    def close(self) -> None:
        """Let go of everything (a sole user hands over first, so its state outlives it). The caller
        holds the lock."""
        self._stop.set()
        if self.sole:
            with contextlib.suppress(Exception):
                self._hand_over()
            self.sole = False
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)  # frees its flock
        self._fds = []


def _try_lock(fd: int, kind: int) -> bool:
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
