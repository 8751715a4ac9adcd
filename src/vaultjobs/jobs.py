"""Jobs as their users see them: starting one, who may see it, starting a scheduled one now, cancelling.

The run endpoint, the content endpoints that start document jobs, the scheduler's definition
instances and the front ends to come (the web page, the control plane) all start and guard jobs. This
module is the one place that knows how, so a rule (a limit, who may cancel what) changes in one place
and every caller keeps to it. It speaks users, processors and jobs, never HTTP: callers decode their
requests, call :class:`Jobs`, and answer with what it returns or raises. Its errors are the job
errors of :mod:`vaultjobs.errors`, each a kind of a Vault error type, so the API answers them as
that type unchanged.

Who may see a job is Vault's rule: its creator, and admins. Seeing a job and acting on it (start
now, cancel) are the same right.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson

from vaultjobs.errors import (
    InvalidData,
    JobAccessDenied,
    JobEnded,
    JobNotCancellable,
    JobNotFound,
    JobNotScheduled,
    ProcessorNotInstalled,
)
from vaultjobs.models import Definition, Job, User
from vaultjobs.registry import Registry
from vaultjobs.sdk import MAX_PARAMETERS_BYTES, ParameterError, ProcessorSpec
from vaultjobs.status import JobStatus
from vaultjobs.store import NewJob, Store
from vaultjobs.store.dialect import Connection
from vaultjobs.store.leases import Fence, check_fence
from vaultjobs.timeutil import Clock, parse_datetime, require_aware

#: Longest job title; titles show in histories and monitors, one line each.
MAX_TITLE_LENGTH = 255


def visible_creator(user: User) -> int | None:
    """Whose jobs a listing may show ``user``: their own (their id), or everyone's (None) for an admin."""
    return None if user.is_admin else user.id


class HasCreator(Protocol):
    """A job, or what was read of one (:class:`~vaultjobs.models.StatusFacts`): who made it."""

    @property
    def created_by(self) -> int: ...


JobT = TypeVar("JobT", bound=HasCreator)


def may_access(user: User, job: HasCreator) -> bool:
    """Whether ``user`` may see ``job`` and act on it: they created it, or they are an admin."""
    return user.is_admin or job.created_by == user.id


def require_access(user: User, job_id: int, job: JobT | None) -> JobT:
    """``job`` (as read for ``job_id``) when ``user`` may see it.

    For callers that read the job together with other data in one query (Retrieve Job Status reads
    its task counts too); :meth:`Jobs.get` reads the job itself. A job that does not exist is
    INVALID_DATA and one the user may not see is INSUFFICIENT_ACCESS, as in Vault: a job id is not
    a secret worth hiding behind "does not exist".
    """
    if job is None:
        raise JobNotFound(job_id)
    if not may_access(user, job):
        raise JobAccessDenied(job_id)
    return job


def check_title(title: str | None) -> str | None:
    """``title`` when it may name a job: up to 255 characters on one line, no control characters."""
    # Callers that pass decoded JSON may hand over any value, hence the type check.
    if title is not None and (
        not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH or any(ord(c) < 32 for c in title)
    ):
        raise InvalidData(
            f"Invalid value for [title]: a string of up to {MAX_TITLE_LENGTH} characters, no control characters"
        )
    return title


@dataclass(frozen=True, kw_only=True, slots=True)
class JobRequest:
    """What a user asks to run, as :meth:`Jobs.enqueue` takes it."""

    processor: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    title: str | None = None
    #: When to run: None for now; an aware datetime, or ISO 8601 text, read in the user's time zone
    #: when it has no offset (what a user types means their wall clock).
    schedule_at: datetime | str | None = None
    #: The HTTP method of the request that asked (histories show it); None when no request did.
    method: str | None = "POST"


def _nothing() -> None:
    return None


#: Given a processor, what holds a new job of it, run in the job's own transaction (the control
#: plane's scripted jobs, which no worker may take); None when nothing does.
Hold = Callable[[str], Callable[[Connection, Job], None] | None]


