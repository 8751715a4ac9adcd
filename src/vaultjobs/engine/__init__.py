"""The engine of one node: scheduler, worker pool, sweeper and heartbeat, each in its own thread.

Cluster-wide maintenance — scheduling, sweeping up after dead workers, retention — runs on one node
at a time, the holder of the ``scheduler`` lease (only nodes that may schedule compete for it;
``vaultjobs worker`` processes run work only). The scheduler's writes are fenced by that lease
(:mod:`vaultjobs.store.leases`); the sweeper's and retention's are conditional and idempotent, so a
leader that pauses and wakes up after losing the lease does no harm with them either.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from vaultjobs.control.limits import Limits
from vaultjobs.engine.retention import Retention
from vaultjobs.engine.scheduler import Scheduler
from vaultjobs.engine.sweeper import Sweeper
from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.engine.worker import WorkerPool
from vaultjobs.jobs import Hold
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.store.leases import Fence, LeaseLost
from vaultjobs.timeutil import Clock

__all__ = ["Engine", "Scheduler", "Sweeper", "Wakeup", "WorkerPool"]

logger = logging.getLogger(__name__)


def new_worker_id() -> str:
    """An id no worker had before: host, process, and a random part (a process may register twice)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Engine:
    """Everything that runs jobs on this node; the API only writes to the store and calls ``notify``."""

    def __init__(
        self, *, store: Store, registry: Registry, settings: Settings, clock: Clock, run_scheduler: bool = True,
        limits: Limits | None = None, infra_clock: Clock | None = None, hold: Hold | None = None,
    ) -> None:
        """``clock`` drives the time rules and the dates stamped on jobs; ``infra_clock`` (``clock`` by
        default) the nodes' own bookkeeping — heartbeats, the scheduler lease, dead-worker detection —
        which must keep real time while the control plane's virtual clock stands still or jumps.
        ``hold`` holds the new instances of a processor that the control plane scripts."""
        self.store = store
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.infra_clock = infra_clock or clock
        self.limits = limits or Limits(settings)
        self.wakeup = Wakeup(remote=store.nodes.notify_work,
                             remote_work=functools.partial(store.nodes.notify_work, workers_only=True))
        self.worker_id = new_worker_id()
        self.run_scheduler = run_scheduler
        self.scheduler = Scheduler(store=store, registry=registry, settings=settings, clock=clock, wakeup=self.wakeup,
                                   hold=hold)
        self.sweeper = Sweeper(
            store=store, settings=settings, clock=clock, wakeup=self.wakeup, own_worker_id=self.worker_id,
            limits=self.limits, infra_clock=self.infra_clock,
        )
        self.pool = WorkerPool(
            store=store,
            registry=registry,
            settings=settings,
            clock=clock,
            wakeup=self.wakeup,
            worker_id=self.worker_id,
            size=settings.workers,
        )
        self.retention = Retention(store=store, settings=settings, clock=clock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Whether this node holds the scheduler lease (and so runs the cluster's maintenance).
        self.leader = False
        #: More time rules, run with the sweeper's (on the leader) and by :meth:`maintain`, given now.
        self.time_hooks: list[Callable[[datetime], object]] = []

    def notify(self) -> None:
        """Something was enqueued or scheduled: wake whoever waits for it."""
        self.wakeup.notify()

    def notify_queued(self) -> None:
        """A job was queued (nothing scheduled): wake the workers only."""
        self.wakeup.notify_work()

    def start(self) -> None:
        self.store.nodes.register_worker(self.worker_id, socket.gethostname(), os.getpid(),
                                         self.infra_clock.now())
        self.store.nodes.listen(self.wakeup.notify_local, on_work=self.wakeup.notify_work_local)
        # Resolve what a previous run left behind before taking new work (when this node leads).
        if self._lead():
            self.sweeper.tick()
        self._spawn("heartbeat", self._heartbeat_loop)
        self._spawn("sweeper", self._sweeper_loop)
        self._spawn("retention", lambda: self.retention.run(self._stop, lambda: self.leader))
        if self.run_scheduler:
            self._spawn("scheduler", self._scheduler_loop)
        if self.settings.workers:
            self.pool.start()
        logger.info("engine %s started with %d workers", self.worker_id, self.settings.workers)

    def stop(self) -> None:
        """Stop claiming work, let running tasks finish within the shutdown grace, then leave.

        Whatever is still running is left RUNNING under this worker id, which is marked stopped,
        so the next start (or another node) resolves it at once.
        """
        self._stop.set()
        self.wakeup.notify()
        clean = self.pool.stop(self.settings.shutdown_grace) if self.settings.workers else True
        for thread in self._threads:
            thread.join(5.0)
        self.store.nodes.stop_worker(self.worker_id, self.infra_clock.now())
        logger.info("engine %s stopped%s", self.worker_id, "" if clean else " (work left for the sweeper)")

    def maintain(self) -> None:
        """Run every time rule once, now, on this node whether it leads or not: what the control plane's
        clock advance does at each instant it steps to. Each rule's writes are conditional, so a
        leader ticking at the same moment does no harm."""
        self.scheduler.tick()
        now = self.clock.now()
        for hook in self.time_hooks:
            hook(now)
        self.sweeper.apply_time_rules(now)
        self.retention.purge()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"vaultjobs-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_interval):
            try:
                if not self.store.nodes.heartbeat_worker(self.worker_id, self.infra_clock.now()) \
                        and not self._stop.is_set():
                    self._rejoin()
            except Exception:
                logger.exception("heartbeat failed")

    def _rejoin(self) -> None:
        """Carry on under a new worker id: the old one was declared dead while this process ran
        (its heartbeats did not reach the database for the heartbeat timeout), what it held was
        recovered, and the store refuses it any claim. Units still running under the old id end
        unrecorded, as units taken from a dead worker do."""
        old, self.worker_id = self.worker_id, new_worker_id()
        self.store.nodes.register_worker(self.worker_id, socket.gethostname(), os.getpid(), self.infra_clock.now())
        self.sweeper.own_worker_id = self.worker_id
        self.pool.rejoin(self.worker_id)
        logger.warning("worker %s was declared dead while it ran (its heartbeats did not reach the database "
                       "in time) and what it held was recovered; it carries on as worker %s", old, self.worker_id)

    def _sweeper_loop(self) -> None:
        interval = max(0.05, min(self.settings.heartbeat_interval, self.settings.heartbeat_timeout / 2))
        while not self._stop.wait(interval):
            try:
                if self._lead():
                    self.sweeper.tick()
                    now = self.clock.now()
                    for hook in self.time_hooks:
                        hook(now)
            except Exception:
                logger.exception("sweeper failed")

    @property
    def lease_ttl(self) -> float:
        """How long the scheduler lease lasts without renewal: another node takes over after that."""
        return max(3.0, 3 * self.settings.poll_interval)

    def _lead(self) -> bool:
        """Take or renew the scheduler lease; whether this node leads now. Nodes that do not schedule
        never lead."""
        if not self.run_scheduler:
            return False
        now = self.infra_clock.now()
        was_leader = self.leader
        self.leader = self.store.nodes.acquire_lease(
            "scheduler", self.worker_id, now, self.lease_ttl,
            dead_before=now - timedelta(seconds=self.settings.heartbeat_timeout),
        )
        if self.leader != was_leader:
            logger.info("node %s %s the leader", self.worker_id, "is now" if self.leader else "is no longer")
        return self.leader

    def _scheduler_loop(self) -> None:
        """Schedule while holding the scheduler lease, so exactly one node schedules at a time."""
        fence = Fence("scheduler", self.worker_id, self.infra_clock)
        while not self._stop.is_set():
            seen = self.wakeup.schedule_generation()
            delay = self.settings.poll_interval
            try:
                if self._lead():
                    self.scheduler.tick(fence)
                    delay = min(self.scheduler.seconds_until_next(), self.lease_ttl / 3)
            except LeaseLost:
                self.leader = False
                logger.warning("node %s lost the scheduler lease in the middle of a tick", self.worker_id)
            except Exception:
                logger.exception("scheduler failed")
            if self._stop.is_set():
                break
            self.wakeup.wait_schedule(delay, seen)
        if self.leader:
            self.store.nodes.release_lease("scheduler", self.worker_id)
