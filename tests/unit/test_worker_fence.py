"""A worker declared dead while it still runs (paused, or cut off from the database for longer than
the heartbeat timeout) claims nothing more under its id once a sweeper recovered it — otherwise what
it claimed afterwards would be held by a worker no sweeper looks for, and its job would stay RUNNING
for ever once that process died. On PostgreSQL a claim and a recovery running at the same moment are
serialised on the worker's row, so the recovery either sees the claim or the claim sees the recovery."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest

from vaultjobs.status import TaskState
from vaultjobs.store import NewJob, Store
from vaultjobs.testing import ManualClock, claim_job, start_tasks, task_counts

TIMEOUT = 30


def make_job(store: Store, clock: ManualClock) -> int:
    user = store.users.get_user_by_name("u") or store.users.create_user(
        username="u", password_hash="x", timezone="UTC", is_admin=False, now=clock.now())
    new = NewJob(processor="demo", parameters={}, created_by=user.id, idempotent=True, inactivity_timeout=600)
    return store.jobs.create_job(new, clock.now()).id


def test_a_recovered_worker_claims_nothing_more_under_its_id(store: Store, clock: ManualClock) -> None:
    store.nodes.register_worker("w", "h", 1, clock.now())
    job_id = make_job(store, clock)
    clock.advance(TIMEOUT + 1)  # its heartbeats stopped reaching the database
    assert store.nodes.dead_workers(clock.now(), TIMEOUT) == ["w"]
    store.nodes.recover_worker("w", clock.now(), stale_before=clock.now() - timedelta(seconds=TIMEOUT))
    # ... and it was alive all along
    assert store.work.claim_jobs("w", clock.now(), 5) == []
    assert store.work.claim_tasks("w", clock.now(), 5) == []
    assert store.nodes.heartbeat_worker("w", clock.now()) is False  # how it learns it must register again
    assert store.nodes.dead_workers(clock.now(), TIMEOUT) == []  # recovered once, not at every tick
    store.nodes.register_worker("w-again", "h", 1, clock.now())
    assert [job.id for job in store.work.claim_jobs("w-again", clock.now(), 5)] == [job_id]


def test_a_worker_that_heartbeat_since_it_was_found_silent_is_left_alone(store: Store, clock: ManualClock) -> None:
    store.nodes.register_worker("w", "h", 1, clock.now())
    job_id = make_job(store, clock)
    clock.advance(TIMEOUT + 1)
    assert store.nodes.dead_workers(clock.now(), TIMEOUT) == ["w"]
    assert store.nodes.heartbeat_worker("w", clock.now()) is True  # it was slow, not dead
    report = store.nodes.recover_worker("w", clock.now(), stale_before=clock.now() - timedelta(seconds=TIMEOUT))
    assert report.requeued_jobs == [] and report.ended_jobs == []
    assert [job.id for job in store.work.claim_jobs("w", clock.now(), 5)] == [job_id]


def test_a_stopped_worker_claims_nothing(store: Store, clock: ManualClock) -> None:
    store.nodes.register_worker("w", "h", 1, clock.now())
    make_job(store, clock)
    store.nodes.stop_worker("w", clock.now())
    assert store.work.claim_jobs("w", clock.now(), 5) == []


def test_recovered_workers_are_forgotten_a_day_later(store: Store, clock: ManualClock) -> None:
    for name in ("old", "new"):
        store.nodes.register_worker(name, "h", 1, clock.now())
        store.nodes.stop_worker(name, clock.now())
        store.nodes.recover_worker(name, clock.now())
        clock.advance(86_400 + 1)
    assert [w.id for w in store.overview.workers()] == []  # neither is shown as a worker
    rows = store.dialect.connection().execute("SELECT id FROM workers ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["new"]  # "old" was forgotten when "new" was recovered


def _postgres(store: Store) -> str:
    url = getattr(store, "url", None)
    if not isinstance(url, str) or not url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time: a claim and a recovery cannot overlap")
    return url


def test_a_claim_waits_for_a_recovery_in_progress_and_then_claims_nothing(store: Store, clock: ManualClock) -> None:
    url = _postgres(store)
    store.nodes.register_worker("w", "h", 1, clock.now())
    make_job(store, clock)
    claimed: list[object] = []
    with psycopg.connect(url) as recovery:  # a sweeper's recovery, between its first and last statement
        recovery.execute("SELECT 1 FROM workers WHERE id = 'w' FOR UPDATE")
        recovery.execute("UPDATE workers SET recovered_at = 1, stopped_at = 1 WHERE id = 'w'")
        claim = threading.Thread(target=lambda: claimed.extend(store.work.claim_jobs("w", clock.now(), 5)))
        claim.start()
        claim.join(1.0)
        assert claim.is_alive(), "the claim must wait for the recovery"
        recovery.commit()
    claim.join(10)
    assert not claim.is_alive() and claimed == []


def test_a_recovery_waits_for_a_claim_in_progress_and_then_requeues_it(store: Store, clock: ManualClock) -> None:
    url = _postgres(store)
    store.nodes.register_worker("w", "h", 1, clock.now())
    job_id = make_job(store, clock)
    claim_job(store, "w", clock.now())
    start_tasks(store, job_id, "w", ["[]", "[]"], clock.now(), claim_first=False)
    clock.advance(TIMEOUT + 1)
    reports: list[object] = []
    with psycopg.connect(url) as claim:  # the worker's task claim, not yet committed
        claim.execute("SELECT stopped_at FROM workers WHERE id = 'w' FOR KEY SHARE")
        claim.execute("UPDATE tasks SET state = 'RUNNING', worker_id = 'w' WHERE job_id = %s", (job_id,))
        recovery = threading.Thread(target=lambda: reports.append(store.nodes.recover_worker(
            "w", clock.now(), stale_before=clock.now() - timedelta(seconds=TIMEOUT))))
        recovery.start()
        recovery.join(1.0)
        assert recovery.is_alive(), "the recovery must wait for the claim"
        claim.commit()
    recovery.join(10)
    assert not recovery.is_alive() and len(reports) == 1
    assert task_counts(store, job_id) == {TaskState.QUEUED: 2}  # what the claim took was requeued
