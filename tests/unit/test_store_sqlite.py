from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import NewJob, SqliteStore, StoreError, TaskOutcome, UserExists
from vaultjobs.store.jobs import status_read_sql
from vaultjobs.testing import (
    ManualClock,
    claim_job,
    claim_task,
    execute,
    finish_job,
    finish_task,
    start_tasks,
    task_counts,
)


def make_user(store: SqliteStore, clock: ManualClock, name: str = "alice") -> int:
    return store.users.create_user(username=name, password_hash="x", timezone="UTC", is_admin=False, now=clock.now()).id


def make_job(store: SqliteStore, clock: ManualClock, user: int, **kw: object) -> int:
    new = NewJob(processor="demo", parameters={"items": 1}, created_by=user, **kw)  # type: ignore[arg-type]
    return store.jobs.create_job(new, clock.now()).id


def test_migrate_is_idempotent(store: SqliteStore) -> None:
    assert store.migrate() == []


def test_usernames_are_unique_case_insensitively(store: SqliteStore, clock: ManualClock) -> None:
    make_user(store, clock, "Alice")
    with pytest.raises(UserExists):
        make_user(store, clock, "alice")


def test_job_ids_are_never_reused(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    first = make_job(store, clock, user)
    execute(store, "DELETE FROM jobs WHERE id = ?", (first,))
    assert make_job(store, clock, user) == first + 1


def test_transition_is_conditional(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    assert store.jobs.transition_job(job_id, JobStatus.QUEUED, JobStatus.CANCELLED, clock.now())
    # a second mover expecting the old state loses
    assert not store.jobs.transition_job(job_id, JobStatus.QUEUED, JobStatus.CANCELLED, clock.now())
    job = store.jobs.get_job(job_id)
    # it never ran, so it has no run dates
    assert job is not None and job.status is JobStatus.CANCELLED and job.run_start is None and job.run_end is None


def test_illegal_transition_is_refused(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    with pytest.raises(StoreError):
        store.jobs.transition_job(job_id, JobStatus.QUEUED, JobStatus.SUCCESS, clock.now())


def test_a_queued_job_waits_behind_an_older_jobs_queued_tasks(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    older = make_job(store, clock, user)
    claim_job(store, "w1", clock.now())
    start_tasks(store, older, "w1", ["[]"], clock.now())
    make_job(store, clock, user)
    assert claim_job(store, "w2", clock.now()) is None
    task = claim_task(store, "w2", clock.now())
    assert task is not None and task.job_id == older
    assert claim_job(store, "w2", clock.now()) is not None


def test_claim_takes_oldest_queued_job_once(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    first = make_job(store, clock, user)
    second = make_job(store, clock, user)
    claimed = claim_job(store, "w1", clock.now())
    assert claimed is not None and claimed.id == first and claimed.status is JobStatus.RUNNING
    assert claimed.phase == "init" and claimed.run_start is not None
    again = claim_job(store, "w2", clock.now())
    assert again is not None and again.id == second
    assert claim_job(store, "w3", clock.now()) is None


def test_concurrent_claims_never_share_a_job(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    ids = {make_job(store, clock, user) for _ in range(60)}
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := claim_job(store, name, clock.now())) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def run_tasks(store: SqliteStore, clock: ManualClock, worker: str, fail: set[int] = frozenset()) -> list[bool]:  # type: ignore[assignment]
    lasts = []
    while (task := claim_task(store, worker, clock.now())) is not None:
        state = TaskState.ERRORS_ENCOUNTERED if task.seq in fail else TaskState.SUCCESS
        lasts.append(finish_task(store, task.job_id, task.seq, worker, TaskOutcome(state=state), clock.now()))
    return lasts


def test_tasks_flow_and_last_task_hands_over_completion(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    claim_job(store, "w1", clock.now())
    assert start_tasks(store, job_id, "w1", ['[{"n":1}]', '[{"n":2}]', '[{"n":3}]'], clock.now()).complete_now is False
    assert task_counts(store, job_id) == {TaskState.QUEUED: 3}
    assert run_tasks(store, clock, "w2", fail={2}) == [False, False, True]
    job = store.jobs.get_job(job_id)
    assert job is not None and job.phase == "complete" and job.worker_id == "w2"
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 2, TaskState.ERRORS_ENCOUNTERED: 1}
    assert [t.seq for t in store.jobs.failed_tasks(job_id)] == [2]
    assert finish_job(store, job_id, "w2", JobStatus.ERRORS_ENCOUNTERED, clock.now(), {"failed": 1})
    job = store.jobs.get_job(job_id)
    assert job is not None and job.status is JobStatus.ERRORS_ENCOUNTERED and job.result == {"failed": 1}


def test_job_without_items_goes_straight_to_complete(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    claim_job(store, "w1", clock.now())
    assert start_tasks(store, job_id, "w1", [], clock.now()).complete_now is True


def test_start_tasks_can_hand_the_first_task_to_the_initialising_worker(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    claim_job(store, "w1", clock.now())
    started = start_tasks(store, job_id, "w1", ['[{"n":1}]', '[{"n":2}]'], clock.now(), claim_first=True,
                                logs=[(clock.now(), "two tasks")])
    assert started.first_task is not None and started.first_task.items == [{"n": 1}]
    assert task_counts(store, job_id) == {TaskState.RUNNING: 1, TaskState.QUEUED: 1}
    assert [line.message for line in store.jobs.read_log(job_id)] == ["two tasks"]
    other = claim_task(store, "w2", clock.now())
    assert other is not None and other.seq == 2


def test_list_tasks_pages(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    job_id = make_job(store, clock, user)
    claim_job(store, "w1", clock.now())
    start_tasks(store, job_id, "w1", ["[]"] * 7, clock.now())
    page = store.jobs.list_tasks(job_id, limit=3, offset=3)
    assert page.total == 7
    assert [t.task_id for t in page.items] == ["Task4", "Task5", "Task6"]


def test_status_window_gives_one_success_per_window(store: SqliteStore, clock: ManualClock) -> None:
    assert store.status_windows.open(1, clock.now(), 10) is None
    clock.advance(4)
    assert store.status_windows.open(1, clock.now(), 10) == pytest.approx(6)
    clock.advance(3)
    # a refused call did not move the window
    assert store.status_windows.open(1, clock.now(), 10) == pytest.approx(3)
    # other jobs have their own windows
    assert store.status_windows.open(2, clock.now(), 10) is None
    clock.advance(3)
    assert store.status_windows.open(1, clock.now(), 10) is None


def test_status_window_under_concurrency(store: SqliteStore, clock: ManualClock) -> None:
    results: list[float | None] = []
    barrier = threading.Barrier(20)

    def poll() -> None:
        barrier.wait()
        results.append(store.status_windows.open(42, clock.now(), 10))

    threads = [threading.Thread(target=poll) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(None) == 1


def test_recover_dead_worker_requeues_idempotent_and_ends_others(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    store.nodes.register_worker("dead", "h", 1, clock.now())
    idem = make_job(store, clock, user, idempotent=True)
    other = make_job(store, clock, user, idempotent=False)
    for _ in (idem, other):
        claim_job(store, "dead", clock.now())
    for job_id in (idem, other):
        start_tasks(store, job_id, "dead", ["[]", "[]"], clock.now())
    # the dead worker was running the first task of each job
    assert claim_task(store, "dead", clock.now()) is not None
    claim_task(store, "dead", clock.now())
    claim_task(store, "dead", clock.now())
    clock.advance(60)
    assert store.nodes.dead_workers(clock.now(), timeout=30) == ["dead"]
    report = store.nodes.recover_worker("dead", clock.now())
    assert report.requeued_jobs == [idem]
    assert report.ended_jobs == [other]
    assert task_counts(store, idem) == {TaskState.QUEUED: 2}
    ended = store.jobs.get_job(other)
    assert ended is not None and ended.status is JobStatus.COMPLETED_DUE_TO_INACTIVITY
    assert "not idempotent" in store.jobs.read_log(other)[-1].message
    assert store.nodes.dead_workers(clock.now(), timeout=30) == []


def test_stopped_worker_is_dead_at_once(store: SqliteStore, clock: ManualClock) -> None:
    store.nodes.register_worker("w", "h", 1, clock.now())
    assert store.nodes.dead_workers(clock.now(), timeout=30) == []
    store.nodes.stop_worker("w", clock.now())
    assert store.nodes.dead_workers(clock.now(), timeout=30) == ["w"]


def test_sessions(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    store.users.create_session(b"h1", user, clock.now())
    found = store.users.get_session(b"h1")
    assert found is not None and found[1].id == user
    store.users.set_password(user, "new", clock.now())
    assert store.users.get_session(b"h1") is None


def test_scheduled_jobs_due(store: SqliteStore, clock: ManualClock) -> None:
    user = make_user(store, clock)
    later = clock.now() + timedelta(seconds=30)
    job_id = make_job(store, clock, user, status=JobStatus.SCHEDULED, scheduled=True, scheduled_for=later)
    assert store.schedules.due_scheduled_jobs(clock.now()) == []
    assert store.schedules.next_scheduled_time() == later
    clock.advance(30)
    assert [j.id for j in store.schedules.due_scheduled_jobs(clock.now())] == [job_id]


def _vm_steps(store: SqliteStore, call: Callable[[], object]) -> int:
    """Hundreds of SQLite VM instructions ``call`` runs on this thread's connection: its work, which
    no clock or machine load moves."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    conn = store.dialect.connection()
    conn.set_progress_handler(tick, 100)
    try:
        call()
    finally:
        conn.set_progress_handler(None, 100)
    return count[0]


def _copy_job(store: SqliteStore, which: str, copies: int) -> None:
    """``copies`` more jobs like the one ``which`` (``min`` or ``max``) id names, in one statement."""
    columns = ", ".join(row[1] for row in execute(store, "PRAGMA table_info(jobs)") if row[1] != "id")
    execute(store, f"INSERT INTO jobs ({columns}) SELECT {columns} FROM jobs, (WITH RECURSIVE n(i) AS "
                   f"(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {copies}) SELECT i FROM n) "
                   f"WHERE jobs.id = (SELECT {which}(id) FROM jobs)")


def _claim_costs(store: SqliteStore, clock: ManualClock, which: str, status: str) -> tuple[int, int]:
    """The VM steps (:func:`_vm_steps`) of a claim of 8 among 40 queued jobs, and of the next claim once
    5,000 copies of the job ``which`` names (:func:`_copy_job`) put more than 5,000 jobs in ``status``."""
    user = make_user(store, clock)
    for _ in range(40):
        make_job(store, clock, user)
    before = _vm_steps(store, lambda: store.work.claim_jobs("w1", clock.now(), 8))
    _copy_job(store, which, 5000)
    assert execute(store, "SELECT count(*) FROM jobs WHERE status = ?", (status,))[0][0] > 5000
    return before, _vm_steps(store, lambda: store.work.claim_jobs("w1", clock.now(), 8))


def test_a_claim_costs_the_same_behind_a_short_queue_and_a_long_one(store: SqliteStore, clock: ManualClock) -> None:
    """The claim looks its jobs up by id: SQLite's planner, left to itself, walked the status index
    over every queued job to check the statement's other terms, a claim of 32 jobs costing ten times
    more behind 20,000 queued jobs than behind 5,000."""
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite's planner")
    short, long = _claim_costs(store, clock, "max", "QUEUED")
    assert long < 2 * short, (short, long)


def test_a_write_that_returns_rows_lets_the_next_writer_in_at_once(store: SqliteStore, clock: ManualClock) -> None:
    """A statement's ``RETURNING`` rows are read before the write lock goes: read later, the statement
    kept its write transaction open, and the next writer slept in SQLite's busy handler."""
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite's write lock")
    user = make_user(store, clock)
    for _ in range(3):
        make_job(store, clock, user)
    updated = store.dialect.write_one("UPDATE jobs SET title = 'renamed' RETURNING id")
    other = sqlite3.connect(store.path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" while that statement is unfinished
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert len(updated.fetchall()) == 3 and updated.rowcount == 3


def test_a_claim_costs_the_same_with_few_jobs_running_and_many(store: SqliteStore, clock: ManualClock) -> None:
    """Besides QUEUED jobs a claim takes running jobs between phases that nobody holds, from an index
    of their own: through the status index it read every running job to find them."""
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite's planner")
    few, many = _claim_costs(store, clock, "min", "RUNNING")  # copies of a claimed job: RUNNING, held
    assert many < 2 * few, (few, many)


def test_the_status_read_looks_everything_up_and_sorts_nothing(store: SqliteStore, clock: ManualClock) -> None:
    """Retrieve Job Status's read, on every poll of every client: the job by id and its tasks through
    the job's key, counted as they come. Grouped by state in a sub-select, it built a temporary
    B-tree on each call, 40% of the read's cost."""
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite's planner")
    steps = [row[3] for row in execute(store, f"EXPLAIN QUERY PLAN {status_read_sql(store.dialect)}", (1,))]
    assert all(step.startswith("SEARCH") for step in steps), steps
    assert len(steps) == 3, steps
