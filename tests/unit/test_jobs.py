"""The job domain on a real store (SQLite and PostgreSQL) and a manual clock: starting jobs, who may
see them, starting a scheduled one now and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vaultjobs import errors
from vaultjobs.jobs import JobRequest, Jobs, may_access, require_access, visible_creator
from vaultjobs.models import Definition, Job, User
from vaultjobs.registry import Registry
from vaultjobs.sdk import JobContext, ParameterError, ParameterReader, Task, processor
from vaultjobs.status import JobStatus
from vaultjobs.store import NewJob, Store, StoreError
from vaultjobs.store.jobs import Jobs as StoreJobs
from vaultjobs.testing import ManualClock

GRACE = 15 * 60.0


@processor("counted", chunk_size=10, idempotent=True, timeout="2h", inactivity_timeout="10m")
class Counted:
    """Takes a count (default 3) and nothing else."""

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        read = ParameterReader(parameters)
        read.only("count")
        return {"count": read.integer("count", 3, 0, 100)}

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{} for _ in range(ctx.parameters["count"])]

    def process(self, ctx: JobContext, task: Task) -> None:
        pass


@processor("stubborn", admin_cancellable=False)
class Stubborn:
    """Has no validate, and cannot be cancelled once it runs."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return []

    def process(self, ctx: JobContext, task: Task) -> None:
        pass


class RecordingJobs:
    """The real store's jobs, keeping each NewJob it was asked to create (a Job does not show its timeouts)."""

    def __init__(self, jobs: StoreJobs) -> None:
        self._jobs = jobs
        self.created: list[NewJob] = []

    def create_job(self, new: NewJob, now: datetime, **kwargs: Any) -> Job:
        self.created.append(new)
        return self._jobs.create_job(new, now, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jobs, name)


