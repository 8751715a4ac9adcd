"""Wake-ups (vaultjobs.engine.wakeup): a queued job wakes the workers, not the scheduler, on this
node and, through the store's NOTIFY, on the others."""

from __future__ import annotations

import time

import pytest

from vaultjobs.engine import Wakeup
from vaultjobs.store import Store


def test_work_wakes_the_workers_and_not_the_scheduler() -> None:
    remote: list[str] = []
    wakeup = Wakeup(remote=lambda: remote.append("all"), remote_work=lambda: remote.append("work"))
    seen, schedule_seen = wakeup.generation(), wakeup.schedule_generation()
    wakeup.notify_work()
    assert wakeup.wait(0.0, seen)
    assert not wakeup.wait_schedule(0.0, schedule_seen)
    assert remote == ["work"]  # other nodes' workers hear of it too, not their schedulers


def test_any_other_notify_wakes_the_scheduler_too() -> None:
    remote: list[str] = []
    wakeup = Wakeup(remote=lambda: remote.append("all"), remote_work=lambda: remote.append("work"))
    for notify in (wakeup.notify, wakeup.notify_local):
        seen, schedule_seen = wakeup.generation(), wakeup.schedule_generation()
        notify()
        assert wakeup.wait(0.0, seen)
        assert wakeup.wait_schedule(0.0, schedule_seen)
    assert remote == ["all"]  # notify_local is what other nodes' notifies arrive as: it sends nothing


def test_a_notify_for_workers_reaches_the_listeners_as_such(store: Store, backend: str) -> None:
    """On PostgreSQL the payload tells them apart (each node hears its own too)."""
    if backend == "sqlite":
        pytest.skip("SQLite has no NOTIFY: other processes on the file poll")
    heard: list[str] = []
    store.nodes.listen(lambda: heard.append("all"), on_work=lambda: heard.append("work"))
    deadline = time.monotonic() + 30
    # The listener connects in its own thread: notify until it hears.
    while not heard and time.monotonic() < deadline:
        store.nodes.notify_work(workers_only=True)
        time.sleep(0.1)
    assert heard and set(heard) == {"work"}
    while "all" not in heard and time.monotonic() < deadline:
        store.nodes.notify_work()
        time.sleep(0.1)
    assert "all" in heard


def test_work_does_not_even_wake_a_waiting_scheduler_to_look() -> None:
    """Each wake-up is a thread switch that the start which caused it pays for."""
    import threading

    wakeup = Wakeup()
    woken: list[bool] = []

    class Counting(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            result = super().wait(timeout)
            woken.append(result)
            return result

    wakeup._schedule_cond = Counting(wakeup._cond._lock)  # type: ignore[attr-defined]
    seen = wakeup.schedule_generation()
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(wakeup.wait_schedule(30.0, seen)))
    waiter.start()
    deadline = time.monotonic() + 10
    while not wakeup._schedule_cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.001)
    for _ in range(20):
        wakeup.notify_work()
    time.sleep(0.05)
    assert woken == [] and waiter.is_alive()
    wakeup.notify()
    waiter.join(10)
    assert outcome == [True] and woken == [True]
