"""The worker when its database fails: a real store (SQLite and PostgreSQL) behind a wrapper that raises
on the calls a test names, a manual clock, and the worker driven one batch at a time where the order
matters. The worker must carry on, hand back what it has not started, and leave nothing that the
sweeper's rules (DESIGN.md, Job lifecycle) do not resolve."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from vaultjobs.engine import Engine
from vaultjobs.engine.batch import BatchSize, HandBack, HeldUnits, task_key
from vaultjobs.engine.outcomes import OutcomeNotRecorded
from vaultjobs.engine.sweeper import Sweeper
from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.engine.worker import WorkerPool
from vaultjobs.models import Job
from vaultjobs.processors.demo import Demo
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import NewJob, Store, StoreError
from vaultjobs.testing import ManualClock, execute, task_counts
from vaultjobs.timeutil import SystemClock

WORKER = "worker-under-test"


class DatabaseDown(StoreError):
    """What the wrapper raises: the database failed this call."""


class FailingStore:
    """A store that fails on demand: ``fail("work.claim_jobs", times=2)`` makes the next two calls of
    ``store.work.claim_jobs`` raise :class:`DatabaseDown` without reaching the database; every other
    call goes through to the real store. ``calls`` counts the calls of each method, failed or not."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._failures: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def fail(self, name: str, times: int = 1) -> None:
        concern, method = name.split(".")
        assert callable(getattr(getattr(self._store, concern), method)), name
        with self._lock:
            self._failures[name] += times

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if callable(attribute) or name == "dialect":
            return attribute
        return _FailingConcern(self, name, attribute)

    def _call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls[name] += 1
            failing = self._failures[name] > 0
            if failing:
                self._failures[name] -= 1
        if failing:
            raise DatabaseDown(f"the database failed during {name} (injected)")
        return method(*args, **kwargs)


class _FailingConcern:
    """One of the store's query modules (``store.work``, …) behind :class:`FailingStore`."""

    def __init__(self, owner: FailingStore, concern: str, queries: Any) -> None:
        self._owner = owner
        self._concern = concern
        self._queries = queries

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._queries, name)
        if not callable(attribute):
            return attribute
        key = f"{self._concern}.{name}"
        return lambda *args, **kwargs: self._owner._call(key, attribute, *args, **kwargs)


@pytest.fixture
def failing(store: Store) -> FailingStore:
    return FailingStore(store)


@pytest.fixture
def fast(settings: Settings) -> Settings:
    return settings.evolve(poll_interval=0.02, heartbeat_interval=0.02, claim_batch=4)


@pytest.fixture
def impatient(fast: Settings) -> Settings:
    """A worker thread that gives up on a failed write at once (the background writer keeps trying)."""
    return fast.evolve(outcome_retry=0.0)


def pool_of(failing: FailingStore, settings: Settings, clock: ManualClock, size: int = 0) -> WorkerPool:
    """A worker on ``failing``; ``size`` threads when started (0: the test runs its batches)."""
    failing.nodes.register_worker(WORKER, "test", 1, clock.now())
    return WorkerPool(store=failing, registry=Registry([Demo]), settings=settings, clock=clock,  # type: ignore[arg-type]
                      wakeup=Wakeup(), worker_id=WORKER, size=size)


def submit(store: Store, clock: ManualClock, *, items: int, idempotent: bool = True) -> int:
    user = store.users.get_user_by_name("u") or store.users.create_user(
        username="u", password_hash="x", timezone="UTC", is_admin=False, now=clock.now()
    )
    parameters = Demo().validate({"items": items, "chunk_size": 1, "item_seconds": 0})
    new = NewJob(processor="demo", parameters=parameters, created_by=user.id, idempotent=idempotent,
                 inactivity_timeout=60)
    return store.jobs.create_job(new, clock.now()).id


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def job(store: Store, job_id: int) -> Job:
    found = store.jobs.get_job(job_id)
    assert found is not None
    return found


