"""Wake-ups (vaultjobs.engine.wakeup): a queued job wakes the workers, not the scheduler."""

from __future__ import annotations

from vaultjobs.engine import Wakeup


def test_work_wakes_the_workers_and_not_the_scheduler() -> None:
    remote: list[str] = []
    wakeup = Wakeup(remote=lambda: remote.append("NOTIFY"))
    seen, schedule_seen = wakeup.generation(), wakeup.schedule_generation()
    wakeup.notify_work()
    assert wakeup.wait(0.0, seen)
    assert not wakeup.wait_schedule(0.0, schedule_seen)
    assert remote == ["NOTIFY"]  # other nodes' workers hear of it too


def test_any_other_notify_wakes_the_scheduler_too() -> None:
    wakeup = Wakeup(remote=lambda: None)
    for notify in (wakeup.notify, wakeup.notify_local):
        seen, schedule_seen = wakeup.generation(), wakeup.schedule_generation()
        notify()
        assert wakeup.wait(0.0, seen)
        assert wakeup.wait_schedule(0.0, schedule_seen)
