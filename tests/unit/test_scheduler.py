"""The scheduler and the cluster's leader: one definition's failing ``validate`` stays its own, a
scheduler that lost its lease writes nothing, and maintenance runs on one node at a time."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.definitions import load_definitions
from vaultjobs.engine import Engine, Scheduler, Wakeup
from vaultjobs.registry import Registry
from vaultjobs.sdk import JobContext, Task, processor
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus
from vaultjobs.store import Store
from vaultjobs.store.leases import Fence, LeaseLost
from vaultjobs.testing import ManualClock, execute
from vaultjobs.timeutil import SystemClock


@processor("steady")
class Steady:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return []

    def process(self, ctx: JobContext, task: Task) -> None:  # pragma: no cover - no items
        pass


@processor("shaky")
class Shaky:
    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the validator fell over")

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:  # pragma: no cover - never runs
        return []

    def process(self, ctx: JobContext, task: Task) -> None:  # pragma: no cover - never runs
        pass


REGISTRY = Registry([Steady, Shaky])


def define(tmp_path: Path, store: Store, clock: ManualClock) -> None:
    """``a_shaky`` (sorted first) and ``b_steady``, every minute."""
    store.users.create_user(username="admin", password_hash="x", timezone="UTC", is_admin=True, now=clock.now())
    path = tmp_path / "jobs.toml"
    path.write_text('[[job]]\nname = "a_shaky"\nprocessor = "shaky"\ninterval = "1m"\n'
                    '[[job]]\nname = "b_steady"\nprocessor = "steady"\ninterval = "1m"\n')
    load_definitions(path, store, clock.now())


def scheduler(store: Store, settings: Settings, clock: ManualClock) -> Scheduler:
    return Scheduler(store=store, registry=REGISTRY, settings=settings, clock=clock, wakeup=Wakeup(remote=lambda: None))


def first_instances(store: Store) -> dict[str, tuple[int, str]]:
    """Each definition's first instance: (id, status)."""
    rows = execute(store, "SELECT definition, id, status FROM jobs WHERE id IN "
                          "(SELECT MIN(id) FROM jobs GROUP BY definition)")
    return {str(r[0]): (int(r[1]), str(r[2])) for r in rows}


def test_a_validate_that_raises_fails_its_own_instance_and_no_other(
    tmp_path: Path, store: Store, settings: Settings, clock: ManualClock
) -> None:
    define(tmp_path, store, clock)
    s = scheduler(store, settings, clock)
    s.tick()
    assert {name: status for name, (_, status) in first_instances(store).items()} == {
        "a_shaky": "SCHEDULED", "b_steady": "SCHEDULED"}
    clock.advance(61)
    s.tick()
    first = first_instances(store)
    assert first["a_shaky"][1] == JobStatus.FAILED_TO_RUN.value
    assert first["b_steady"][1] == JobStatus.QUEUED.value
    log = " ".join(str(r[0]) for r in execute(store, "SELECT message FROM job_log WHERE job_id = ?",
                                                 (first["a_shaky"][0],)))
    assert "validate raised RuntimeError: the validator fell over" in log


def test_a_scheduler_that_lost_its_lease_writes_nothing(
    tmp_path: Path, store: Store, settings: Settings, clock: ManualClock
) -> None:
    define(tmp_path, store, clock)
    assert store.nodes.acquire_lease("scheduler", "node-a", clock.now(), 3)
    clock.advance(5)  # node A paused past its lease; node B took over
    assert store.nodes.acquire_lease("scheduler", "node-b", clock.now(), 3)
    with pytest.raises(LeaseLost):
        scheduler(store, settings, clock).tick(Fence("scheduler", "node-a"))
    assert first_instances(store) == {}
    scheduler(store, settings, clock).tick(Fence("scheduler", "node-b"))
    assert set(first_instances(store)) == {"a_shaky", "b_steady"}


def test_a_lease_held_by_a_dead_worker_is_taken_at_once(store: Store, clock: ManualClock) -> None:
    store.nodes.register_worker("node-a", "host", 1, clock.now())
    assert store.nodes.acquire_lease("scheduler", "node-a", clock.now(), 30)
    assert not store.nodes.acquire_lease("scheduler", "node-b", clock.now(), 30)
    clock.advance(5)  # node A stops heartbeating; its lease has 25 s left
    assert not store.nodes.acquire_lease("scheduler", "node-b", clock.now(), 30,
                                         dead_before=clock.now() - timedelta(seconds=10))
    assert store.nodes.acquire_lease("scheduler", "node-b", clock.now(), 30,
                                     dead_before=clock.now() - timedelta(seconds=2))


def test_one_engine_leads_and_the_other_takes_over_when_it_stops(tmp_path: Path, store: Store) -> None:
    settings = Settings(data_dir=tmp_path, workers=0, poll_interval=0.05, heartbeat_interval=0.05,
                        retention_days=0)
    engines = [Engine(store=store, registry=REGISTRY, settings=settings, clock=SystemClock()) for _ in range(2)]
    for engine in engines:
        engine.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(e.leader for e in engines) != 1:
            time.sleep(0.02)
        assert sum(e.leader for e in engines) == 1
        first = next(e for e in engines if e.leader)
        other = next(e for e in engines if e is not first)
        time.sleep(0.3)
        assert first.leader and not other.leader  # stable: no flapping
        first.stop()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not other.leader:
            time.sleep(0.02)
        assert other.leader
    finally:
        for engine in engines:
            if not engine._stop.is_set():
                engine.stop()
