"""The worker pool: threads that claim jobs and tasks from the store and run processors on them.

A job is claimed once to run ``init`` (which stores its tasks), its tasks are claimed one by one
by any thread of any worker, and the thread that finishes the last task runs ``complete``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from vaultjobs.engine.wakeup import Wakeup
from vaultjobs.models import Job
from vaultjobs.models import Task as TaskRecord
from vaultjobs.registry import Registry
from vaultjobs.sdk import (
    MAX_TASK_PAYLOAD_BYTES,
    MAX_TASKS,
    JobContext,
    JobResult,
    ProcessorError,
    Task,
    TaskFailure,
)
from vaultjobs.settings import Settings
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import Store, TaskOutcome
from vaultjobs.timeutil import Clock

logger = logging.getLogger(__name__)


class InitFailed(Exception):
    """``init`` broke a limit or returned something that is not a list of items."""


def chunk_items(items: Any, chunk_size: int) -> list[str]:
    """Cut ``items`` into JSON task payloads of ``chunk_size``, enforcing Vault's limits."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InitFailed("init() must return a list of dict items")
    chunks: list[str] = []
    if len(items) > MAX_TASKS * chunk_size:
        raise InitFailed(
            f"init() returned {len(items)} items: in tasks of {chunk_size} that is more than "
            f"the {MAX_TASKS} tasks a job may have"
        )
    for start in range(0, len(items), chunk_size):
        try:
            payload = orjson.dumps(items[start : start + chunk_size])
        except TypeError as exc:
            raise InitFailed(f"items must be JSON-serialisable: {exc}") from exc
        if len(payload) > MAX_TASK_PAYLOAD_BYTES:
            raise InitFailed(
                f"task {len(chunks) + 1} is {len(payload)} bytes, over the {MAX_TASK_PAYLOAD_BYTES // 1024} KB "
                "a task may carry; use a smaller chunk_size or smaller items"
            )
        chunks.append(payload.decode())
    return chunks