def batch(pool: WorkerPool, size: int) -> bool:
    """One batch of up to ``size`` units, as one turn of a worker thread's loop."""
    claim = BatchSize(size)
    claim.size = size
    return pool._run_batch(claim)


def log_of(store: Store, job_id: int) -> str:
    return "\n".join(line.message for line in store.jobs.read_log(job_id))


def test_a_failed_claim_is_logged_and_the_worker_claims_again(
    failing: FailingStore, fast: Settings, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    failing.fail("work.claim_jobs", times=3)
    pool = pool_of(failing, fast, clock, size=1)
    job_id = submit(failing, clock, items=3)  # type: ignore[arg-type]
    pool.start()
    try:
        wait_for(lambda: job(failing, job_id).status.is_terminal)  # type: ignore[arg-type]
    finally:
        assert pool.stop(grace=5)
    assert job(failing, job_id).status is JobStatus.SUCCESS  # type: ignore[arg-type]
    assert failing.calls["work.claim_jobs"] > 3
    errors = [r for r in caplog.records if r.getMessage() == "worker loop error; carrying on"]
    assert len(errors) == 3 and all(isinstance(r.exc_info[1], DatabaseDown) for r in errors)  # type: ignore[index]


def test_a_short_outage_is_retried_in_place(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store
) -> None:
    """The database refuses the end of a task a few times: the worker thread waits and writes it."""
    pool = pool_of(failing, fast, clock)
    job_id = submit(store, clock, items=3, idempotent=False)
    failing.fail("work.finish_tasks_counted", times=3)
    failing.fail("work.finish_jobs", times=2)
    while batch(pool, 4):
        pass
    assert job(store, job_id).status is JobStatus.SUCCESS
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 3}
    assert failing.calls["work.finish_tasks_counted"] >= 4


def test_a_task_end_that_cannot_be_written_is_written_late_and_the_rest_handed_back(
    failing: FailingStore, impatient: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, impatient, clock)
    job_id = submit(store, clock, items=3, idempotent=False)
    assert batch(pool, 1)  # the job's init, and its first task
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 1, TaskState.QUEUED: 2}
    failing.fail("work.finish_tasks_counted", times=2)
    # Tasks 2 and 3 in one batch: task 2 runs, writing its end fails past the budget, task 3 never starts.
    with pytest.raises(OutcomeNotRecorded):
        batch(pool, 2)
    # Task 3 went back on the queue at once; task 2's real end is written by the background writer as
    # soon as the database takes it (not guessed, not run again: the processor is not idempotent).
    assert pool.outcomes.drain(timeout=10)
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 2, TaskState.QUEUED: 1}
    while batch(pool, 2):
        pass
    assert job(store, job_id).status is JobStatus.SUCCESS
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 3}


def test_the_last_task_end_written_late_hands_the_job_on_to_complete(
    failing: FailingStore, impatient: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, impatient, clock)
    job_id = submit(store, clock, items=1)
    failing.fail("work.finish_tasks_counted", times=3)
    with pytest.raises(OutcomeNotRecorded):
        batch(pool, 1)  # init and its only task ran; its end could not be written
    assert pool.outcomes.drain(timeout=10)
    held = job(store, job_id)
    assert held.phase == "complete" and held.worker_id is None  # any worker may complete it
    assert batch(pool, 1)
    assert job(store, job_id).status is JobStatus.SUCCESS


def test_a_processor_never_sees_the_database_fail_under_its_heartbeat_log_or_cancel_check(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, fast, clock)
    job_id = submit(store, clock, items=2)
    failing.fail("jobs.touch_job_progress", times=100)
    failing.fail("jobs.append_logs", times=100)
    failing.fail("jobs.job_status", times=100)
    ctx, log = pool.context(job(store, job_id))
    clock.advance(2)
    ctx.heartbeat()
    for n in range(3):
        ctx.log(f"line {n}")
        clock.advance(1.1)
    assert not ctx.cancelled
    log.flush()
    assert [message for _, message in log.take()] == ["line 0", "line 1", "line 2"]


