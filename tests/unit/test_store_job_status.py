"""The store's one writer of job status (vaultjobs.store.job_status) on both backends."""

from __future__ import annotations

import pytest

from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import NewJob, Store, StoreError
from vaultjobs.store.job_status import Move, move_jobs
from vaultjobs.testing import ManualClock, start_tasks, task_counts
from vaultjobs.timeutil import to_ms


def running_jobs_with_queued_tasks(store: Store, clock: ManualClock, count: int) -> list[int]:
    user = store.users.create_user(username="alice", password_hash="x", timezone="UTC", is_admin=False,
                                   now=clock.now())
    ids = [store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user.id, idempotent=True),
                                 clock.now()).id for _ in range(count)]
    assert [job.id for job in store.work.claim_jobs("w1", clock.now(), count)] == ids
    for job_id in ids:
        start_tasks(store, job_id, "w1", ["[]", "[]"], clock.now())
    return ids


def test_moves_only_the_jobs_still_as_expected_and_stops_their_queued_tasks(store: Store, clock: ManualClock) -> None:
    timed_out, other, cancelling = running_jobs_with_queued_tasks(store, clock, 3)
    assert store.jobs.transition_job(cancelling, JobStatus.RUNNING, JobStatus.CANCELLING, clock.now())
    assert task_counts(store, cancelling) == {TaskState.CANCELLED: 2}
    clock.advance(5)
    with store.dialect.write() as conn:
        moved = move_jobs(store.dialect, conn, [
            Move(timed_out, JobStatus.RUNNING, JobStatus.TIMEOUT),
            Move(other, JobStatus.QUEUED, JobStatus.CANCELLED),
            Move(cancelling, JobStatus.RUNNING, JobStatus.SUCCESS),
        ], to_ms(clock.now()), by=7)
    assert moved == {timed_out}
    jobs = store.jobs.get_jobs([timed_out, other, cancelling])
    ended = jobs[timed_out]
    assert (ended.status, ended.phase, ended.worker_id, ended.modified_by) == (JobStatus.TIMEOUT, None, None, 7)
    assert ended.run_end == ended.modified_at == clock.now() and ended.result is None
    assert task_counts(store, timed_out) == {TaskState.CANCELLED: 2}
    assert jobs[other].status is JobStatus.RUNNING and task_counts(store, other) == {TaskState.QUEUED: 2}
    assert jobs[cancelling].status is JobStatus.CANCELLING


def test_a_move_the_transition_table_forbids_writes_nothing(store: Store, clock: ManualClock) -> None:
    first, second = running_jobs_with_queued_tasks(store, clock, 2)
    with pytest.raises(StoreError, match="cannot move from RUNNING to QUEUED"), store.dialect.write() as conn:
        move_jobs(store.dialect, conn, [
            Move(first, JobStatus.RUNNING, JobStatus.TIMEOUT),
            Move(second, JobStatus.RUNNING, JobStatus.QUEUED),
        ], to_ms(clock.now()))
    assert store.jobs.job_statuses([first, second]) == {first: JobStatus.RUNNING, second: JobStatus.RUNNING}
    assert task_counts(store, first) == {TaskState.QUEUED: 2}


def test_a_worker_ends_only_what_it_holds_and_writes_the_result(store: Store, clock: ManualClock) -> None:
    (job,) = running_jobs_with_queued_tasks(store, clock, 1)
    result = {"tasks": 2}
    with store.dialect.write() as conn:
        assert move_jobs(store.dialect, conn, [Move(job, JobStatus.RUNNING, JobStatus.SUCCESS, result, True)],
                         to_ms(clock.now()), held_by="w1") == set()  # the job is between phases: nobody holds it
        assert move_jobs(store.dialect, conn, [Move(job, JobStatus.RUNNING, JobStatus.SUCCESS, result, True)],
                         to_ms(clock.now())) == {job}
    ended = store.jobs.get_job(job)
    assert ended is not None and ended.status is JobStatus.SUCCESS and ended.result == result


def test_a_claim_stamped_before_the_job_was_queued_starts_it_when_it_was_queued(
    store: Store, clock: ManualClock
) -> None:
    user = store.users.create_user(username="alice", password_hash="x", timezone="UTC", is_admin=False,
                                   now=clock.now())
    stamp = clock.now()  # a worker takes its claim's stamp ...
    clock.advance(5)
    queued_at = clock.now()  # ... a job is queued meanwhile ...
    job = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user.id, idempotent=True),
                                queued_at)
    (claimed,) = store.work.claim_jobs("w1", stamp, 1)  # ... and the claim lands
    assert claimed.id == job.id and claimed.status is JobStatus.RUNNING
    assert claimed.run_start == queued_at and claimed.modified_at == queued_at
    later = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user.id, idempotent=True),
                                  queued_at)
    clock.advance(2)
    (claimed,) = store.work.claim_jobs("w1", clock.now(), 1)  # a later stamp is the run's start, as ever
    assert claimed.id == later.id and claimed.run_start == clock.now()
