"""Every change of a job's status is recorded as it happens (store.jobs.transitions), on both backends:
by the API's enqueue and cancel, a worker's claim and end, the scheduler and the sweeper alike."""

from __future__ import annotations

from datetime import datetime, timedelta

from vaultjobs.models import Transition
from vaultjobs.status import JobStatus
from vaultjobs.store import NewJob, Store
from vaultjobs.store.work import JobEnd
from vaultjobs.testing import ManualClock

S = JobStatus


def moves(store: Store, job_id: int) -> list[tuple[JobStatus | None, JobStatus, str | None]]:
    return [(t.from_status, t.to_status, t.actor) for t in store.jobs.transitions(job_id)]


def new_user(store: Store, clock: ManualClock) -> int:
    return store.users.create_user(username="alice", password_hash="x", timezone="UTC", is_admin=False,
                                   now=clock.now()).id


def test_a_job_run_and_cancelled_has_each_change_with_its_time_and_who_made_it(
    store: Store, clock: ManualClock
) -> None:
    user = new_user(store, clock)
    created = clock.now()
    job = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user), created)
    clock.advance(2)
    claimed = clock.now()
    assert [j.id for j in store.work.claim_jobs("w1", claimed, 1)] == [job.id]
    clock.advance(3)
    cancelled = clock.now()
    assert store.jobs.cancel_job(job.id, user, cancelled) == (True, S.CANCELLING)  # w1 holds it
    clock.advance(4)
    assert store.work.finish_jobs("w1", [JobEnd(job_id=job.id, status=S.CANCELLED)], clock.now()) == {job.id}
    assert moves(store, job.id) == [
        (None, S.QUEUED, f"user:{user}"),
        (S.QUEUED, S.RUNNING, "worker:w1"),
        (S.RUNNING, S.CANCELLING, f"user:{user}"),
        (S.CANCELLING, S.CANCELLED, "worker:w1"),
    ]
    assert [t.at for t in store.jobs.transitions(job.id)] == [created, claimed, cancelled, clock.now()]
    assert store.jobs.transitions(job.id)[2].user_id == user


def test_updates_that_leave_the_status_alone_record_nothing(store: Store, clock: ManualClock) -> None:
    user = new_user(store, clock)
    job = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user), clock.now())
    store.work.claim_jobs("w1", clock.now(), 1)
    store.jobs.touch_job_progress(job.id, clock.now() + timedelta(seconds=1))
    # a move from a status the job has left changes nothing, and records nothing
    assert not store.jobs.transition_job(job.id, S.QUEUED, S.CANCELLED, clock.now())
    assert [t.to_status for t in store.jobs.transitions(job.id)] == [S.QUEUED, S.RUNNING]


def test_the_scheduler_and_the_sweeper_are_named(store: Store, clock: ManualClock) -> None:
    user = new_user(store, clock)
    scheduled = store.jobs.create_job(
        NewJob(processor="demo", parameters={}, created_by=user, status=S.SCHEDULED,
               scheduled_for=clock.now() + timedelta(minutes=5)), clock.now())
    assert store.jobs.transition_job(scheduled.id, S.SCHEDULED, S.MISSED_SCHEDULE, clock.now(), agent="scheduler")
    assert moves(store, scheduled.id) == [(None, S.SCHEDULED, f"user:{user}"),
                                          (S.SCHEDULED, S.MISSED_SCHEDULE, "scheduler")]
    running = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user, timeout=1.0),
                                    clock.now())
    store.work.claim_jobs("w1", clock.now(), 1)
    clock.advance(5)
    overdue = store.jobs.overdue_jobs(clock.now())
    assert [(j.id, s) for j, s in overdue] == [(running.id, S.TIMEOUT)]
    assert store.jobs.transition_job(running.id, S.RUNNING, S.TIMEOUT, clock.now(), agent="sweeper")
    assert moves(store, running.id)[-1] == (S.RUNNING, S.TIMEOUT, "sweeper")


def test_retention_purges_a_jobs_transitions_with_it(store: Store, clock: ManualClock) -> None:
    user = new_user(store, clock)
    old = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user), clock.now())
    store.jobs.cancel_job(old.id, user, clock.now())
    kept = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user), clock.now())
    assert len(store.jobs.transitions(old.id)) == 2
    while store.history.purge_finished_jobs(clock.now() + timedelta(seconds=1)):
        pass
    assert store.jobs.transitions(old.id) == []
    assert [t.to_status for t in store.jobs.transitions(kept.id)] == [S.QUEUED]


def test_a_transition_knows_its_user() -> None:
    at = datetime(2026, 1, 1).astimezone()
    assert Transition(from_status=None, to_status=S.QUEUED, at=at, actor="user:12").user_id == 12
    assert Transition(from_status=S.QUEUED, to_status=S.RUNNING, at=at, actor="worker:user:3").user_id is None
    assert Transition(from_status=S.QUEUED, to_status=S.RUNNING, at=at, actor=None).user_id is None