def test_a_job_whose_tasks_could_not_be_stored_goes_back_to_init_for_any_worker(
    failing: FailingStore, impatient: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, impatient, clock)
    job_id = submit(store, clock, items=2)
    failing.fail("work.start_tasks_of", times=2)
    with pytest.raises(OutcomeNotRecorded):
        batch(pool, 1)  # init ran, storing its tasks failed: no task exists
    assert task_counts(store, job_id) == {}
    # Handed back in its init phase (a no-op had the tasks reached the database after all): any
    # worker runs init again, without waiting for an inactivity timeout or this worker's death.
    assert pool.outcomes.drain(timeout=10)
    held = job(store, job_id)
    assert held.status is JobStatus.RUNNING and held.phase == "init" and held.worker_id is None
    other = WorkerPool(store=store, registry=Registry([Demo]), settings=impatient, clock=clock, wakeup=Wakeup(),
                       worker_id="another", size=0)
    store.nodes.register_worker("another", "test", 2, clock.now())
    while batch(other, 4):
        pass
    assert job(store, job_id).status is JobStatus.SUCCESS
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 2}


def test_a_failed_task_claim_gives_back_the_jobs_claimed_with_it(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, fast, clock)
    job_id = submit(store, clock, items=1)
    failing.fail("work.claim_tasks")
    with pytest.raises(DatabaseDown):
        batch(pool, 2)  # the job is claimed; the claim of tasks for the rest of the batch fails
    assert batch(pool, 2), "the job was not handed back"
    while batch(pool, 2):
        pass
    assert job(store, job_id).status is JobStatus.SUCCESS


def test_a_hand_back_that_fails_keeps_the_units_and_tries_again(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store
) -> None:
    pool = pool_of(failing, fast, clock)
    job_id = submit(store, clock, items=3)
    assert batch(pool, 1)  # init and the first task
    tasks = store.work.claim_tasks(WORKER, clock.now(), 2)  # as a batch of this worker would
    held = HeldUnits(clock)
    keys = [task_key(t.job_id, t.seq) for t in tasks]
    held.hold(keys)
    failing.fail("work.release")
    handed: list[int] = []
    hand_back = HandBack(failing, WORKER, hold=0.2, clock=clock,  # type: ignore[arg-type]
                         on_handed_back=lambda: handed.append(1))
    hand_back.track(held)
    hand_back.start()
    try:
        assert held.start(keys[0])  # the first runs, and runs long
        clock.advance(0.2)
        wait_for(lambda: failing.calls["work.release"] >= 2)  # the first hand-back failed, the next one went through
        wait_for(lambda: bool(handed))
    finally:
        hand_back.stop()
    assert not held.start(keys[1]), "a handed-back unit must not run here too"
    # the unit left for others is queued again; the one that was running is still this worker's
    assert task_counts(store, job_id) == {TaskState.SUCCESS: 1, TaskState.RUNNING: 1, TaskState.QUEUED: 1}