class RecordingStore:
    """The real store, its jobs recorded."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.jobs = RecordingJobs(store.jobs)
        self.created = self.jobs.created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Wakeups:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def recording(store: Store) -> RecordingStore:
    return RecordingStore(store)


@pytest.fixture
def wakeups() -> Wakeups:
    return Wakeups()


@pytest.fixture
def jobs(recording: RecordingStore, clock: ManualClock, wakeups: Wakeups) -> Jobs:
    return Jobs(
        store=recording,  # type: ignore[arg-type]
        registry=Registry([Counted, Stubborn]),
        clock=clock,
        schedule_grace=GRACE,
        notify=wakeups,
    )


def _user(store: Store, clock: ManualClock, name: str, *, admin: bool = False, timezone: str = "UTC") -> User:
    return store.users.create_user(username=name, password_hash="x", timezone=timezone, is_admin=admin, now=clock.now())


@pytest.fixture
def alice(store: Store, clock: ManualClock) -> User:
    return _user(store, clock, "alice", timezone="Europe/Paris")


@pytest.fixture
def bob(store: Store, clock: ManualClock) -> User:
    return _user(store, clock, "bob")


@pytest.fixture
def admin(store: Store, clock: ManualClock) -> User:
    return _user(store, clock, "root", admin=True)


# -- enqueue ---------------------------------------------------------------------------------------


def test_enqueue_queues_a_job_with_the_processors_spec_and_validated_parameters(
    jobs: Jobs, recording: RecordingStore, alice: User, clock: ManualClock, wakeups: Wakeups
) -> None:
    job = jobs.enqueue(alice, JobRequest(processor="counted", parameters={}, title="Nightly count", method="PUT"))

    assert job.status is JobStatus.QUEUED
    assert (job.processor, job.created_by, job.title, job.method) == ("counted", alice.id, "Nightly count", "PUT")
    assert job.parameters == {"count": 3}  # the processor's default, filled in by validate
    assert job.created_at == clock.now()
    assert (job.scheduled, job.scheduled_for) == (False, None)
    assert (job.idempotent, job.cancellable) == (True, True)
    [new] = recording.created
    assert (new.timeout, new.inactivity_timeout) == (2 * 3600.0, 600.0)
    assert wakeups.count == 1
    assert recording.jobs.get_job(job.id) == job


def test_a_queued_job_wakes_the_workers_only_and_a_scheduled_one_everybody(
    recording: RecordingStore, clock: ManualClock, alice: User
) -> None:
    everybody, workers = Wakeups(), Wakeups()
    jobs = Jobs(store=recording, registry=Registry([Counted]), clock=clock,  # type: ignore[arg-type]
                schedule_grace=GRACE, notify=everybody, notify_queued=workers)
    jobs.enqueue(alice, JobRequest(processor="counted"))
    assert (everybody.count, workers.count) == (0, 1)
    jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=(clock.now() + timedelta(hours=1)).isoformat()))
    assert (everybody.count, workers.count) == (1, 1)


def test_enqueue_without_validate_stores_the_parameters_as_given(jobs: Jobs, alice: User) -> None:
    job = jobs.enqueue(alice, JobRequest(processor="stubborn", parameters={"any": ["thing"]}))
    assert job.parameters == {"any": ["thing"]}
    assert job.cancellable is False


def test_a_time_without_offset_is_the_users_wall_clock(jobs: Jobs, alice: User, clock: ManualClock) -> None:
    # The manual clock starts on 2026-01-01 UTC; Paris is UTC+1 in winter.
    job = jobs.enqueue(alice, JobRequest(processor="counted", schedule_at="2026-01-02T09:30:00"))
    assert job.status is JobStatus.SCHEDULED
    assert job.scheduled is True
    assert job.scheduled_for == datetime(2026, 1, 2, 8, 30, tzinfo=UTC)


def test_a_time_passed_within_the_grace_is_accepted_and_one_before_it_refused(
    jobs: Jobs, alice: User, clock: ManualClock
) -> None:
    recent = clock.now() - timedelta(seconds=GRACE - 1)
    assert jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=recent)).scheduled_for == recent
    with pytest.raises(errors.InvalidData, match=r"\[schedule_at\]: the time has passed"):
        jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=recent - timedelta(seconds=2)))


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        # the processor is the first thing checked, and names the name asked for
        (JobRequest(processor="nope", parameters={"count": "x"}), errors.ProcessorNotInstalled,
         "Processor [nope] does not exist"),
        # the processor's own ParameterError, as INVALID_DATA
        (JobRequest(processor="counted", parameters={"count": 101}), errors.InvalidData,
         "Invalid value for parameter [count]: must be an integer from 0 to 100"),
        # parameters are checked before the title
        (JobRequest(processor="counted", parameters={"other": 1}, title="\n"), errors.InvalidData,
         "Invalid value for parameter [other]: is not a parameter of this processor (known: count)"),
        (JobRequest(processor="stubborn", parameters={"blob": "x" * 9000}), errors.InvalidData,
         "Invalid value for [parameters]: larger than 8192 bytes"),
        (JobRequest(processor="counted", title="t" * 256), errors.InvalidData, "Invalid value for [title]"),
        (JobRequest(processor="counted", title="two\nlines"), errors.InvalidData, "Invalid value for [title]"),
        # callers passing decoded JSON: a value of the wrong type is bad data, not a crash
        (JobRequest(processor="counted", title=7), errors.InvalidData, "Invalid value for [title]"),  # type: ignore[arg-type]
        (JobRequest(processor="counted", schedule_at=1700000000), errors.InvalidData,  # type: ignore[arg-type]
         "Invalid value for [schedule_at]: an ISO 8601 date-time"),
        (JobRequest(processor="counted", schedule_at="tomorrow"), errors.InvalidData,
         "Invalid value for [schedule_at]: an ISO 8601 date-time"),
    ],
)
def test_enqueue_refuses_and_creates_nothing(
    jobs: Jobs, recording: RecordingStore, alice: User, wakeups: Wakeups,
    request_: JobRequest, error: type[errors.VaultError], message: str,
) -> None:
    with pytest.raises(error) as caught:
        jobs.enqueue(alice, request_)
    assert type(caught.value) is error
    assert caught.value.type == "INVALID_DATA"
    assert caught.value.message.startswith(message)
    assert recording.created == []
    assert wakeups.count == 0


def test_validated_parameters_names_a_missing_processor_and_copies_when_there_is_no_validate(jobs: Jobs) -> None:
    given = {"a": 1}
    copied = jobs.validated_parameters("stubborn", given)
    assert copied == given and copied is not given
    with pytest.raises(errors.ProcessorNotInstalled) as caught:
        jobs.validated_parameters("gone", {})
    assert caught.value.processor == "gone"
    with pytest.raises(errors.InvalidData) as refused:
        jobs.validated_parameters("counted", {"count": -1})
    assert isinstance(refused.value.__cause__, ParameterError)


# -- definition instances --------------------------------------------------------------------------


def _definition(owner: User, **changes: Any) -> Definition:
    base: dict[str, Any] = {"name": "nightly", "processor": "counted", "parameters": {}, "owner_id": owner.id,
                            "interval": 3600.0}
    return Definition(**{**base, **changes})


def test_schedule_instance_is_owned_by_the_definition_owner_and_uses_its_timeouts(
    jobs: Jobs, recording: RecordingStore, bob: User, clock: ManualClock, wakeups: Wakeups
) -> None:
    at = clock.now() + timedelta(hours=1)
    job = jobs.schedule_instance(_definition(bob, timeout=60.0, title=None), at)

    assert (job.status, job.scheduled, job.scheduled_for) == (JobStatus.SCHEDULED, True, at)
    assert (job.created_by, job.title, job.method, job.definition) == (bob.id, "nightly", None, "nightly")
    assert job.parameters == {"count": 3}
    [new] = recording.created
    assert (new.timeout, new.inactivity_timeout) == (60.0, 600.0)  # the definition's, else the processor's
    assert wakeups.count == 0  # the scheduler is the caller; it plans its own next tick


def test_schedule_instance_keeps_what_would_be_refused_so_it_fails_when_due(
    jobs: Jobs, recording: RecordingStore, bob: User, clock: ManualClock
) -> None:
    at = clock.now() + timedelta(hours=1)
    bad = jobs.schedule_instance(_definition(bob, name="bad", parameters={"count": "many"}), at)
    missing = jobs.schedule_instance(_definition(bob, name="missing", processor="uninstalled"), at)

    assert bad.parameters == {"count": "many"}
    assert (missing.processor, missing.idempotent, missing.cancellable) == ("uninstalled", False, True)
    assert recording.created[1].timeout is None


def test_a_definition_has_one_scheduled_instance(jobs: Jobs, bob: User, clock: ManualClock) -> None:
    jobs.schedule_instance(_definition(bob), clock.now() + timedelta(hours=1))
    with pytest.raises(StoreError):
        jobs.schedule_instance(_definition(bob), clock.now() + timedelta(hours=2))


# -- who may see a job -------------------------------------------------------------------------------


def test_the_creator_and_admins_may_see_a_job_and_nobody_else(
    jobs: Jobs, alice: User, bob: User, admin: User
) -> None:
    job = jobs.enqueue(alice, JobRequest(processor="counted"))

    assert may_access(alice, job) and may_access(admin, job) and not may_access(bob, job)
    assert jobs.get(alice, job.id) == job
    assert jobs.get(admin, job.id) == job
    with pytest.raises(errors.JobAccessDenied) as denied:
        jobs.get(bob, job.id)
    assert denied.value.type == "INSUFFICIENT_ACCESS"
    assert denied.value.message == f"You do not have access to job [{job.id}]"
    assert denied.value.job_id == job.id


def test_a_missing_job_is_invalid_data_before_any_access_check(jobs: Jobs, bob: User) -> None:
    with pytest.raises(errors.JobNotFound) as caught:
        jobs.get(bob, 424242)
    assert (caught.value.type, caught.value.message) == ("INVALID_DATA", "The resource [424242] does not exist")
    with pytest.raises(errors.JobNotFound):
        require_access(bob, 424242, None)


def test_listings_show_a_user_their_own_jobs_and_an_admin_everyones(alice: User, admin: User) -> None:
    assert visible_creator(alice) == alice.id
    assert visible_creator(admin) is None


# -- start now -----------------------------------------------------------------------------------------


def test_start_now_moves_a_scheduled_job_to_queueing_and_wakes_the_engine(
    jobs: Jobs, recording: RecordingStore, alice: User, clock: ManualClock, wakeups: Wakeups
) -> None:
    job = jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=clock.now() + timedelta(days=1)))
    clock.advance(5)
    jobs.start_now(alice, job.id)

    started = recording.jobs.get_job(job.id)
    assert started is not None
    assert (started.status, started.modified_by, started.modified_at) == (JobStatus.QUEUEING, alice.id, clock.now())
    assert wakeups.count == 2  # once for scheduling, once for starting


def test_start_now_refuses_a_job_that_is_not_scheduled_and_names_its_status(
    jobs: Jobs, recording: RecordingStore, alice: User, bob: User, clock: ManualClock
) -> None:
    queued = jobs.enqueue(alice, JobRequest(processor="counted"))
    with pytest.raises(errors.JobNotScheduled) as caught:
        jobs.start_now(alice, queued.id)
    assert caught.value.type == "OPERATION_NOT_ALLOWED"
    assert caught.value.status is JobStatus.QUEUED
    assert caught.value.message == f"Job [{queued.id}] is QUEUED; only a SCHEDULED job can be started now"

    scheduled = jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=clock.now() + timedelta(days=1)))
    with pytest.raises(errors.JobAccessDenied):
        jobs.start_now(bob, scheduled.id)
    assert recording.jobs.job_status(scheduled.id) is JobStatus.SCHEDULED


# -- cancel ----------------------------------------------------------------------------------------------


def test_cancel_ends_a_job_that_has_not_started_and_wakes_the_engine(
    jobs: Jobs, recording: RecordingStore, alice: User, admin: User, clock: ManualClock, wakeups: Wakeups
) -> None:
    queued = jobs.enqueue(alice, JobRequest(processor="counted"))
    scheduled = jobs.enqueue(alice, JobRequest(processor="counted", schedule_at=clock.now() + timedelta(days=1)))

    jobs.cancel(alice, queued.id)
    jobs.cancel(admin, scheduled.id)  # an admin may cancel anyone's job

    assert recording.jobs.job_status(queued.id) is JobStatus.CANCELLED
    cancelled = recording.jobs.get_job(scheduled.id)
    assert cancelled is not None and (cancelled.status, cancelled.modified_by) == (JobStatus.CANCELLED, admin.id)
    assert wakeups.count == 4


def test_cancel_of_a_running_job_depends_on_its_processor(
    jobs: Jobs, recording: RecordingStore, alice: User, clock: ManualClock
) -> None:
    cancellable = jobs.enqueue(alice, JobRequest(processor="counted"))
    stubborn = jobs.enqueue(alice, JobRequest(processor="stubborn"))
    for job in (cancellable, stubborn):
        assert recording.jobs.transition_job(job.id, JobStatus.QUEUED, JobStatus.RUNNING, clock.now())

    jobs.cancel(alice, cancellable.id)  # no worker holds it, so it ends at once
    assert recording.jobs.job_status(cancellable.id) is JobStatus.CANCELLED

    with pytest.raises(errors.JobNotCancellable) as caught:
        jobs.cancel(alice, stubborn.id)
    assert (caught.value.type, caught.value.message) == (
        "OPERATION_NOT_ALLOWED", f"Job [{stubborn.id}] is RUNNING and its processor cannot be cancelled"
    )
    assert recording.jobs.job_status(stubborn.id) is JobStatus.RUNNING


def test_cancel_refuses_an_ended_a_missing_and_someone_elses_job(
    jobs: Jobs, recording: RecordingStore, alice: User, bob: User
) -> None:
    job = jobs.enqueue(alice, JobRequest(processor="counted"))

    with pytest.raises(errors.JobAccessDenied):
        jobs.cancel(bob, job.id)
    assert recording.jobs.job_status(job.id) is JobStatus.QUEUED

    jobs.cancel(alice, job.id)
    with pytest.raises(errors.JobEnded) as ended:
        jobs.cancel(alice, job.id)
    assert (ended.value.type, ended.value.status) == ("INVALID_DATA", JobStatus.CANCELLED)
    assert ended.value.message == f"Job [{job.id}] is not found in SCHEDULED, QUEUEING, QUEUED or RUNNING state"

    with pytest.raises(errors.JobNotFound) as missing:
        jobs.cancel(alice, 424242)
    assert missing.value.message == "Job [424242] is not found"
