"""Vault's burst limit: API requests per vault in fixed windows (five minutes by default), counted
across the cluster, with ``X-VaultAPI-BurstLimit`` and ``X-VaultAPI-BurstLimitRemaining`` on every
API answer. Past the limit Vault does not refuse: it delays each answer for the rest of the window
and says by how much in ``X-VaultAPI-ResponseDelay`` (milliseconds); so does vaultjobs.

Counting costs a request no database work: each process counts in memory and a background thread
adds its count to the window's shared row about once a second, reading the cluster's total back.
A node's view is therefore its own requests plus everybody's up to a second ago — exact on one node,
at most a second of the others' traffic behind on a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vaultjobs.store import Store
from vaultjobs.timeutil import Clock, from_ms, to_ms

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Allowance:
    limit: int
    remaining: int
    #: How long to hold the answer back, in seconds (0 within the limit).
    delay: float


class BurstLimit:
    def __init__(self, store: Store, clock: Clock, *, limit: int | Callable[[], int], window: float, delay: float,
                 sync_interval: float = 1.0) -> None:
        """``limit`` is a number, or what reads the limit in force for each request (the control plane's)."""
        self.store = store
        self.clock = clock
        self.limit = limit
        self.window = window
        self.delay = delay
        self.sync_interval = sync_interval
        self._lock = threading.Lock()
        #: Held through a whole sync, the store's write included (see :meth:`forgetting`).
        self._syncing = threading.Lock()
        self._window_ms = max(1, int(round(window * 1000)))
        #: The current window's start in epoch milliseconds: counting compares integers, no datetimes.
        self._window_start: int | None = None
        self._shared = 0  # the window's cluster total at the last sync (ours included)
        self._unsynced = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_count = 0.0

    def count(self) -> Allowance:
        """Count one request; what its answer says and how long it waits."""
        start = to_ms(self.clock.now()) // self._window_ms * self._window_ms  # as fixed_window's start
        with self._lock:
            if start != self._window_start:
                self._window_start, self._shared, self._unsynced = start, 0, 0
            self._unsynced += 1
            used = self._shared + self._unsynced
            self._last_count = self.clock.monotonic()
        if self._thread is None:
            self._start()
        limit = self.limit() if callable(self.limit) else self.limit
        return Allowance(limit=limit, remaining=max(0, limit - used), delay=self.delay if used > limit else 0.0)

    def sync(self) -> None:
        """Add this process's count to the window's shared row and read the total back."""
        with self._syncing:
            self._sync()

    @contextlib.contextmanager
    def forgetting(self) -> Iterator[None]:
        """Around the control plane's reset, which empties the shared rows: no share runs meanwhile
        (one under way finishes first), and what this process counted until the reset's end is
        dropped, so none of it comes back after."""
        with self._syncing:
            yield
            with self._lock:
                self._window_start, self._shared, self._unsynced = None, 0, 0

    def _sync(self) -> None:
        with self._lock:
            start, pending = self._window_start, self._unsynced
            self._unsynced = 0
        if start is None or pending == 0:
            return
        try:
            total = self.store.bursts.add(from_ms(start), pending, self.clock.now(), self.window)
        except Exception as exc:  # the database is away: keep counting here, add it later
            with self._lock:
                if self._window_start == start:
                    self._unsynced += pending
            logger.debug("burst count not shared: %s", exc)
            return
        with self._lock:
            if self._window_start == start:
                self._shared = max(self._shared, total)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="vaultjobs-burst", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Share the count every ``sync_interval``; after ten quiet intervals, end (the next request
        starts it again), so that an idle server holds no thread for it."""
        while not self._stop.wait(self.sync_interval):
            self.sync()
            with self._lock:
                if self._unsynced == 0 and self.clock.monotonic() - self._last_count > 10 * self.sync_interval:
                    self._thread = None
                    return

    def close(self) -> None:
        self._stop.set()
