"""The store's batched work queries (claims, task plans, task and job ends, hand-backs) on both backends."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

from vaultjobs.engine.batch import BatchSize, HandBack, HeldUnits, job_key, task_key
from vaultjobs.models import Job, StatusFacts
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import FinishedTask, JobEnd, NewJob, SoloRun, Store, TaskOutcome, TaskPlan
from vaultjobs.testing import ManualClock, execute, finish_tasks, start_tasks, task_counts


def make_user(store: Store, clock: ManualClock) -> int:
    user = store.users.create_user(username="alice", password_hash="x", timezone="UTC", is_admin=False, now=clock.now())
    return user.id


def make_jobs(store: Store, clock: ManualClock, user: int, count: int) -> list[int]:
    """``count`` QUEUED jobs of an idempotent processor (any number of them may share a batch)."""
    return [
        store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user, idempotent=True), clock.now()).id
        for _ in range(count)
    ]


def ok(output: dict[str, object] | None = None) -> TaskOutcome:
    return TaskOutcome(state=TaskState.SUCCESS, output=output)


def test_claim_jobs_takes_up_to_the_limit_oldest_first(store: Store, clock: ManualClock) -> None:
    ids = make_jobs(store, clock, make_user(store, clock), 5)
    first = store.work.claim_jobs("w1", clock.now(), 3)
    assert [j.id for j in first] == ids[:3]
    assert all(j.status is JobStatus.RUNNING and j.phase == "init" and j.worker_id == "w1" for j in first)
    assert [j.id for j in store.work.claim_jobs("w2", clock.now(), 3)] == ids[3:]
    assert store.work.claim_jobs("w3", clock.now(), 3) == []


def test_claim_jobs_mixes_unheld_running_jobs_in_by_age(store: Store, clock: ManualClock) -> None:
    user = make_user(store, clock)
    older = make_jobs(store, clock, user, 2)
    store.work.claim_jobs("w1", clock.now(), 2)
    store.work.release("w1", job_ids=older)
    newer = make_jobs(store, clock, user, 2)
    claimed = store.work.claim_jobs("w2", clock.now(), 3)
    assert [j.id for j in claimed] == [*older, newer[0]]
    # the handed-back jobs kept their status, phase and start; only the holder changed
    assert [(j.status, j.phase, j.worker_id) for j in claimed[:2]] == [(JobStatus.RUNNING, "init", "w2")] * 2
    assert claimed[0].run_start is not None


def test_released_tasks_go_back_on_the_queue_as_if_never_claimed(store: Store, clock: ManualClock) -> None:
    (job_id,) = make_jobs(store, clock, make_user(store, clock), 1)
    store.work.claim_jobs("w1", clock.now(), 1)
    start_tasks(store, job_id, "w1", ["[1]", "[2]", "[3]"], clock.now())
    tasks = store.work.claim_tasks("w1", clock.now(), 2)
    assert [(t.seq, t.attempts) for t in tasks] == [(1, 1), (2, 1)]
    store.work.release("w1", tasks=[(job_id, 2)])
    assert task_counts(store, job_id) == {TaskState.RUNNING: 1, TaskState.QUEUED: 2}
    again = store.work.claim_tasks("w2", clock.now(), 5)
    assert [(t.seq, t.attempts, t.worker_id) for t in again] == [(2, 1, "w2"), (3, 1, "w2")]
    # another worker cannot hand back what it does not hold
    store.work.release("w9", tasks=[(job_id, 1)])
    assert task_counts(store, job_id) == {TaskState.RUNNING: 3}


def test_start_tasks_of_answers_each_plan(store: Store, clock: ManualClock) -> None:
    with_tasks, without, cancelled = make_jobs(store, clock, make_user(store, clock), 3)
    store.work.claim_jobs("w1", clock.now(), 3)
    store.jobs.cancel_job(cancelled, 1, clock.now())  # RUNNING → CANCELLING while its init ran
    answers = store.work.start_tasks_of(
        "w1",
        [
            TaskPlan(job_id=with_tasks, chunks=["[1]", "[2]"], logs=[(clock.now(), "two tasks")]),
            TaskPlan(job_id=without, chunks=[]),
            TaskPlan(job_id=cancelled, chunks=["[1]"], logs=[(clock.now(), "not written")]),
        ],
        clock.now(),
    )
    first, empty, lost = answers
    assert first is not None and first.first_task is not None and first.first_task.items == [1]
    assert empty is not None and empty.complete_now
    assert lost is None
    assert task_counts(store, with_tasks) == {TaskState.RUNNING: 1, TaskState.QUEUED: 1}
    assert task_counts(store, cancelled) == {}
    assert [line.message for line in store.jobs.read_log(with_tasks)] == ["two tasks"]
    assert store.jobs.read_log(cancelled)[-1].message != "not written"
    held = store.jobs.get_jobs([with_tasks, without])
    assert (held[with_tasks].phase, held[with_tasks].worker_id) == ("process", None)
    assert (held[without].phase, held[without].worker_id) == ("complete", "w1")


def test_finish_tasks_hands_each_finished_job_to_its_last_finisher(store: Store, clock: ManualClock) -> None:
    a, b = make_jobs(store, clock, make_user(store, clock), 2)
    store.work.claim_jobs("w1", clock.now(), 2)
    store.work.start_tasks_of("w1", [TaskPlan(job_id=a, chunks=["[1]"]), TaskPlan(job_id=b, chunks=["[1]", "[2]"])],
                         clock.now())
    done = finish_tasks(store, 
        "w1",
        [FinishedTask(job_id=a, seq=1, outcome=ok({"n": 1}), logs=[(clock.now(), "a1 done")]),
         FinishedTask(job_id=b, seq=1, outcome=TaskOutcome(state=TaskState.ERRORS_ENCOUNTERED, message="bad"))],
        clock.now(),
    )
    assert done == {a}
    job_a = store.jobs.get_job(a)
    assert job_a is not None and (job_a.phase, job_a.worker_id) == ("complete", "w1")
    assert [line.message for line in store.jobs.read_log(a)] == ["a1 done"]
    (task,) = store.work.claim_tasks("w2", clock.now(), 5)
    # the worker that now completes the job learns its status and task counts with it
    assert store.work.finish_tasks_counted("w2", [FinishedTask(job_id=b, seq=task.seq, outcome=ok())], clock.now()) == {
        b: (JobStatus.RUNNING, {TaskState.SUCCESS: 1, TaskState.ERRORS_ENCOUNTERED: 1})
    }
    found = store.jobs.statuses_and_task_counts([a, b, 999])
    assert found == {
        a: (JobStatus.RUNNING, {TaskState.SUCCESS: 1}),
        b: (JobStatus.RUNNING, {TaskState.SUCCESS: 1, TaskState.ERRORS_ENCOUNTERED: 1}),
    }
    assert [t.message for t in store.jobs.failed_tasks(b)] == ["bad"]


def test_a_task_of_a_job_that_left_running_ends_cancelled(store: Store, clock: ManualClock) -> None:
    (job_id,) = make_jobs(store, clock, make_user(store, clock), 1)
    store.work.claim_jobs("w1", clock.now(), 1)
    store.work.start_tasks_of("w1", [TaskPlan(job_id=job_id, chunks=["[1]", "[2]"])], clock.now())
    store.jobs.cancel_job(job_id, 1, clock.now())
    outcome = TaskOutcome(state=TaskState.ERRORS_ENCOUNTERED, message="ignored", output={"x": 1})
    # the cancel dropped the queued task, so this was the last one: w1 now ends the job (CANCELLED)
    assert finish_tasks(store, "w1", [FinishedTask(job_id=job_id, seq=1, outcome=outcome)], clock.now()) == {job_id}
    assert task_counts(store, job_id) == {TaskState.CANCELLED: 2}
    assert store.jobs.failed_tasks(job_id) == []
    assert store.jobs.read_log(job_id)[-1].message == "Task1 stopped: the job is CANCELLING"


def test_finish_jobs_ends_what_it_holds_and_leaves_the_rest(store: Store, clock: ManualClock) -> None:
    done, cancelled, other = make_jobs(store, clock, make_user(store, clock), 3)
    store.work.claim_jobs("w1", clock.now(), 2)
    store.work.claim_jobs("w2", clock.now(), 1)
    store.jobs.cancel_job(cancelled, 1, clock.now())  # while w1 holds it
    ended = store.work.finish_jobs(
        "w1",
        [JobEnd(job_id=done, status=JobStatus.SUCCESS, result={"tasks": 0}, logs=[(clock.now(), "ok")]),
         JobEnd(job_id=cancelled, status=JobStatus.SUCCESS, logs=[(clock.now(), "not written")]),
         JobEnd(job_id=other, status=JobStatus.SUCCESS)],
        clock.now(),
    )
    assert ended == {done}
    jobs = store.jobs.get_jobs([done, cancelled, other])
    assert jobs[done].status is JobStatus.SUCCESS and jobs[done].result == {"tasks": 0}
    assert jobs[cancelled].status is JobStatus.CANCELLING and jobs[other].status is JobStatus.RUNNING
    assert [line.message for line in store.jobs.read_log(done)] == ["ok"]
    assert "not written" not in [line.message for line in store.jobs.read_log(cancelled)]


def test_two_workers_ending_a_jobs_last_tasks_at_once_complete_it_once(store: Store, clock: ManualClock) -> None:
    ids = make_jobs(store, clock, make_user(store, clock), 40)
    store.work.claim_jobs("w0", clock.now(), len(ids))
    store.work.start_tasks_of("w0", [TaskPlan(job_id=i, chunks=["[1]", "[2]"], claim_first=False) for i in ids],
                         clock.now())
    held = {"w1": store.work.claim_tasks("w1", clock.now(), len(ids)),
            "w2": store.work.claim_tasks("w2", clock.now(), 2 * len(ids))}
    assert sorted(t.job_id for tasks in held.values() for t in tasks) == sorted(ids * 2)
    completions: dict[str, set[int]] = {}
    barrier = threading.Barrier(2)

    def finish(worker: str) -> None:
        barrier.wait()
        ends = [FinishedTask(job_id=t.job_id, seq=t.seq, outcome=ok()) for t in held[worker]]
        completions[worker] = finish_tasks(store, worker, ends, clock.now())

    threads = [threading.Thread(target=finish, args=(w,)) for w in held]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert completions["w1"].isdisjoint(completions["w2"])
    assert completions["w1"] | completions["w2"] == set(ids)


def test_hand_back_gives_units_waiting_behind_a_slow_one_to_others(store: Store, clock: ManualClock) -> None:
    slow, waiting_job, queued_job = make_jobs(store, clock, make_user(store, clock), 3)
    store.work.claim_jobs("w1", clock.now(), 2)
    handed: list[int] = []
    hand_back = HandBack(store, "w1", hold=0.5, clock=clock, on_handed_back=lambda: handed.append(1))
    held = HeldUnits(clock)
    held.hold([job_key(slow), job_key(waiting_job)])
    assert held.start(job_key(slow))
    clock.advance(0.4)
    assert held.take_if_held_back(0.5) == []
    clock.advance(0.2)
    keys = held.take_if_held_back(0.5)
    assert keys == [job_key(waiting_job)] and held.handed_back
    hand_back.release(keys)
    assert handed == [1]
    assert not held.start(job_key(waiting_job))  # the batch skips it now
    claimed = store.work.claim_jobs("w2", clock.now(), 5)
    assert [(j.id, j.status, j.worker_id) for j in claimed] == [
        (waiting_job, JobStatus.RUNNING, "w2"), (queued_job, JobStatus.RUNNING, "w2")
    ]


def test_held_units_between_units_are_not_held_back(clock: ManualClock) -> None:
    held = HeldUnits(clock)
    held.hold([task_key(1, 1), task_key(1, 2)])
    assert held.start(task_key(1, 1))
    held.pause()  # the batch is writing, no unit runs
    clock.advance(10)
    assert held.take_if_held_back(0.5) == []
    assert held.take_all() == [task_key(1, 2)]


def test_quick_units_that_together_run_for_the_hold_hand_back_the_rest(clock: ManualClock) -> None:
    """No unit of the batch is slow, but the units run one after the other hold the rest back just as
    long: once they have run for the hold, what waits goes to other threads. Time spent writing
    between them does not count."""
    held = HeldUnits(clock)
    keys = [task_key(1, n) for n in range(1, 7)]
    held.hold(keys)
    for key in keys[:3]:
        assert held.start(key)
        clock.advance(0.15)
        assert held.take_if_held_back(0.5) == []  # 0.15, 0.3, 0.45 s of running
    held.pause()  # the batch writes, however long
    clock.advance(5)
    assert held.take_if_held_back(0.5) == []
    for key in keys[3:5]:
        assert held.start(key)
        clock.advance(0.3)
    assert held.take_if_held_back(0.5) == [keys[5]] and held.handed_back  # 0.6 s since the write


def test_batch_size_grows_until_units_are_handed_back() -> None:
    size = BatchSize(most=16)
    sizes = []
    for _ in range(6):
        size.record(units=size.size, handed_back=False)
        sizes.append(size.size)
    assert sizes == [2, 4, 8, 16, 16, 16]
    size.record(units=3, handed_back=False)  # a short queue does not shrink it
    assert size.size == 16
    size.record(units=16, handed_back=True)
    assert size.size == 1
    size.record(units=1, handed_back=False)
    assert size.size == 2


def test_a_non_idempotent_job_or_task_comes_only_first_in_a_batch(store: Store, clock: ManualClock) -> None:
    user = make_user(store, clock)

    def job(idempotent: bool) -> int:
        new = NewJob(processor="demo", parameters={}, created_by=user, idempotent=idempotent)
        return store.jobs.create_job(new, clock.now()).id

    a, b, c, d, e = job(False), job(True), job(True), job(False), job(True)
    # a worker that dies is taken to have run every non-idempotent unit it held: it holds one at most
    assert [j.id for j in store.work.claim_jobs("w1", clock.now(), 5)] == [a, b, c]
    assert [j.id for j in store.work.claim_jobs("w2", clock.now(), 5)] == [d, e]
    store.work.start_tasks_of("w1", [TaskPlan(job_id=a, chunks=["[1]", "[2]"], claim_first=False),
                                TaskPlan(job_id=b, chunks=["[1]", "[2]"], claim_first=False)], clock.now())
    assert [(t.job_id, t.seq) for t in store.work.claim_tasks("w3", clock.now(), 5)] == [(a, 1)]
    assert [(t.job_id, t.seq) for t in store.work.claim_tasks("w3", clock.now(), 5)] == [(a, 2), (b, 1), (b, 2)]


def test_job_and_task_counts_reads_both_at_once(store: Store, clock: ManualClock) -> None:
    with_tasks, without = make_jobs(store, clock, make_user(store, clock), 2)
    store.work.claim_jobs("w1", clock.now(), 1)
    start_tasks(store, with_tasks, "w1", ["[1]", "[2]", "[3]"], clock.now(), claim_first=True)
    found = store.jobs.job_and_task_counts(with_tasks)
    assert found is not None
    job, counts = found
    assert job == store.jobs.get_job(with_tasks)
    assert counts == {TaskState.RUNNING: 1, TaskState.QUEUED: 2}
    assert store.jobs.job_and_task_counts(without) == (store.jobs.get_job(without), {})
    assert store.jobs.job_and_task_counts(999) is None


def test_the_status_read_shows_what_the_whole_job_holds(store: Store, clock: ManualClock) -> None:
    """What Retrieve Job Status reads without decoding the job is what the decoded job says, before
    the job runs (no run dates), while it runs and once it ended; nothing for a job that is not there."""
    (job_id,) = make_jobs(store, clock, make_user(store, clock), 1)
    seen = []
    for step in ("queued", "running", "ended"):
        if step == "running":
            clock.advance(1.5)
            store.work.claim_jobs("w1", clock.now(), 1)
        if step == "ended":
            clock.advance(2.25)
            assert store.jobs.transition_job(job_id, JobStatus.RUNNING, JobStatus.SUCCESS, clock.now())
        read = store.jobs.status_read(job_id)
        job = read.whole_job()
        assert job == store.jobs.get_job(job_id)
        assert read.facts == StatusFacts.of(job)
        seen.append((job.status, job.run_start is not None, job.run_end is not None))
    assert seen == [(JobStatus.QUEUED, False, False), (JobStatus.RUNNING, True, False), (JobStatus.SUCCESS, True, True)]
    planned = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=job.created_by, method=None,
                                           status=JobStatus.SCHEDULED, scheduled=True,
                                           scheduled_for=clock.now() + timedelta(hours=1)), clock.now())
    read = store.jobs.status_read(planned.id)
    assert read.facts == StatusFacts.of(planned) and read.facts is not None
    assert (read.facts.scheduled, read.facts.method, read.facts.status) == (True, None, JobStatus.SCHEDULED)
    missing = store.jobs.status_read(999)
    assert missing.facts is None and missing.job is None


def test_jobs_started_together_share_a_batch_each_with_its_own_row(store: Store, clock: ManualClock) -> None:
    """Starts awaited together share one transaction: each gets back the job made of its own request,
    in the order asked, and one whose session epoch moved gets None and inserts nothing."""
    user = make_user(store, clock)
    (epoch,) = execute(store, "SELECT epoch FROM session_epoch WHERE id = 1")[0]

    async def start_all() -> list[Job | None]:
        return list(await asyncio.gather(*(
            store.jobs.create_job_async(
                NewJob(processor="demo", parameters={"n": n}, created_by=user, title=f"job {n}"), clock.now(),
                session_epoch=epoch + 1 if n == 3 else epoch)
            for n in range(8)
        )))

    started = asyncio.run(start_all())
    assert started[3] is None
    made = [(n, job) for n, job in enumerate(started) if job is not None]
    assert [job.title for _, job in made] == [f"job {n}" for n, _ in made]
    ids = [job.id for _, job in made]
    assert ids == sorted(ids) and len(set(ids)) == 7
    for n, job in made:
        stored = store.jobs.get_job(job.id)
        assert stored is not None and stored.parameters == {"n": n} and stored.status is JobStatus.QUEUED
    assert execute(store, "SELECT count(*) FROM jobs")[0][0] == 7


def test_a_new_job_is_what_the_store_then_reads(store: Store, clock: ManualClock) -> None:
    """The job an insert hands back is made from the values inserted, not read back: it must be the
    very job the store reads, every column, sub-millisecond times and JSON included, by either path."""
    user = make_user(store, clock)
    clock.advance(0.0004567)
    queued = NewJob(processor="demo", parameters={"items": 2, "nested": {"a": [1, 2.5, None]}, "t": (1, 2)},
                    created_by=user, title="a title", idempotent=True, timeout=90.5, inactivity_timeout=12.0,
                    cancellable=False)
    scheduled = NewJob(processor="demo", parameters={}, created_by=user, method=None, status=JobStatus.SCHEDULED,
                       scheduled=True, scheduled_for=clock.now() + timedelta(hours=1, microseconds=700))
    made = [store.jobs.create_job(queued, clock.now()), store.jobs.create_job(scheduled, clock.now())]
    made.append(asyncio.run(store.jobs.create_job_async(queued, clock.now())))
    for job in made:
        assert job is not None
        assert job == store.jobs.get_job(job.id)
    assert made[0].parameters["t"] == [1, 2]  # as JSON holds it


def test_a_hand_over_stores_jobs_run_through_for_any_worker_to_complete(store: Store, clock: ManualClock) -> None:
    """Each job still held in its init phase goes to its complete phase, held by nobody, its task
    stored as it ended (CANCELLED, with the line saying why, when the job is being cancelled); a job
    ended meanwhile is left as it is but for its log lines."""
    running, cancelling, ended = make_jobs(store, clock, make_user(store, clock), 3)
    store.work.claim_jobs("w1", clock.now(), 3)
    assert store.jobs.transition_job(cancelling, JobStatus.RUNNING, JobStatus.CANCELLING, clock.now())
    assert store.jobs.transition_job(ended, JobStatus.RUNNING, JobStatus.TIMEOUT, clock.now())
    runs = [SoloRun(job_id=job_id, task=("[]", clock.now(), ok({"n": 1})), logs=[(clock.now(), f"ran {job_id}")])
            for job_id in (running, cancelling, ended)]
    assert store.work.hand_over_solo_jobs("w1", runs, clock.now()) == {running, cancelling}
    for job_id, status in ((running, JobStatus.RUNNING), (cancelling, JobStatus.CANCELLING)):
        job = store.jobs.get_job(job_id)
        assert job is not None and (job.status, job.phase, job.worker_id) == (status, "complete", None)
    assert task_counts(store, running) == {TaskState.SUCCESS: 1}
    assert task_counts(store, cancelling) == {TaskState.CANCELLED: 1}
    assert task_counts(store, ended) == {}
    logs = {job_id: [line.message for line in store.jobs.read_log(job_id)] for job_id in (running, cancelling, ended)}
    assert logs[running][-1] == f"ran {running}"
    assert logs[cancelling][-2:] == [f"ran {cancelling}", "Task1 stopped: the job is CANCELLING"]
    assert logs[ended][-1] == f"ran {ended}"
    assert store.work.hand_over_solo_jobs("w1", runs, clock.now()) == set()  # again: nothing is this worker's