class WorkerPool:
    """``size`` threads of one worker (one ``worker_id`` in the store's workers table)."""

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        settings: Settings,
        clock: Clock,
        wakeup: Wakeup,
        worker_id: str,
        size: int,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.clock = clock
        self.wakeup = wakeup
        self.worker_id = worker_id
        self.size = size
        self._stopping = threading.Event()
        #: Set for every job this pool is running when the jobs must stop (shutdown).
        self._stop_jobs = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"vaultjobs-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float) -> bool:
        """Stop claiming; let running work finish for ``grace`` s, then ask processors to stop.

        Returns True when every thread ended; work still running is left to the next start's sweeper.
        """
        self._stopping.set()
        self.wakeup.notify()
        deadline = self.clock.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._stop_jobs.set()
            for thread in self._threads:
                thread.join(1.0)
        return not any(t.is_alive() for t in self._threads)

    # -- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            seen = self.wakeup.generation()
            try:
                did_work = self._run_one()
            except Exception:
                logger.exception("worker loop error; carrying on")
                did_work = False
            if not did_work:
                self.wakeup.wait(self.settings.poll_interval, seen)

    def _run_one(self) -> bool:
        job = self.store.claim_job(self.worker_id, self.clock.now())
        if job is not None:
            if job.phase == "complete":
                self._complete(job)
            else:
                self._init(job)
            return True
        task = self.store.claim_task(self.worker_id, self.clock.now())
        if task is not None:
            self._process(task)
            return True
        return False

    # -- job phases ------------------------------------------------------------------------

    def _stop_requested(self, job_id: int) -> Callable[[], bool]:
        """``ctx.cancelled`` for one job: shutdown, or the job left RUNNING (cancel, timeout …).

        The store is asked at most every half second, however often the processor looks.
        """
        checked = [-1.0, False]

        def stop_requested() -> bool:
            if self._stop_jobs.is_set():
                return True
            now = self.clock.monotonic()
            if not checked[1] and now - float(checked[0]) >= 0.5:
                checked[0] = now
                checked[1] = self.store.job_status(job_id) is not JobStatus.RUNNING
            return bool(checked[1])

        return stop_requested

    def _context(self, job: Job, chunk_size: int) -> tuple[JobContext, BufferedLog]:
        job_id = job.id
        last_beat = [0.0]
        log = BufferedLog(self.store, job_id, self.clock)

        def heartbeat() -> None:
            now = self.clock.monotonic()
            if now - last_beat[0] >= 1.0:
                last_beat[0] = now
                self.store.touch_job_progress(job_id, self.clock.now())

        from vaultjobs.content.repository import ContentRepository, ContentUnavailable

        try:
            content: ContentRepository | None = ContentRepository(self.store, self.settings.data_dir, self.clock)
        except ContentUnavailable:
            content = None
        ctx = JobContext(
            job_id=job_id,
            parameters=job.parameters,
            chunk_size=chunk_size,
            log=log,
            heartbeat=heartbeat,
            stop_requested=self._stop_requested(job_id),
            created_by=job.created_by,
            content=content,
            files=None if content is None else content.user_staging(job.created_by),
        )
        return ctx, log

    def _chunk_size(self, job: Job) -> int:
        spec = self.registry.spec(job.processor)
        return spec.chunk_size if spec else 1

    def _end(
        self, job: Job, status: JobStatus, message: str, log: BufferedLog, result: dict[str, Any] | None = None
    ) -> None:
        """End a job this worker holds; a job cancelled meanwhile ends CANCELLED instead."""
        now = self.clock.now()
        lines = log.take()
        if self.store.finish_job(job.id, self.worker_id, status, now, result, log=message, logs=lines):
            return
        if self.store.job_status(job.id) is JobStatus.CANCELLING:
            self.store.finish_job(
                job.id, self.worker_id, JobStatus.CANCELLED, now, result, log="job ended CANCELLED", logs=lines
            )
        else:
            logger.info("job %s was resolved elsewhere before this worker could end it", job.id)

    def _init(self, job: Job) -> None:
        ctx, log = self._context(job, self._chunk_size(job))
        if job.processor not in self.registry:
            self._end(job, JobStatus.ERRORS_ENCOUNTERED, f"processor [{job.processor}] is not installed here", log)
            return
        log(f"job {job.id} started on worker {self.worker_id}: processor {job.processor}")
        try:
            instance = self.registry.instantiate(job.processor)
            items = instance.init(ctx)
            chunks = chunk_items(items, ctx.chunk_size)
        except (InitFailed, ProcessorError) as exc:
            self._end(job, JobStatus.ERRORS_ENCOUNTERED, f"init failed: {exc}", log)
            return
        except Exception as exc:
            logger.exception("init of job %s raised", job.id)
            self._end(job, JobStatus.ERRORS_ENCOUNTERED, f"init failed: {type(exc).__name__}: {exc}", log)
            return
        status = self.store.job_status(job.id)
        if status is JobStatus.CANCELLING:
            self._end(job, JobStatus.CANCELLED, "job ended CANCELLED before its tasks started", log)
            return
        if status is not JobStatus.RUNNING:
            log.flush()
            return  # timed out or ended while init ran; the sweeper logged why
        log(f"{len(chunks)} tasks of up to {ctx.chunk_size} items")
        started = self.store.start_tasks(
            job.id, self.worker_id, chunks, self.clock.now(), claim_first=True, logs=log.take()
        )
        if started.complete_now:
            self._complete(job)
            return
        if len(chunks) > 1:
            self.wakeup.notify()
        assert started.first_task is not None
        self._process(started.first_task, job)

    def _process(self, record: TaskRecord, job: Job | None = None) -> None:
        job = job or self.store.get_job(record.job_id)
        if job is None:
            return
        ctx, log = self._context(job, self._chunk_size(job))
        task = Task(task_id=record.task_id, items=record.items, attempt=record.attempts)
        try:
            instance = self.registry.instantiate(job.processor)
            instance.process(ctx, task)
        except Exception as exc:
            logger.exception("task %s of job %s raised", record.task_id, job.id)
            task.fail(f"{type(exc).__name__}: {exc}")
        if self._stop_jobs.is_set():
            # Shutdown cut the task short: its outcome cannot be trusted. It stays RUNNING under this
            # worker, which is marked stopped, so the sweeper re-runs or ends it by the usual rule.
            log(f"{record.task_id} was interrupted by the shutdown of worker {self.worker_id}")
            log.flush()
            return
        status = self.store.job_status(job.id)
        if status is not JobStatus.RUNNING:
            # cancelled, timed out or ended while the task ran: its outcome does not count
            task.failure = None
            state = TaskState.CANCELLED
            log(f"{record.task_id} stopped: the job is {status.value if status else 'gone'}")
        elif task.failure is not None:
            state = TaskState.ERRORS_ENCOUNTERED
            log(f"{record.task_id} failed: {task.failure}")
        else:
            state = TaskState.SUCCESS
        try:
            orjson.dumps(task.output)
            output: dict[str, Any] | None = task.output or None
        except TypeError:
            log(f"{record.task_id}: output values are not JSON-serialisable and were dropped")
            output = None
        outcome = TaskOutcome(state=state, message=task.failure, output=output)
        if self.store.finish_task(job.id, record.seq, self.worker_id, outcome, self.clock.now(), logs=log.take()):
            self._complete(job)

    def _complete(self, job: Job) -> None:
        ctx, log = self._context(job, self._chunk_size(job))
        if self.store.job_status(job.id) is JobStatus.CANCELLING:
            self._end(job, JobStatus.CANCELLED, "job ended CANCELLED", log)
            return
        counts = self.store.task_counts(job.id)
        total = sum(counts.values())
        failed = counts.get(TaskState.ERRORS_ENCOUNTERED, 0)
        failures = [
            TaskFailure(task_id=t.task_id, message=t.message or "failed") for t in self.store.failed_tasks(job.id)
        ] if failed else []
        result = JobResult(
            tasks_total=total,
            tasks_succeeded=counts.get(TaskState.SUCCESS, 0),
            tasks_failed=failed,
            failures=failures,
        )
        ok = result.succeeded
        try:
            instance = self.registry.instantiate(job.processor)
            complete = getattr(instance, "complete", None)
            if callable(complete):
                complete(ctx, result)
        except Exception as exc:
            logger.exception("complete of job %s raised", job.id)
            log(f"complete failed: {type(exc).__name__}: {exc}")
            ok = False
        status = JobStatus.SUCCESS if ok else JobStatus.ERRORS_ENCOUNTERED
        summary = {"tasks": total, "succeeded": result.tasks_succeeded, "failed": failed}
        self._end(job, status, f"job ended {status.value}: {total} tasks, {failed} failed", log, summary)


class BufferedLog:
    """A job's log lines, kept until the transaction that ends the current phase writes them.

    Lines older than ``max_age`` seconds are written at once, so a long task's log still shows up
    while it runs.
    """

    def __init__(self, store: Store, job_id: int, clock: Clock, max_age: float = 1.0) -> None:
        self.store = store
        self.job_id = job_id
        self.clock = clock
        self.max_age = max_age
        self._lines: list[tuple[datetime, str]] = []
        self._oldest = 0.0

    def __call__(self, message: str) -> None:
        if not self._lines:
            self._oldest = self.clock.monotonic()
        self._lines.append((self.clock.now(), message))
        if self.clock.monotonic() - self._oldest >= self.max_age:
            self.flush()

    def take(self) -> list[tuple[datetime, str]]:
        lines, self._lines = self._lines, []
        return lines

    def flush(self) -> None:
        lines = self.take()
        if lines:
            self.store.append_logs(self.job_id, lines)
