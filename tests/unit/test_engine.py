"""The engine in one process on a real SQLite file: processors run through init, tasks and complete."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from vaultjobs.engine import Engine
from vaultjobs.engine.worker import InitFailed, chunk_items
from vaultjobs.models import Job
from vaultjobs.processors.demo import Demo
from vaultjobs.registry import Registry
from vaultjobs.sdk import JobContext, JobResult, ProcessorError, Task, processor
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import NewJob, SqliteStore
from vaultjobs.testing import task_counts
from vaultjobs.timeutil import SystemClock

COMPLETED: list[JobResult] = []


@processor("raises_in_process", chunk_size=2)
class RaisesInProcess:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": n} for n in range(4)]

    def process(self, ctx: JobContext, task: Task) -> None:
        if any(item["n"] == 3 for item in task.items):
            raise RuntimeError("boom")

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        COMPLETED.append(result)


@processor("raises_in_init")
class RaisesInInit:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        raise KeyError("missing")

    def process(self, ctx: JobContext, task: Task) -> None:  # pragma: no cover - never reached
        pass


@processor("too_many_tasks", chunk_size=1)
class TooManyTasks:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{} for _ in range(5001)]

    def process(self, ctx: JobContext, task: Task) -> None:  # pragma: no cover - never reached
        pass


@processor("raises_in_complete")
class RaisesInComplete:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{}]

    def process(self, ctx: JobContext, task: Task) -> None:
        ctx.heartbeat()

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        raise ValueError("cannot finish")


@processor("no_items")
class NoItems:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return []

    def process(self, ctx: JobContext, task: Task) -> None:  # pragma: no cover - never reached
        pass


@processor("nap", idempotent=True)
class Nap:
    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{}]

    def process(self, ctx: JobContext, task: Task) -> None:
        time.sleep(float(ctx.parameters.get("seconds", 0)))


@pytest.fixture
def engine(store: SqliteStore, settings: Settings) -> Iterator[Engine]:
    registry = Registry([Demo, RaisesInProcess, RaisesInInit, TooManyTasks, RaisesInComplete, NoItems])
    eng = Engine(store=store, registry=registry, settings=settings.evolve(workers=3), clock=SystemClock())
    eng.start()
    yield eng
    eng.stop()


def submit(engine: Engine, name: str, parameters: dict[str, Any] | None = None) -> int:
    store = engine.store
    user = store.users.get_user_by_name("u") or store.users.create_user(
        username="u", password_hash="x", timezone="UTC", is_admin=False, now=engine.clock.now()
    )
    job = store.jobs.create_job(
        NewJob(processor=name, parameters=parameters or {}, created_by=user.id), engine.clock.now()
    )
    engine.notify()
    return job.id


def wait_terminal(engine: Engine, job_id: int, timeout: float = 20) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = engine.store.jobs.get_job(job_id)
        assert job is not None
        if job.status.is_terminal:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {engine.store.jobs.get_job(job_id)}")


def log_of(engine: Engine, job_id: int) -> str:
    return "\n".join(line.message for line in engine.store.jobs.read_log(job_id))


def test_demo_succeeds_with_tasks_in_parallel(engine: Engine) -> None:
    params = Demo().validate({"items": 12, "chunk_size": 2, "item_seconds": 0.02})
    job = wait_terminal(engine, submit(engine, "demo", params))
    assert job.status is JobStatus.SUCCESS
    assert task_counts(engine.store, job.id) == {TaskState.SUCCESS: 6}
    assert job.run_start is not None and job.run_end is not None and job.run_end >= job.run_start
    assert job.result == {"tasks": 6, "succeeded": 6, "failed": 0}
    assert "job ended SUCCESS" in log_of(engine, job.id)


def test_demo_failing_items_end_errors_encountered(engine: Engine) -> None:
    params = Demo().validate({"items": 10, "item_seconds": 0, "fail_items": [7]})
    job = wait_terminal(engine, submit(engine, "demo", params))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert task_counts(engine.store, job.id) == {TaskState.SUCCESS: 1, TaskState.ERRORS_ENCOUNTERED: 1}
    assert "Task2 failed: items [7] failed" in log_of(engine, job.id)


def test_exception_in_process_fails_the_task_and_complete_sees_it(engine: Engine) -> None:
    COMPLETED.clear()
    job = wait_terminal(engine, submit(engine, "raises_in_process"))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert COMPLETED and COMPLETED[-1].tasks_total == 2 and COMPLETED[-1].tasks_failed == 1
    assert COMPLETED[-1].failures[0].message == "RuntimeError: boom"


def test_exception_in_init_ends_the_job(engine: Engine) -> None:
    job = wait_terminal(engine, submit(engine, "raises_in_init"))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert "init failed: KeyError" in log_of(engine, job.id)


def test_more_than_5000_tasks_is_refused(engine: Engine) -> None:
    job = wait_terminal(engine, submit(engine, "too_many_tasks"))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert "5000 tasks" in log_of(engine, job.id)
    assert task_counts(engine.store, job.id) == {}


def test_exception_in_complete_ends_errors_encountered(engine: Engine) -> None:
    job = wait_terminal(engine, submit(engine, "raises_in_complete"))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert "complete failed: ValueError: cannot finish" in log_of(engine, job.id)


def test_no_items_completes_at_once(engine: Engine) -> None:
    job = wait_terminal(engine, submit(engine, "no_items"))
    assert job.status is JobStatus.SUCCESS


def test_unknown_processor_ends_with_a_reason(engine: Engine) -> None:
    job = wait_terminal(engine, submit(engine, "not_installed"))
    assert job.status is JobStatus.ERRORS_ENCOUNTERED
    assert "not installed" in log_of(engine, job.id)


def test_submit_to_running_is_a_wake_up_not_a_poll(engine: Engine, settings: Settings) -> None:
    # poll_interval is long here: only the notify can make this fast
    engine.settings = settings.evolve(poll_interval=5.0)
    engine.pool.settings = engine.settings
    time.sleep(0.2)
    started = time.monotonic()
    job_id = submit(engine, "demo", Demo().validate({"items": 1, "item_seconds": 0}))
    wait_terminal(engine, job_id)
    assert time.monotonic() - started < 2.5


def test_a_slow_unit_does_not_hold_back_the_units_claimed_with_it(store: SqliteStore, settings: Settings) -> None:
    engine = Engine(store=store, registry=Registry([Nap]), clock=SystemClock(),
                    settings=settings.evolve(workers=2, claim_batch=16, batch_hold=0.1))
    engine.start()
    try:
        for job_id in [submit(engine, "nap") for _ in range(60)]:  # quick batches: the claim size grows
            assert wait_terminal(engine, job_id).status is JobStatus.SUCCESS
        user = store.users.get_user_by_name("u")
        assert user is not None

        def create(seconds: float) -> int:
            new = NewJob(processor="nap", parameters={"seconds": seconds}, created_by=user.id, idempotent=True)
            return store.jobs.create_job(new, engine.clock.now()).id

        slow = create(4)
        quick = [create(0) for _ in range(6)]
        engine.notify()  # one thread takes the slow job and, likely, the quick ones behind it
        for job_id in quick:
            assert wait_terminal(engine, job_id, timeout=3).status is JobStatus.SUCCESS
        assert store.jobs.job_status(slow) is JobStatus.RUNNING
        assert wait_terminal(engine, slow).status is JobStatus.SUCCESS
    finally:
        engine.stop()


def test_chunking_limits() -> None:
    assert len(chunk_items([{"n": n} for n in range(10)], 3)) == 4
    with pytest.raises(InitFailed, match="128"):
        chunk_items([{"blob": "x" * 70_000}, {"blob": "y" * 70_000}], 2)
    with pytest.raises(InitFailed):
        chunk_items("not a list", 1)
    with pytest.raises(InitFailed):
        chunk_items([{"x": object()}], 1)


def test_processor_declaration_is_checked() -> None:
    with pytest.raises(ProcessorError):
        processor("bad name")(RaisesInInit)
    with pytest.raises(ProcessorError):
        processor("ok", chunk_size=501)(RaisesInInit)

    class NoProcess:
        def init(self, ctx: JobContext) -> list[dict[str, Any]]:
            return []

    with pytest.raises(ProcessorError):
        processor("x")(NoProcess)