class Jobs:
    """Starts jobs and guards them, over a store, the installed processors and a clock.

    ``notify`` wakes the engine (scheduler and workers) after a change it should act on at once: a
    job queued, scheduled, started now or cancelled; ``notify_queued``, when given, instead of it after
    a job was queued (the workers' business only). ``schedule_grace`` is how late a scheduled time
    may be and still be accepted (the scheduler's grace, so a request it would not miss is not
    refused either).
    """

    def __init__(
        self,
        *,
        store: Store,
        registry: Registry,
        clock: Clock,
        schedule_grace: float,
        notify: Callable[[], None] = _nothing,
        notify_queued: Callable[[], None] | None = None,
        hold: Hold | None = None,
    ) -> None:
        self.store = store
        self.hold = hold
        self.registry = registry
        self.clock = clock
        self.schedule_grace = timedelta(seconds=schedule_grace)
        self.notify = notify
        self.notify_queued = notify_queued or notify

    # -- processors and their parameters ------------------------------------------------------------

    def processor(self, name: str) -> ProcessorSpec:
        """The spec of the installed processor ``name``; :class:`ProcessorNotInstalled` when there is none."""
        spec = self.registry.spec(name)
        if spec is None:
            raise ProcessorNotInstalled(name)
        return spec

    def validated_parameters(self, processor: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """``parameters`` as the processor's ``validate`` returns them (defaults filled in), or a copy
        when it has none.

        :class:`ProcessorNotInstalled` when ``processor`` is not installed; :class:`InvalidData` with the
        processor's own message when it refuses them (a :class:`~vaultjobs.sdk.ParameterError`).
        """
        self.processor(processor)
        validate = getattr(self.registry.instantiate(processor), "validate", None)
        if not callable(validate):
            return dict(parameters)
        try:
            validated: dict[str, Any] = validate(dict(parameters))
        except ParameterError as exc:
            raise InvalidData(str(exc)) from exc
        return validated

    # -- starting jobs -------------------------------------------------------------------------------

    def enqueue(self, user: User, request: JobRequest, *,
                within: Callable[[Connection, Job], None] | None = None) -> Job:
        """Create ``user``'s job: QUEUED, or SCHEDULED when the request names a time; wake the engine.

        Checked in this order, the first failure raised: the processor is installed
        (:class:`ProcessorNotInstalled`), it accepts the parameters, they fit the SDK's 8 KB, the title
        is valid, and the time parses and has not passed by more than the schedule grace (each
        :class:`InvalidData`). ``within`` runs in the job's own transaction (see
        :meth:`~vaultjobs.store.jobs.Jobs.create_job`).
        """
        new = self.new_job(user, request)
        job = self.store.jobs.create_job(new, self.clock.now(), within=self._held(new.processor, within))
        self._enqueued(job)
        return job

    def _held(self, processor: str, within: Callable[[Connection, Job], None] | None
              ) -> Callable[[Connection, Job], None] | None:
        """``within``, followed by what :attr:`hold` does to a new job of ``processor``."""
        held = self.hold(processor) if self.hold is not None else None
        if held is None or within is None:
            return held or within
        first = within

        def both(conn: Connection, job: Job) -> None:
            first(conn, job)
            held(conn, job)

        return both

    async def enqueue_async(self, user: User, request: JobRequest, *, session_epoch: int | None = None) -> Job | None:
        """:meth:`enqueue` on the event loop: the checks run here, the durable insert in its batch, whose
        transaction tells the other nodes; on a store that reads in microseconds (the store's
        ``inline``) this node's engine is woken here as well, elsewhere its listener hears that notice.
        Not for jobs that :attr:`hold` may hold (those take :meth:`enqueue`).

        With ``session_epoch`` (the epoch ``user``'s session was checked at), the job is made only if
        that is still the epoch when it is inserted: None, and no job, when it is not."""
        new = self.new_job(user, request)
        job = await self.store.jobs.create_job_async(new, self.clock.now(), session_epoch=session_epoch)
        if job is not None and self.store.dialect.inline:
            self._enqueued(job)
        return job

    def _enqueued(self, job: Job) -> None:
        (self.notify_queued if job.status is JobStatus.QUEUED else self.notify)()

    def new_job(self, user: User, request: JobRequest) -> NewJob:
        """The job ``request`` asks for, checked as :meth:`enqueue` says."""
        spec = self.processor(request.processor)
        parameters = self.validated_parameters(spec.name, request.parameters)
        if len(orjson.dumps(parameters)) > MAX_PARAMETERS_BYTES:
            raise InvalidData(f"Invalid value for [parameters]: larger than {MAX_PARAMETERS_BYTES} bytes")
        title = check_title(request.title)
        scheduled_for = self._scheduled_for(request.schedule_at, user, self.clock.now())
        return NewJob(
            processor=spec.name,
            parameters=parameters,
            created_by=user.id,
            title=title,
            method=request.method,
            status=JobStatus.SCHEDULED if scheduled_for else JobStatus.QUEUED,
            scheduled=scheduled_for is not None,
            scheduled_for=scheduled_for,
            idempotent=spec.idempotent,
            timeout=spec.timeout,
            inactivity_timeout=spec.inactivity_timeout,
            cancellable=spec.admin_cancellable,
        )

    def _scheduled_for(self, raw: datetime | str | None, user: User, now: datetime) -> datetime | None:
        if raw is None:
            return None
        if isinstance(raw, datetime):
            at = require_aware(raw, "schedule_at")
        else:
            try:
                if not isinstance(raw, str):  # decoded JSON may be any value
                    raise ValueError(raw)
                at = parse_datetime(raw, user.timezone)
            except ValueError as exc:
                raise InvalidData(
                    "Invalid value for [schedule_at]: an ISO 8601 date-time from 1970 to 9999, "
                    "such as 2026-12-01T02:00:00Z"
                ) from exc
        if at < now - self.schedule_grace:
            raise InvalidData("Invalid value for [schedule_at]: the time has passed")
        return at

    def schedule_instance(self, definition: Definition, at: datetime, *, fence: Fence | None = None) -> Job:
        """Create the SCHEDULED instance of ``definition`` due at ``at``, owned by its owner.

        Unlike :meth:`enqueue` this refuses nothing: an instance whose processor is missing or
        refuses its parameters is still created, and fails (FAILED_TO_RUN) when it is due, where its
        owner sees why. Parameters the processor accepts are stored as it returns them (defaults
        filled in). The definition's timeouts, when set, replace the processor's. The engine is not
        woken: the scheduler, the only caller, works out its own next wake-up.

        :class:`~vaultjobs.store.StoreError` when the definition has a SCHEDULED instance already
        (another scheduler made it first); :class:`~vaultjobs.store.leases.LeaseLost`, nothing made,
        when ``fence`` no longer holds its lease.
        """
        fenced: Callable[[Connection, Job], None] | None = None
        if fence is not None:
            def fenced(conn: Connection, job: Job) -> None:
                check_fence(self.store.dialect, conn, fence, self.clock.now())
        within = self._held(definition.processor, fenced)

        spec = self.registry.spec(definition.processor)
        parameters = dict(definition.parameters)
        if spec is not None:
            try:
                parameters = self.validated_parameters(definition.processor, parameters)
            except Exception:  # noqa: BLE001 - a validate that refuses or raises: the instance fails when due
                pass
        return self.store.jobs.create_job(
            NewJob(
                processor=definition.processor,
                parameters=parameters,
                created_by=definition.owner_id,
                title=definition.title or definition.name,
                method=None,
                status=JobStatus.SCHEDULED,
                scheduled=True,
                scheduled_for=at,
                idempotent=spec.idempotent if spec else False,
                timeout=definition.timeout or (spec.timeout if spec else None),
                inactivity_timeout=definition.inactivity_timeout or (spec.inactivity_timeout if spec else None),
                definition=definition.name,
                cancellable=spec.admin_cancellable if spec else True,
            ),
            self.clock.now(),
            within=within,
        )

    # -- one job ---------------------------------------------------------------------------------------

    def get(self, user: User, job_id: int) -> Job:
        """Job ``job_id`` when ``user`` may see it (:func:`require_access`)."""
        return require_access(user, job_id, self.store.jobs.get_job(job_id))

    def start_now(self, user: User, job_id: int) -> None:
        """Run a SCHEDULED job now (Vault's Start Job): it moves to QUEUEING, where the scheduler checks
        and queues it; the definition's schedule resumes at its next time.

        :class:`JobNotScheduled` when the job is in any other status, also when it left SCHEDULED
        while this ran (the status named is the one it has now).
        """
        job = self.get(user, job_id)
        if job.status is not JobStatus.SCHEDULED or not self.store.jobs.transition_job(
            job.id, JobStatus.SCHEDULED, JobStatus.QUEUEING, self.clock.now(), by=user.id,
            log=f"started now by user {user.id}",
        ):
            raise JobNotScheduled(job.id, self.store.jobs.job_status(job.id) or job.status)
        self.notify()

    def cancel(self, user: User, job_id: int) -> None:
        """Cancel job ``job_id`` for ``user``: at once when it has not started, cooperatively when it
        runs (it is CANCELLING until its tasks stop).

        :class:`JobNotFound`, :class:`JobAccessDenied`; :class:`JobNotCancellable` for a RUNNING job
        whose processor is not ``admin_cancellable``; :class:`JobEnded` when it has ended already.
        Cancel Job reports these per job, so a request naming several jobs goes on past one refusal.
        """
        job = self.store.jobs.get_job(job_id)
        if job is None:
            raise JobNotFound(job_id, f"Job [{job_id}] is not found")
        require_access(user, job_id, job)
        accepted, status = self.store.jobs.cancel_job(job_id, user.id, self.clock.now())
        if accepted:
            self.notify()
            return
        if status is JobStatus.RUNNING:
            raise JobNotCancellable(job_id)
        raise JobEnded(job_id, status)