def test_the_engine_heartbeat_survives_failures(
    failing: FailingStore, fast: Settings, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = Engine(store=failing, registry=Registry([Demo]), settings=fast.evolve(workers=0),  # type: ignore[arg-type]
                    clock=clock, run_scheduler=False)
    failing.fail("nodes.heartbeat_worker", times=3)
    engine.start()
    try:
        wait_for(lambda: failing.calls["nodes.heartbeat_worker"] >= 4)  # three failed, then it beats again
        clock.advance(fast.heartbeat_timeout + 10)
        beats = failing.calls["nodes.heartbeat_worker"]
        wait_for(lambda: failing.calls["nodes.heartbeat_worker"] >= beats + 2)  # one beat wholly after the move
        assert engine.worker_id not in failing.nodes.dead_workers(clock.now(), fast.heartbeat_timeout)
    finally:
        engine.stop()
    assert sum(r.getMessage() == "heartbeat failed" for r in caplog.records) == 3


def test_a_dead_worker_is_resolved_by_the_sweeper_of_another(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store
) -> None:
    """The heartbeat failing for longer than the timeout looks like death to the others: the
    idempotent job's unfinished tasks are queued again, and run by another worker."""
    pool = pool_of(failing, fast, clock)
    job_id = submit(store, clock, items=3)
    assert batch(pool, 1)
    store.work.claim_tasks(WORKER, clock.now(), 2)  # claimed, then the worker fell silent
    clock.advance(fast.heartbeat_timeout + 1)
    report = Sweeper(store=store, settings=fast, clock=clock, wakeup=Wakeup(), own_worker_id="another").tick()
    assert [r.requeued_tasks for r in report] == [2]
    other = WorkerPool(store=store, registry=Registry([Demo]), settings=fast, clock=clock, wakeup=Wakeup(),
                       worker_id="another", size=0)
    store.nodes.register_worker("another", "test", 2, clock.now())
    while batch(other, 4):
        pass
    assert job(store, job_id).status is JobStatus.SUCCESS
    assert "runs again" in log_of(store, job_id)



def test_an_engine_declared_dead_while_it_runs_carries_on_under_a_new_id(
    store: Store, fast: Settings, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Another node's sweeper recovers this engine's worker (its heartbeats were late): the engine
    learns it at its next heartbeat, registers again under a new id, and runs jobs as before."""
    engine = Engine(store=store, registry=Registry([Demo]), settings=fast.evolve(workers=1), clock=clock,
                    run_scheduler=False)
    engine.start()
    try:
        old = engine.worker_id
        store.nodes.recover_worker(old, clock.now())  # as a sweeper that found it silent
        wait_for(lambda: engine.worker_id != old)
        assert store.work.claim_jobs(old, clock.now(), 5) == []
        job_id = submit(store, clock, items=2)
        engine.notify_queued()
        wait_for(lambda: job(store, job_id).status is JobStatus.SUCCESS)
        assert engine.worker_id not in store.nodes.dead_workers(clock.now(), fast.heartbeat_timeout)
    finally:
        engine.stop()
    assert any("was declared dead while it ran" in r.getMessage() for r in caplog.records)


def test_a_task_run_before_a_slow_unit_of_its_batch_is_recorded_while_that_unit_runs(
        failing: FailingStore, fast: Settings) -> None:
    """Ends of an idempotent processor's tasks are written together, after the batch's tasks; a long
    unit after them must not keep them (and their job) unrecorded until it ends."""
    real = SystemClock()
    failing.nodes.register_worker(WORKER, "test", 1, real.now())
    pool = WorkerPool(store=failing, registry=Registry([Demo]), settings=fast.evolve(batch_hold=0.1),  # type: ignore[arg-type]
                      clock=real, wakeup=Wakeup(), worker_id=WORKER, size=0)
    quick = submit(failing._store, real, items=1)  # type: ignore[arg-type]
    user = failing.users.get_user_by_name("u")
    assert user is not None
    slow = failing.jobs.create_job(NewJob(
        processor="demo", parameters=Demo().validate({"items": 1, "item_seconds": 4}), created_by=user.id,
        idempotent=True), real.now()).id
    pool._hand_back.start()
    runner = threading.Thread(target=batch, args=(pool, 4))  # both inits, then the quick task, then the slow one
    runner.start()
    try:
        wait_for(lambda: task_counts(failing._store, quick).get(TaskState.SUCCESS) == 1, timeout=3)
        # The quick job waits in its complete phase for any worker, not for the busy batch (the task's
        # end and the job's hand-back are two writes: wait for the second too).
        wait_for(lambda: (job(failing._store, quick).phase, job(failing._store, quick).worker_id) == ("complete", None),
                 timeout=3)
        assert runner.is_alive() and job(failing._store, slow).status is JobStatus.RUNNING
    finally:
        runner.join(20)
        pool._hand_back.stop()
    assert batch(pool, 4)
    assert job(failing._store, quick).status is JobStatus.SUCCESS
    assert job(failing._store, slow).status is JobStatus.SUCCESS


# -- jobs of one task run through in one go -------------------------------------------------------


def run_all(pool: WorkerPool, *, through: bool) -> None:
    """Run every unit there is, in batches of 4; ``through``: with the hand-back watcher running,
    under which a batch runs a job of one task through in one go."""
    if through:
        pool._hand_back.start()
    try:
        while batch(pool, 4):
            pass
    finally:
        pool._hand_back.stop()


def other_pool(store: Store, settings: Settings, clock: ManualClock | SystemClock, worker_id: str) -> WorkerPool:
    store.nodes.register_worker(worker_id, "test", 2, clock.now())
    return WorkerPool(store=store, registry=Registry([Demo]), settings=settings, clock=clock, wakeup=Wakeup(),
                      worker_id=worker_id, size=0)


def what_it_left(store: Store, job_id: int) -> tuple[object, ...]:
    """A finished job as a user sees it, without the times and the worker: status, result, log lines,
    and each task's state, attempts, message and output."""
    found = job(store, job_id)
    tasks = store.jobs.list_tasks(job_id, 100, 0).items
    return (found.status, found.result, found.phase, found.worker_id,
            [line.message.replace(f"job {job_id} ", "job N ").split(" on worker ")[0]
             for line in store.jobs.read_log(job_id)],
            [(t.task_id, t.state, t.attempts, t.message, t.output) for t in tasks])


@pytest.mark.parametrize("fail", [False, True])
def test_a_job_of_one_task_run_through_ends_as_it_would_in_three_writes(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store, fail: bool
) -> None:
    """Run through in one go, a job of one task leaves exactly what it leaves when its task, the
    task's end and the job's end are written apart (log lines, task, result), in one write."""
    parameters = {"items": 1, "chunk_size": 1, "item_seconds": 0, "fail_items": [1] if fail else []}
    user = store.users.create_user(username="u", password_hash="x", timezone="UTC", is_admin=False, now=clock.now())

    def new() -> int:
        made = NewJob(processor="demo", parameters=Demo().validate(parameters), created_by=user.id, idempotent=True)
        return store.jobs.create_job(made, clock.now()).id

    apart = new()
    run_all(other_pool(store, fast, clock, "apart"), through=False)
    through = new()
    pool = pool_of(failing, fast, clock)
    run_all(pool, through=True)
    assert what_it_left(store, through) == what_it_left(store, apart)
    assert job(store, through).status is (JobStatus.ERRORS_ENCOUNTERED if fail else JobStatus.SUCCESS)
    assert failing.calls["work.finish_solo_jobs"] == 1
    assert failing.calls["work.start_tasks_of"] == failing.calls["work.finish_tasks_counted"] == 0
    assert execute(store, "SELECT worker_id, attempts FROM tasks WHERE job_id = ?", (through,)) == [(WORKER, 1)]


@pytest.mark.parametrize("meanwhile", [JobStatus.CANCELLING, JobStatus.TIMEOUT])
def test_a_job_run_through_that_is_cancelled_or_ended_while_its_task_runs(
    failing: FailingStore, fast: Settings, clock: ManualClock, store: Store, meanwhile: JobStatus
) -> None:
    """Cancelled while its task runs, it ends CANCELLED with its task and ``complete`` does not run;
    ended elsewhere (timed out), it is left as it is, with its log lines."""
    pool = pool_of(failing, fast, clock)
    user = store.users.create_user(username="u", password_hash="x", timezone="UTC", is_admin=False, now=clock.now())
    job_id = store.jobs.create_job(NewJob(processor="demo", created_by=user.id, idempotent=True, parameters=Demo(
    ).validate({"items": 1, "chunk_size": 1, "item_seconds": 30})), clock.now()).id
    pool._hand_back.start()
    runner = threading.Thread(target=batch, args=(pool, 4))
    runner.start()
    try:
        wait_for(lambda: job(store, job_id).phase == "init" and job(store, job_id).worker_id == WORKER)
        assert store.jobs.transition_job(job_id, JobStatus.RUNNING, meanwhile, clock.now())
        deadline = time.monotonic() + 20
        while runner.is_alive() and time.monotonic() < deadline:
            clock.advance(1)  # the task's next look at the job, once it runs, sees it
            runner.join(0.05)
    finally:
        runner.join(20)
        pool._hand_back.stop()
    assert not runner.is_alive()
    found = job(store, job_id)
    log = log_of(store, job_id)
    assert "demo: 1 items in tasks of 1" in log and "tasks succeeded" not in log
    if meanwhile is JobStatus.CANCELLING:
        assert found.status is JobStatus.CANCELLED
        assert task_counts(store, job_id) == {TaskState.CANCELLED: 1}
        assert log.endswith("Task1 stopped: the job is CANCELLING\njob ended CANCELLED")
    else:
        assert found.status is JobStatus.TIMEOUT and task_counts(store, job_id) == {}
        assert log.endswith("Task1 stopped: the job is TIMEOUT")


def test_the_task_of_a_job_run_through_shows_as_running_once_it_runs_long(
        failing: FailingStore, fast: Settings) -> None:
    """A user and the workers view see the task of a long job of one task as they see any other."""
    real = SystemClock()
    failing.nodes.register_worker(WORKER, "test", 1, real.now())
    pool = WorkerPool(store=failing, registry=Registry([Demo]), settings=fast.evolve(batch_hold=0.1),  # type: ignore[arg-type]
                      clock=real, wakeup=Wakeup(), worker_id=WORKER, size=0)
    user = failing.users.create_user(username="u", password_hash="x", timezone="UTC", is_admin=False, now=real.now())
    job_id = failing.jobs.create_job(NewJob(processor="demo", created_by=user.id, idempotent=True, parameters=Demo(
    ).validate({"items": 1, "chunk_size": 1, "item_seconds": 1.5})), real.now()).id
    store = failing._store
    pool._hand_back.start()
    runner = threading.Thread(target=batch, args=(pool, 4))
    runner.start()
    try:
        wait_for(lambda: task_counts(store, job_id) == {TaskState.RUNNING: 1}, timeout=3)
        assert job(store, job_id).phase == "process"
        assert runner.is_alive()
    finally:
        runner.join(20)
        pool._hand_back.stop()
    assert job(store, job_id).status is JobStatus.SUCCESS and task_counts(store, job_id) == {TaskState.SUCCESS: 1}
    assert failing.calls["work.finish_solo_jobs"] == 0  # it ended as any job's task does


@pytest.mark.parametrize("failing_call", ["jobs.job_statuses", "work.finish_solo_jobs"])
def test_a_job_run_through_whose_end_cannot_be_written_is_ended_once_the_database_is_back(
    failing: FailingStore, impatient: Settings, clock: ManualClock, store: Store, failing_call: str
) -> None:
    """The status read before ``complete`` fails: the job is handed over, its task stored as ended, for
    any worker to complete. The end's write fails: the background writer writes it."""
    pool = pool_of(failing, impatient, clock)
    job_id = submit(store, clock, items=1)
    failing.fail(failing_call, times=1)
    pool._hand_back.start()
    try:
        with pytest.raises(OutcomeNotRecorded):
            batch(pool, 4)
        assert pool.outcomes.drain(timeout=10)
        if failing_call == "jobs.job_statuses":
            held = job(store, job_id)
            assert (held.status, held.phase, held.worker_id) == (JobStatus.RUNNING, "complete", None)
            assert task_counts(store, job_id) == {TaskState.SUCCESS: 1}
            while batch(pool, 4):
                pass
    finally:
        pool._hand_back.stop()
    assert job(store, job_id).status is JobStatus.SUCCESS and task_counts(store, job_id) == {TaskState.SUCCESS: 1}
    assert log_of(store, job_id).count("job ended SUCCESS") == 1


def real_pool(failing: FailingStore, settings: Settings) -> tuple[WorkerPool, SystemClock, int]:
    """A worker on the real clock (the hand-back watcher measures the hold on it), and a user id."""
    real = SystemClock()
    failing.nodes.register_worker(WORKER, "test", 1, real.now())
    pool = WorkerPool(store=failing, registry=Registry([Demo]), settings=settings.evolve(batch_hold=0.1),  # type: ignore[arg-type]
                      clock=real, wakeup=Wakeup(), worker_id=WORKER, size=0)
    user = failing.users.create_user(username="u", password_hash="x", timezone="UTC", is_admin=False, now=real.now())
    return pool, real, user.id


def demo_job(failing: FailingStore, clock: SystemClock, user: int, items: int, seconds: float) -> int:
    parameters = Demo().validate({"items": items, "chunk_size": 1, "item_seconds": seconds})
    return failing.jobs.create_job(NewJob(processor="demo", created_by=user, idempotent=True, parameters=parameters),
                                   clock.now()).id


def test_a_promoted_task_is_recorded_when_the_batch_fails_after_it(failing: FailingStore, impatient: Settings) -> None:
    """The task of a job run through, stored as RUNNING once it ran long, ends before the batch writes
    task ends; when the batch fails first (here: the status read of the next job run through), the
    task's end is still written and its job completed by any worker, not left RUNNING under a live
    worker. The tasks of the batch's other jobs were stored before either ran."""
    pool, real, user = real_pool(failing, impatient)
    store = failing._store
    multi, slow, quick = demo_job(failing, real, user, 2, 0), demo_job(failing, real, user, 1, 0.6), \
        demo_job(failing, real, user, 1, 0)
    pool._hand_back.start()
    runner_error: list[BaseException] = []

    def run() -> None:
        try:
            batch(pool, 4)
        except BaseException as exc:
            runner_error.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    try:
        wait_for(lambda: task_counts(store, slow) == {TaskState.RUNNING: 1}, timeout=3)
        assert sum(task_counts(store, multi).values()) == 2  # stored before the slow task ran
        failing.fail("jobs.job_statuses")  # the next read: the quick job's status, before its complete
        runner.join(20)
        assert [type(exc) for exc in runner_error] == [OutcomeNotRecorded]
        assert pool.outcomes.drain(timeout=10)
        while batch(pool, 4):
            pass
    finally:
        pool._hand_back.stop()
    assert job(store, multi).status is JobStatus.SUCCESS and task_counts(store, multi) == {TaskState.SUCCESS: 2}
    for job_id in (slow, quick):
        assert job(store, job_id).status is JobStatus.SUCCESS and task_counts(store, job_id) == {TaskState.SUCCESS: 1}
        assert log_of(store, job_id).count("demo: 1 of 1 tasks succeeded") == 1


def test_jobs_run_through_are_handed_over_while_the_complete_of_another_runs_long(
    failing: FailingStore, fast: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool, real, user = real_pool(failing, fast)
    store = failing._store
    first, *others = [demo_job(failing, real, user, 1, 0) for _ in range(3)]
    complete = Demo.complete

    def slow_for_the_first(self: Demo, ctx: Any, result: Any) -> None:
        if ctx.job_id == first:
            time.sleep(1.0)
        complete(self, ctx, result)

    monkeypatch.setattr(Demo, "complete", slow_for_the_first)
    pool._hand_back.start()
    runner = threading.Thread(target=batch, args=(pool, 4))
    runner.start()
    try:
        for job_id in others:  # their tasks stored as ended, the jobs left for any worker to complete
            wait_for(lambda: (job(store, job_id).phase, job(store, job_id).worker_id) == ("complete", None),  # noqa: B023
                     timeout=3)
            assert task_counts(store, job_id) == {TaskState.SUCCESS: 1}
        assert runner.is_alive()
        runner.join(20)
        assert job(store, first).status is JobStatus.SUCCESS
        while batch(pool, 4):
            pass
    finally:
        pool._hand_back.stop()
    for job_id in others:
        assert job(store, job_id).status is JobStatus.SUCCESS
        assert log_of(store, job_id).count("job ended SUCCESS") == 1
