"""The worker pool: threads that claim jobs and tasks from the store and run processors on them.

A job is claimed once to run ``init`` (which stores its tasks), its tasks are claimed by any thread
of any worker, and the thread that finishes the last task runs ``complete``; a job of one task (of
an idempotent processor) is run through by the thread that ran its ``init`` and ends in one write.
Threads claim and write in batches (:mod:`vaultjobs.engine.batch`); every outcome is written
through the pool's :class:`~vaultjobs.engine.outcomes.OutcomeWriter`, which outlasts a database
that goes away for a while. A processor never sees the store's troubles: a heartbeat, a log line or
a cancellation check that cannot reach the database is retried later, not raised into its code.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson

from vaultjobs import metrics
from vaultjobs.content.files import UserStaging
from vaultjobs.content.repository import ContentRepository, ContentUnavailable
from vaultjobs.engine.batch import BatchSize, HandBack, HeldUnits, UnitKey, job_key, task_key
from vaultjobs.engine.outcomes import OutcomeNotRecorded, OutcomeWriter
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
from vaultjobs.store import FinishedTask, JobEnd, SoloEnd, SoloRun, Started, Store, TaskOutcome, TaskPlan
from vaultjobs.store.work import stopped_line
from vaultjobs.timeutil import Clock, from_ms, to_ms

logger = logging.getLogger(__name__)
T = TypeVar("T")
_UNSET = object()
#: A clock reading this much before the last one means the clock was set back, not that two threads raced.
CLOCK_SET_BACK_MS = 1000


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
    """``size`` threads of one worker (one ``worker_id`` in the store's workers table).

    Each thread claims a batch of units (see :mod:`vaultjobs.engine.batch`) and takes it through
    three stages, writing each stage's results in one transaction: the ``init`` of claimed jobs
    (their tasks stored, the first one kept), then tasks, then the ``complete`` of jobs whose last
    task ended here. Task ends of non-idempotent processors are written as each task ends, so a
    crash never loses a finished task's outcome that could not be run again.
    """

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
        self._content_repository: ContentRepository | None | object = _UNSET
        self._user_staging: dict[int, UserStaging] = {}
        self._hand_back = HandBack(store, worker_id, settings.batch_hold, clock, on_handed_back=wakeup.notify)
        self.outcomes = OutcomeWriter(budget=settings.outcome_retry, stopping=self._stop_jobs)
        self._stamp_lock = threading.Lock()
        self._last_stamp = 0
        #: The clock's reading at the last stamp: the control plane's clock may be set back (a reset,
        #: a freeze at an earlier instant), and the stamps then follow it.
        self._last_reading = 0
        #: Stamps of claims that handed out nothing, and so marked nothing: free to be taken again.
        self._free_stamps: set[int] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def rejoin(self, worker_id: str) -> None:
        """Claim under ``worker_id`` from now on (the engine registered again); batches running
        keep the old id, under which the store takes none of their writes any more."""
        self.worker_id = worker_id
        self._hand_back.worker_id = worker_id

    def start(self) -> None:
        if self.size and self.settings.claim_batch > 1:
            self._hand_back.start()
        for n in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"vaultjobs-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, grace: float) -> bool:
        """Stop claiming; let running work finish for ``grace`` s, then ask processors to stop.

        Returns True when every thread ended; work still running is left to the next start's sweeper.
        """
        self._stopping.set()
        self.wakeup.notify_local()
        deadline = self.clock.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._stop_jobs.set()
            for thread in self._threads:
                thread.join(1.0)
        self._hand_back.stop()
        return not any(t.is_alive() for t in self._threads)

    # -- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        size = BatchSize(self.settings.claim_batch)
        while not self._stopping.is_set():
            seen = self.wakeup.generation()
            try:
                did_work = self._run_batch(size)
            except OutcomeNotRecorded as exc:
                logger.warning("%s; this thread goes on", exc)
                did_work = False
            except Exception:
                logger.exception("worker loop error; carrying on")
                did_work = False
            if not did_work:
                self.wakeup.wait(self.settings.poll_interval, seen)

    def stamp(self) -> datetime:
        """Now, to the millisecond, and never the same twice in this worker: the stamp of a call that
        hands this worker units, by which :meth:`release_claim` finds them if the answer is lost.

        With the control plane on, a test may set the clock back; the stamps then start again from it
        (else a job would start years after a reset put the clock back on real time). Only a unit this
        worker still holds from before the clock went back could then share a stamp."""
        ms = to_ms(self.clock.now())
        with self._stamp_lock:
            if self.settings.control_plane and ms < self._last_reading - CLOCK_SET_BACK_MS:
                self._last_stamp = ms - 1
                self._free_stamps.clear()
            self._last_reading = ms
            if self._free_stamps:  # a stamp the clock has passed can no longer be taken
                self._free_stamps = {free for free in self._free_stamps if free >= ms}
            if self._free_stamps:
                stamp = min(self._free_stamps)
                self._free_stamps.discard(stamp)
            else:
                self._last_stamp = stamp = max(ms, self._last_stamp + 1)
        if stamp > ms:
            # Taken ahead of the clock: wait for it, so that what the call stamps (a run's start) is
            # never later than what follows it. At most one stamped call a millisecond per worker.
            time.sleep(min(0.002, (stamp - ms) / 1000))
        return from_ms(stamp)

    def stamped(self, call: Callable[[datetime], T], unheard: list[datetime], *, claim: bool = False) -> T:
        """``call(stamp)`` with a fresh stamp, the stamp kept in ``unheard`` when the call fails (it may
        have committed without this worker hearing the answer). A ``claim`` that handed out nothing
        marked nothing with its stamp, which is then free again: idle polls under a frozen clock do not
        push the stamps ahead of it."""
        stamp = self.stamp()
        try:
            result = call(stamp)
        except Exception:
            unheard.append(stamp)
            raise
        if claim and not result:
            with self._stamp_lock:
                self._free_stamps.add(to_ms(stamp))
        return result

    def now_or_later(self, what: str, write: Callable[[], object]) -> None:
        """``write()`` now; when the database cannot take it, the background writer does once it can."""
        try:
            write()
        except Exception as exc:
            logger.warning("%s failed (%s); the background writer will do it", what, exc)
            self.outcomes.defer(what, write)

    def release_claim(self, stamp: datetime) -> None:
        """Hand back whatever a call stamped ``stamp`` may have given this worker unheard."""
        self.now_or_later("the hand-back of an unheard claim",
                          lambda: self.store.work.release_claim(self.worker_id, stamp))

    def _run_batch(self, size: BatchSize) -> bool:
        unheard: list[datetime] = []
        try:
            jobs = self.stamped(lambda stamp: self.store.work.claim_jobs(self.worker_id, stamp, size.size), unheard,
                                claim=True)
        except Exception:
            self.release_claim(unheard[0])  # the claim may have committed without this worker hearing it
            raise
        try:
            room = size.size - len(jobs)
            tasks = self.stamped(lambda stamp: self.store.work.claim_tasks(self.worker_id, stamp, room),
                                 unheard, claim=True) if room > 0 else []
        except Exception:
            # The jobs are claimed but will not run in this batch: give them back now rather than
            # leave them held by a live worker until their inactivity timeout.
            if jobs:
                self.hand_back([job_key(j.id) for j in jobs])
            for stamp in unheard:
                self.release_claim(stamp)
            raise
        if not jobs and not tasks:
            return False
        metrics.CLAIMED.labels("job").inc(len(jobs))
        metrics.CLAIMED.labels("task").inc(len(tasks))
        batch = _Batch(self, jobs, tasks)
        self._hand_back.track(batch.held)
        try:
            batch.run()
        finally:
            self._hand_back.forget(batch.held)
            left = batch.held.take_all()
            if left:  # stopping, or an error cut the batch short: nobody may wait for these
                self.hand_back(left)
        size.record(batch.units, batch.held.handed_back)
        return True

    def hand_back(self, keys: Sequence[UnitKey]) -> None:
        """Give units back to the queue, now or, when the database cannot take that, later."""
        self.now_or_later(f"the hand-back of {len(keys)} units", lambda: self._hand_back.release(keys))

    def record_late(self, finished: Sequence[FinishedTask], unheard: Sequence[datetime]) -> None:
        """Write task ends a worker thread could not, and hand back the jobs whose last task they were
        (the write moved them to their complete phase under this worker) for any worker to complete,
        with what the attempts nobody heard may have moved."""
        stamp = self.stamp()
        self.store.work.finish_tasks_counted(self.worker_id, finished, stamp)
        for each in (*unheard, stamp):
            self.store.work.release_claim(self.worker_id, each)
        self.wakeup.notify()

    def end_jobs(self, records: Sequence[JobEnd]) -> None:
        """End jobs this worker holds; one that was cancelled meanwhile ends CANCELLED instead."""
        now = self.clock.now()
        ended = self.store.work.finish_jobs(self.worker_id, records, now)
        lost = [record for record in records if record.job_id not in ended]
        statuses = self.store.jobs.job_statuses([record.job_id for record in lost])
        cancelled = [
            JobEnd(job_id=record.job_id, status=JobStatus.CANCELLED, result=record.result,
                   logs=[*record.logs[:-1], (now, "job ended CANCELLED")])
            for record in lost if statuses.get(record.job_id) is JobStatus.CANCELLING
        ]
        self.store.work.finish_jobs(self.worker_id, cancelled, now)
        for record in lost:
            if statuses.get(record.job_id) is not JobStatus.CANCELLING:
                logger.info("job %s was resolved elsewhere before this worker could end it", record.job_id)

    @property
    def runs_through(self) -> bool:
        """Whether a batch runs a job of one task through in one go (:meth:`_Batch._run_solo`): only
        while the hand-back watcher runs, which shows such a task as RUNNING once it runs long."""
        return self._hand_back.running

    def end_solo_jobs(self, ends: Sequence[SoloEnd]) -> None:
        """End jobs this worker ran through in one go, each with its task; one that was cancelled
        while its ``complete`` ran ends CANCELLED instead."""
        now = self.clock.now()
        ended = self.store.work.finish_solo_jobs(self.worker_id, ends, now)
        lost = [end for end in ends if end.run.job_id not in ended]
        if not lost:
            return
        statuses = self.store.jobs.job_statuses([end.run.job_id for end in lost])
        cancelled = []
        for end in lost:
            run = end.run
            if statuses.get(run.job_id) is not JobStatus.CANCELLING:
                logger.info("job %s was resolved elsewhere before this worker could end it", run.job_id)
                continue
            # Cancelled while complete ran: its task ended while the job was RUNNING, and stands.
            logs = [*run.logs[:-1], (now, "job ended CANCELLED")]
            cancelled.append(SoloEnd(run=SoloRun(job_id=run.job_id, task=run.task, logs=logs),
                                     status=JobStatus.CANCELLED, result=end.result))
        if cancelled:
            self.store.work.finish_solo_jobs(self.worker_id, cancelled, now)

    def hand_over(self, runs: Sequence[SoloRun]) -> None:
        """Leave jobs this worker ran through for any worker to complete (their tasks stored as ended)."""
        self.store.work.hand_over_solo_jobs(self.worker_id, runs, self.clock.now())
        self.wakeup.notify()

    # -- what a job's code sees ------------------------------------------------------------

    def stop_requested(self, job_id: int) -> Callable[[], bool]:
        """``ctx.cancelled`` for one job: shutdown, or the job left RUNNING (cancel, timeout …).

        The store is asked at most every half second, however often the processor looks; the job
        was RUNNING when its unit was claimed, so the first look is half a second later.
        """
        checked = [self.clock.monotonic(), False]

        def stop_requested() -> bool:
            if self._stop_jobs.is_set():
                return True
            now = self.clock.monotonic()
            if not checked[1] and now - float(checked[0]) >= 0.5:
                checked[0] = now
                try:
                    checked[1] = self.store.jobs.job_status(job_id) is not JobStatus.RUNNING
                except Exception as exc:  # the database is away: ask again in half a second
                    logger.debug("cancellation check of job %s failed: %s", job_id, exc)
            return bool(checked[1])

        return stop_requested

    def context(self, job: Job) -> tuple[JobContext, BufferedLog]:
        job_id = job.id
        last_beat = [0.0]
        log = BufferedLog(self.store, job_id, self.clock)

        def heartbeat() -> None:
            now = self.clock.monotonic()
            if now - last_beat[0] >= 1.0:
                last_beat[0] = now
                try:
                    self.store.jobs.touch_job_progress(job_id, self.clock.now())
                except Exception as exc:  # a missed heartbeat is not the task's failure
                    logger.warning("heartbeat of job %s failed: %s", job_id, exc)

        content = self._content()
        spec = self.registry.spec(job.processor)
        ctx = JobContext(
            job_id=job_id,
            parameters=job.parameters,
            chunk_size=spec.chunk_size if spec else 1,
            log=log,
            heartbeat=heartbeat,
            stop_requested=self.stop_requested(job_id),
            created_by=job.created_by,
            content=content,
            files=None if content is None else self._staging(content, job.created_by),
        )
        return ctx, log

    def _content(self) -> ContentRepository | None:
        """The node's content repository, made once (None when the store holds none)."""
        if self._content_repository is _UNSET:
            try:
                self._content_repository = ContentRepository(
                    self.store, self.settings.data_dir, self.clock, blobs=self.settings.content_blobs
                )
            except ContentUnavailable:
                self._content_repository = None
        return self._content_repository  # type: ignore[return-value]

    def _staging(self, content: ContentRepository, user_id: int) -> UserStaging:
        staging = self._user_staging.get(user_id)
        if staging is None:
            staging = self._user_staging[user_id] = content.user_staging(user_id)
        return staging


@dataclass(frozen=True)
class _Solo:
    """A job a batch ran through in one go: its one task's payload, start and end (None: it had none)."""

    job: Job
    task: tuple[str, datetime, TaskOutcome] | None


class _RunningSolo:
    """The task of a job run through, while it runs; ``promoted`` once it is stored as RUNNING (which is
    ``tried`` once)."""

    def __init__(self, job: Job, payload: str, started: datetime) -> None:
        self.job = job
        self.payload = payload
        self.started = started
        self.tried = False
        self.promoted = False


class _Batch:
    """One thread's claimed units, taken through init, process and complete."""

    def __init__(self, pool: WorkerPool, jobs: list[Job], tasks: list[TaskRecord]) -> None:
        self.pool = pool
        self.store = pool.store
        self.worker_id = pool.worker_id
        self.clock = pool.clock
        self.held = HeldUnits(pool.clock)
        self.held.hold([task_key(t.job_id, t.seq) for t in tasks] + [job_key(j.id) for j in jobs])
        self.jobs = jobs
        self.tasks = tasks
        self.units = len(jobs) + len(tasks)
        self._contexts: dict[int, tuple[JobContext, BufferedLog]] = {}
        #: Status and task counts of jobs to complete, where a write of this batch read them.
        self._known: dict[int, tuple[JobStatus, dict[TaskState, int]]] = {}
        #: Tasks this batch ran whose ends are not written yet (written together, after its tasks; or
        #: by the hand-back watcher when a unit after them runs long: :meth:`_write_ends_now`).
        self._ended: list[tuple[FinishedTask, Job]] = []
        self._ended_lock = threading.Lock()
        #: Jobs this batch ran through in one go (:meth:`_run_solo`) and has not ended yet.
        self._solos: list[_Solo] = []
        #: The task of a job run through that runs now, and the lock of its promotion.
        self._running_solo: _RunningSolo | None = None
        self._solo_lock = threading.Lock()
        self.held.on_slow = self._on_slow

    def _start(self, key: tuple[object, ...]) -> bool:
        """Whether to run the unit ``key`` now: not when it was handed back, nor while stopping
        (what is left then is handed back when the batch ends)."""
        return not self.pool._stopping.is_set() and self.held.start(key)

    def _context(self, job: Job) -> tuple[JobContext, BufferedLog]:
        if job.id not in self._contexts:
            self._contexts[job.id] = self.pool.context(job)
        return self._contexts[job.id]

    def run(self) -> None:
        try:
            by_id = {job.id: job for job in self.jobs}
            if self.tasks:
                by_id.update(self.store.jobs.get_jobs(sorted({t.job_id for t in self.tasks} - set(by_id))))
            runnable = [(t, by_id[t.job_id]) for t in self.tasks if t.job_id in by_id]
            first_tasks, completing = self._init([j for j in self.jobs if j.phase == "init"])
            completing += self._process(runnable + first_tasks)
            completing = [j for j in self.jobs if j.phase == "complete"] + completing
            self._complete(completing)
        finally:
            # What an error (or the shutdown) cut short and nothing else will write: tasks that ended
            # (a promoted task of a job run through ends after init, before the task ends are written),
            # and jobs run through, not ended: recorded for any worker to complete, as after a slow unit.
            self._write_ends_now()

    # -- init ------------------------------------------------------------------------------

    def _init(self, jobs: list[Job]) -> tuple[list[tuple[TaskRecord, Job]], list[Job]]:
        """Run the claimed jobs' ``init``; store their tasks. Returns the first tasks (claimed
        here) and the jobs without tasks, held here to complete.

        An idempotent job whose ``init`` plans one task or none is run through here instead: its task
        at once, then its ``complete``, and it ends with its task in one write (:meth:`_run_solo`).
        Most jobs are such (a no-op job, an export of a few documents), and their three writes (the
        tasks, their ends, the job's end) cost more than the work."""
        ends: list[tuple[Job, JobStatus, str, dict[str, Any] | None]] = []
        planned: list[tuple[Job, list[str]]] = []
        solos: list[tuple[Job, str | None]] = []
        registry = self.pool.registry
        for job in jobs:
            if not self._start(job_key(job.id)):
                continue
            ctx, log = self._context(job)
            if job.processor not in registry:
                missing = f"processor [{job.processor}] is not installed here"
                ends.append((job, JobStatus.ERRORS_ENCOUNTERED, missing, None))
                continue
            log(f"job {job.id} started on worker {self.worker_id}: processor {job.processor}")
            try:
                items = registry.instantiate(job.processor).init(ctx)
                chunks = chunk_items(items, ctx.chunk_size)
            except (InitFailed, ProcessorError) as exc:
                ends.append((job, JobStatus.ERRORS_ENCOUNTERED, f"init failed: {exc}", None))
                continue
            except Exception as exc:
                logger.exception("init of job %s raised", job.id)
                ends.append((job, JobStatus.ERRORS_ENCOUNTERED, f"init failed: {type(exc).__name__}: {exc}", None))
                continue
            log(f"{len(chunks)} tasks of up to {ctx.chunk_size} items")
            if job.idempotent and len(chunks) <= 1 and self.pool.runs_through:
                solos.append((job, chunks[0] if chunks else None))
                continue
            planned.append((job, chunks))
        self.held.pause()
        # The other jobs' tasks are stored first: a task run through here must not keep them unstored
        # (and their jobs in init) while it runs. Until each runs, its job is a unit held back as any.
        stored = self._store_plans(planned, ends)
        self.held.hold([job_key(job.id) for job, _ in solos])
        for job, payload in solos:
            if self._start(job_key(job.id)):
                self._run_solo(job, payload)
        self.held.pause()
        self._finish_solos(self._take_solos())
        return stored

    def _store_plans(
        self, planned: list[tuple[Job, list[str]]], ends: list[tuple[Job, JobStatus, str, dict[str, Any] | None]]
    ) -> tuple[list[tuple[TaskRecord, Job]], list[Job]]:
        """Store the tasks ``init`` planned (the first ones kept here) and end the jobs whose ``init``
        failed; the first tasks, and the jobs without tasks, held here to complete."""
        plans = [TaskPlan(job_id=job.id, chunks=chunks, logs=self._context(job)[1].take()) for job, chunks in planned]
        planned_ids = [job.id for job, _ in planned]
        unheard: list[datetime] = []

        def start_tasks() -> list[Started | None]:
            return self.pool.stamped(lambda stamp: self.store.work.start_tasks_of(self.worker_id, plans, stamp),
                                     unheard)

        def give_up() -> None:
            # The jobs go back to their init phase for any worker (a no-op for a job whose tasks did
            # reach the database: then its first task goes back to the queue).
            self.store.work.release(self.worker_id, job_ids=planned_ids)
            for stamp in unheard:
                self.store.work.release_claim(self.worker_id, stamp)

        answers = self.pool.outcomes.write(f"the tasks of {len(plans)} jobs", start_tasks,
                                           later=give_up) if plans else []
        for stamp in unheard:
            self.pool.release_claim(stamp)
        lost = [job for (job, _), started in zip(planned, answers, strict=True) if started is None]
        statuses = self.store.jobs.job_statuses([job.id for job in lost]) if lost else {}
        first_tasks: list[tuple[TaskRecord, Job]] = []
        complete_now: list[Job] = []
        more = False
        for (job, chunks), plan, started in zip(planned, plans, answers, strict=True):
            if started is None:
                if statuses.get(job.id) is JobStatus.CANCELLING:
                    self._context(job)[1].restore(plan.logs)
                    ends.append((job, JobStatus.CANCELLED, "job ended CANCELLED before its tasks started", None))
                else:  # timed out or ended while init ran; the sweeper logged why
                    self.store.jobs.append_logs(job.id, plan.logs)
            elif started.complete_now:
                complete_now.append(job)
                self._known[job.id] = (JobStatus.RUNNING, {})
            else:
                assert started.first_task is not None
                first_tasks.append((started.first_task, job))
                more = more or len(chunks) > 1
        self._end(ends)
        if more:
            self.pool.wakeup.notify()
        self.held.hold([task_key(t.job_id, t.seq) for t, _ in first_tasks] + [job_key(j.id) for j in complete_now])
        return first_tasks, complete_now

    # -- process ---------------------------------------------------------------------------

    def _process(self, runnable: list[tuple[TaskRecord, Job]]) -> list[Job]:
        """Run tasks; returns the jobs whose last task ended here, held here to complete."""
        completing: list[Job] = []
        for record, job in runnable:
            if not self._start(task_key(record.job_id, record.seq)):
                continue
            finished = self._run_task(record, job)
            if finished is None:
                continue
            with self._ended_lock:
                self._ended.append((finished, job))
            if not job.idempotent:
                completing += self._write_task_ends(self._take_ended())
        completing += self._write_task_ends(self._take_ended())
        return completing

    def _run_task(self, record: TaskRecord, job: Job) -> FinishedTask | None:
        """Run one task; how it ended, or None when the shutdown cut it short: its outcome cannot be
        trusted then, and it stays RUNNING under this worker, which is marked stopped, so the sweeper
        re-runs or ends it by the usual rule (a job run through in one go stays in its init phase)."""
        ctx, log = self._context(job)
        task = Task(task_id=record.task_id, items=record.items, attempt=record.attempts)
        started = time.perf_counter()
        try:
            self.pool.registry.instantiate(job.processor).process(ctx, task)
        except Exception as exc:
            logger.exception("task %s of job %s raised", record.task_id, job.id)
            task.fail(f"{type(exc).__name__}: {exc}")
        metrics.TASK_SECONDS.labels(job.processor).observe(time.perf_counter() - started)
        if self.pool._stop_jobs.is_set():
            log(f"{record.task_id} was interrupted by the shutdown of worker {self.worker_id}")
            log.flush()
            return None
        return self._finished(record, task, log)

    # -- jobs run through in one go --------------------------------------------------------

    def _run_solo(self, job: Job, payload: str | None) -> None:
        """Run at once the one task (if any) that the ``init`` just run planned for ``job``, an
        idempotent one, leaving the job to end with it in one write (:meth:`_finish_solos`): nothing
        of the task is stored before. A crash meanwhile leaves the job in its init phase under a dead
        worker, which the sweeper hands to another worker to run again, as it does a task."""
        task: tuple[str, datetime, TaskOutcome] | None = None
        if payload is not None:
            record = TaskRecord(job_id=job.id, seq=1, state=TaskState.RUNNING, items=orjson.loads(payload),
                                worker_id=self.worker_id, attempts=1)
            running = _RunningSolo(job, payload, self.clock.now())
            with self._solo_lock:
                self._running_solo = running
            try:
                finished = self._run_task(record, job)
            finally:
                with self._solo_lock:
                    self._running_solo = None
            if finished is None:
                return
            if running.promoted:  # it ran long, and is stored as any job's task: it ends as one
                with self._ended_lock:
                    self._ended.append((finished, job))
                return
            task = (payload, running.started, finished.outcome)
        with self._ended_lock:
            self._solos.append(_Solo(job, task))

    def _promote_running_solo(self) -> None:
        """From the hand-back watcher, while the task of a job run through runs long: store the job's
        task as RUNNING under this worker, as any job's is, so that the job shows its task (and the
        worker its unit) while it runs; the task then ends as any task does. Nothing changes when the
        store cannot take it (the job ends in one write as planned)."""
        with self._solo_lock:
            running = self._running_solo
            if running is None or running.tried:
                return
            running.tried = True  # once: a job cancelled meanwhile, or a store away, is not asked again
            plan = TaskPlan(job_id=running.job.id, chunks=[running.payload])
            unheard: list[datetime] = []
            try:
                answers = self.pool.stamped(
                    lambda stamp: self.store.work.start_tasks_of(self.worker_id, [plan], stamp), unheard)
            except Exception as exc:
                logger.warning("the long task of job %s could not be shown as running: %s", running.job.id, exc)
                # It may have been stored unheard: then it goes back to the queue, and this run's end
                # finds the job no longer this worker's to end.
                for stamp in unheard:
                    self.pool.release_claim(stamp)
                return
            running.promoted = answers[0] is not None

    def _take_solos(self) -> list[_Solo]:
        with self._ended_lock:
            solos, self._solos = self._solos, []
        return solos

    def _runs(self, solos: list[_Solo]) -> list[SoloRun]:
        """What is to be stored of jobs run through (their log lines taken from their contexts)."""
        return [SoloRun(job_id=solo.job.id, task=solo.task, logs=self._contexts[solo.job.id][1].take())
                for solo in solos]

    def _finish_solos(self, solos: list[_Solo]) -> None:
        """Complete the jobs run through in one go and end each with its task in one write. Their
        status is read first, as the write of task ends reads it for the other jobs: ``complete`` runs
        only for a job still RUNNING; one being cancelled ends CANCELLED, its task with it; one ended
        elsewhere meanwhile (timed out, taken from a worker thought dead) gets its log lines only.
        When the status cannot be read, the jobs are handed over for any worker to complete."""
        if not solos:
            return
        runs: list[SoloRun] = []

        def hand_over() -> None:
            if not runs:  # once: a retry must not take the (emptied) log lines again
                runs.extend(self._runs(solos))
            self.pool.hand_over(runs)

        ids = [solo.job.id for solo in solos]
        statuses = self.pool.outcomes.write(f"the statuses of {len(ids)} jobs run through",
                                            lambda: self.store.jobs.job_statuses(ids), later=hand_over)
        # Back where the hand-back watcher finds them: while one's complete runs long, the others are
        # handed over for any worker to complete (and what the shutdown leaves, by run's last step).
        with self._ended_lock:
            self._solos[:0] = solos
        ends: list[SoloEnd] = []
        while not self.pool._stopping.is_set():
            with self._ended_lock:
                if not self._solos:
                    break
                solo = self._solos.pop(0)
            job, task = solo.job, solo.task
            ctx, log = self._context(job)
            status = statuses.get(job.id)
            if status is JobStatus.RUNNING:
                outcome = None if task is None else task[2]
                counts = {} if outcome is None else {outcome.state: 1}
                failures = [TaskFailure(task_id="Task1", message=outcome.message or "failed")] \
                    if outcome is not None and outcome.state is TaskState.ERRORS_ENCOUNTERED else []
                self.held.busy()
                _, new_status, message, result = self._run_complete(job, ctx, log, counts, failures)
            else:
                if task is not None:  # as a task that ends while its job is not RUNNING
                    log(stopped_line(1, status))
                    task = (task[0], task[1], TaskOutcome(state=TaskState.CANCELLED))
                if status is not JobStatus.CANCELLING:
                    # Ended elsewhere (the sweeper logged why): only its log lines are left to write.
                    self.pool.now_or_later(f"the log of job {job.id}",
                                           functools.partial(self.store.jobs.append_logs, job.id, log.take()))
                    continue
                new_status, message, result = JobStatus.CANCELLED, "job ended CANCELLED", None
            run = SoloRun(job_id=job.id, task=task, logs=[*log.take(), (self.clock.now(), message)])
            ends.append(SoloEnd(run=run, status=new_status, result=result))
        self.held.pause()
        if ends:
            self.pool.outcomes.write(f"the ends of {len(ends)} jobs", lambda: self.pool.end_solo_jobs(ends))

    def _take_ended(self) -> list[tuple[FinishedTask, Job]]:
        with self._ended_lock:
            ended, self._ended = self._ended, []
        return ended

    def _with_logs(self, ended: list[tuple[FinishedTask, Job]]) -> list[FinishedTask]:
        return [FinishedTask(job_id=f.job_id, seq=f.seq, outcome=f.outcome, logs=self._contexts[f.job_id][1].take())
                for f, _ in ended]

    def _on_slow(self) -> None:
        self._promote_running_solo()
        self._write_ends_now()

    def _write_ends_now(self) -> None:
        """From the hand-back watcher, while a unit of this batch runs long: the tasks it ran before
        that unit are recorded now rather than when it ends (their jobs would look unfinished all
        that time), and a job whose last task one was goes to any worker to complete, as when a
        thread's own write of task ends is left to the background writer; so do the jobs it ran
        through and has not ended. Also the batch's last step, for what an error left unwritten."""
        ended = self._take_ended()
        if ended:
            finished = self._with_logs(ended)
            self.pool.now_or_later(f"the ends of {len(finished)} tasks",
                                   lambda: self.pool.record_late(finished, []))
        solos = self._take_solos()
        if solos:
            runs = self._runs(solos)
            self.pool.now_or_later(f"the hand-over of {len(runs)} jobs run through", lambda: self.pool.hand_over(runs))

    @staticmethod
    def _finished(record: TaskRecord, task: Task, log: BufferedLog) -> FinishedTask:
        if task.failure is not None:
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
        return FinishedTask(job_id=record.job_id, seq=record.seq, outcome=outcome)

    def _write_task_ends(self, ended: list[tuple[FinishedTask, Job]]) -> list[Job]:
        if not ended:
            return []
        self.held.pause()
        finished = self._with_logs(ended)
        unheard: list[datetime] = []

        def attempt() -> dict[int, tuple[JobStatus, dict[TaskState, int]]]:
            return self.pool.stamped(
                lambda stamp: self.store.work.finish_tasks_counted(self.worker_id, finished, stamp), unheard)

        done = self.pool.outcomes.write(f"the ends of {len(finished)} tasks", attempt,
                                        later=lambda: self.pool.record_late(finished, unheard))
        # An attempt that failed may have committed unheard, moving a job to its complete phase under
        # this worker: hand it back, for this answer did not give it to us to complete.
        for stamp in unheard:
            self.pool.release_claim(stamp)
        self._known.update(done)
        jobs = {job.id: job for _, job in ended}
        completing = [jobs[job_id] for job_id in sorted(done)]
        self.held.hold([job_key(job.id) for job in completing])
        return completing

    # -- complete --------------------------------------------------------------------------

    def _complete(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        found = dict(self._known)
        found.update(self.store.jobs.statuses_and_task_counts([job.id for job in jobs if job.id not in found]))
        ends: list[tuple[Job, JobStatus, str, dict[str, Any] | None]] = []
        for job in jobs:
            if job.id not in found or not self._start(job_key(job.id)):
                continue
            status, counts = found[job.id]
            if status is JobStatus.CANCELLING:
                ends.append((job, JobStatus.CANCELLED, "job ended CANCELLED", None))
                continue
            ctx, log = self._context(job)
            ends.append(self._run_complete(job, ctx, log, counts))
        self.held.pause()
        self._end(ends)

    def _run_complete(
        self, job: Job, ctx: JobContext, log: BufferedLog, counts: dict[TaskState, int],
        failures: list[TaskFailure] | None = None,
    ) -> tuple[Job, JobStatus, str, dict[str, Any] | None]:
        """``complete`` of ``job``, given its tasks per state and, when the caller knows them, its
        failed tasks (else they are read)."""
        total = sum(counts.values())
        failed = counts.get(TaskState.ERRORS_ENCOUNTERED, 0)
        if failures is None:
            failures = [
                TaskFailure(task_id=t.task_id, message=t.message or "failed")
                for t in self.store.jobs.failed_tasks(job.id)
            ] if failed else []
        result = JobResult(
            tasks_total=total,
            tasks_succeeded=counts.get(TaskState.SUCCESS, 0),
            tasks_failed=failed,
            failures=failures,
        )
        ok = result.succeeded
        try:
            complete = getattr(self.pool.registry.instantiate(job.processor), "complete", None)
            if callable(complete):
                complete(ctx, result)
        except Exception as exc:
            logger.exception("complete of job %s raised", job.id)
            log(f"complete failed: {type(exc).__name__}: {exc}")
            ok = False
        status = JobStatus.SUCCESS if ok else JobStatus.ERRORS_ENCOUNTERED
        summary = {"tasks": total, "succeeded": result.tasks_succeeded, "failed": failed}
        return job, status, f"job ended {status.value}: {total} tasks, {failed} failed", summary

    def _end(self, ends: list[tuple[Job, JobStatus, str, dict[str, Any] | None]]) -> None:
        """End jobs this batch holds; a job cancelled meanwhile ends CANCELLED instead."""
        if not ends:
            return
        now = self.clock.now()
        records = [
            JobEnd(job_id=job.id, status=status, result=result,
                   logs=[*self._context(job)[1].take(), (now, message)])
            for job, status, message, result in ends
        ]
        self.pool.outcomes.write(f"the ends of {len(records)} jobs", lambda: self.pool.end_jobs(records))


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
        now = self.clock.monotonic()
        if not self._lines:
            self._oldest = now
        self._lines.append((self.clock.now(), message))
        if now - self._oldest >= self.max_age:
            self.flush()

    def take(self) -> list[tuple[datetime, str]]:
        lines, self._lines = self._lines, []
        return lines

    def restore(self, lines: Sequence[tuple[datetime, str]]) -> None:
        """Put back lines taken for a write that did not happen, before any written since."""
        if lines and not self._lines:
            self._oldest = self.clock.monotonic()
        self._lines[:0] = lines

    def flush(self) -> None:
        """Write the lines now; when the database is away they stay for the next write."""
        lines = self.take()
        if lines:
            try:
                self.store.jobs.append_logs(self.job_id, lines)
            except Exception as exc:
                self.restore(lines)
                logger.warning("log lines of job %s kept for later: %s", self.job_id, exc)
