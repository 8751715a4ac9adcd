"""Scripted and forced job transitions, and a job read with its timeline.

``PUT /transitions/{processor}`` makes the processor's new jobs follow a script instead of running:
each such job is created held (no worker claims it) and moves one step at each Retrieve Job Status
call that is answered (``advance_on: poll``, the move made after the answer) or once each step's
``after_seconds`` of virtual time have passed (``advance_on: clock``). Every move — scripted or
forced — goes through the engine's transition table (:data:`vaultjobs.status.JOB_TRANSITIONS`)
and the store's status writes, so statuses, histories and monitors show them like real ones; only
``POST /jobs/{id}/transition`` with ``"force": true`` may step outside the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.api.versions import NEWEST_VERSION
from vaultjobs.control.plane import ControlPlane
from vaultjobs.control.responses import ControlError, control_endpoint, control_json, read_json
from vaultjobs.models import Job
from vaultjobs.status import JobStatus, TaskState, can_transition
from vaultjobs.store.control_scripts import Script, ScriptedJob
from vaultjobs.store.dialect import Connection
from vaultjobs.store.job_status import force_status, set_status
from vaultjobs.store.jobs import status_in
from vaultjobs.timeutil import render_datetime, to_ms

if TYPE_CHECKING:
    from vaultjobs.api.services import Services

ADVANCE_ON = ("poll", "clock")
#: Who the job transitions record as having moved a job: a test through the control plane, or a script.
AGENT = "control-plane"
SCRIPT_AGENT = "control-plane:script"
#: Virtual seconds between clock-driven steps when a step does not say.
DEFAULT_AFTER_SECONDS = 1.0
#: The task states a step's ``progress`` may count (finished tasks: no worker will look at them).
PROGRESS_STATES = frozenset({TaskState.SUCCESS.value, TaskState.ERRORS_ENCOUNTERED.value, TaskState.CANCELLED.value})
MAX_PROGRESS_TASKS = 10_000
#: A scripted job in these has not been queued yet; its script starts once it is.
NOT_QUEUED_YET = frozenset({JobStatus.SCHEDULED, JobStatus.QUEUEING})


def check_script(processor: str, body: dict[str, Any]) -> Script:
    """The script ``body`` describes; :class:`ControlError` INVALID_SCRIPT when a step is unknown or
    the steps, from QUEUED, make a move the transition table forbids."""
    def invalid(message: str) -> ControlError:
        return ControlError(400, "INVALID_SCRIPT", message)

    steps, advance_on = body.get("steps"), body.get("advance_on", "poll")
    if advance_on not in ADVANCE_ON:
        raise invalid(f"advance_on must be poll or clock, not {advance_on!r}")
    if not isinstance(steps, list) or not steps:
        raise invalid("steps must be a non-empty list of {\"status\": …} objects")
    current = JobStatus.QUEUED
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict) or set(step) - {"status", "progress", "after_seconds", "message"}:
            raise invalid(f"step {n} must be an object with status and optionally progress, after_seconds, message")
        try:
            status = JobStatus(str(step.get("status")))
        except ValueError:
            raise invalid(f"step {n}: unknown status {step.get('status')!r}") from None
        if not _valid_progress(step.get("progress", {})):
            raise invalid(f"step {n}: progress counts finished tasks by state ({', '.join(sorted(PROGRESS_STATES))}),"
                          f" {MAX_PROGRESS_TASKS} at most")
        after = step.get("after_seconds", DEFAULT_AFTER_SECONDS)
        if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
            raise invalid(f"step {n}: after_seconds must be a number of seconds >= 0")
        if not can_transition(current, status):
            raise invalid(f"step {n}: a job cannot move from {current.value} to {status.value}")
        current = status
    return Script(processor, steps, advance_on)


def _valid_progress(progress: Any) -> bool:
    if not isinstance(progress, dict) or set(progress) - PROGRESS_STATES:
        return False
    counts = list(progress.values())
    return all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts) and \
        sum(counts) <= MAX_PROGRESS_TASKS


def _after(step: dict[str, Any]) -> timedelta:
    return timedelta(seconds=float(step.get("after_seconds", DEFAULT_AFTER_SECONDS)))


def holder(plane: ControlPlane, processor: str) -> Callable[[Connection, Job], None] | None:
    """The hook that makes a new job of ``processor`` follow its script, run in the job's own
    transaction (:meth:`vaultjobs.jobs.Jobs.enqueue`'s ``within``); None when it has no script."""
    script = plane.store.control_scripts.get(processor)
    if script is None:
        return None
    now = plane.clock.now()

    def hold(conn: Connection, job: Job) -> None:
        # a scheduled job starts its script at its time (its instance is queued then)
        start = max(now, job.scheduled_for) if job.scheduled_for is not None else now
        due = start + _after(script.steps[0]) if script.advance_on == "clock" else None
        plane.store.control_scripts.hold(conn, job.id, script, due)

    return hold


def take_step(plane: ControlPlane, scripted: ScriptedJob, at: datetime) -> dict[str, Any] | None:
    """Move a scripted job to its next step; the move made (None when the job left its script —
    cancelled, forced elsewhere — or another node took this step first)."""
    store = plane.store
    number = scripted.next_step
    if number >= len(scripted.steps):
        return None
    step = scripted.steps[number]
    new = JobStatus(step["status"])
    last = number + 1 >= len(scripted.steps)
    due = None if last or scripted.advance_on != "clock" else at + _after(scripted.steps[number + 1])
    ms = to_ms(at)
    with store.dialect.write() as conn:
        current = status_in(conn, scripted.job_id)
        if current in NOT_QUEUED_YET:  # a scheduled job waits for its time: the script waits with it
            if scripted.advance_on == "clock":
                store.control_scripts.step_done(conn, scripted.job_id, number, number, at + _after(step))
            return None
        if current is None or not can_transition(current, new):
            store.control_scripts.forget(conn, scripted.job_id)
            return None
        if not store.control_scripts.step_done(conn, scripted.job_id, number, number + 1, due):
            return None
        message = step.get("message") or f"scripted step {number + 1} of {len(scripted.steps)}: {new.value}"
        set_status(store.dialect, conn, scripted.job_id, current, new, ms, log=message, agent=SCRIPT_AGENT)
        if step.get("progress") is not None:
            store.control_scripts.set_progress(conn, scripted.job_id, step["progress"], ms)
        if new is JobStatus.RUNNING:
            store.control_scripts.started(conn, scripted.job_id, ms)
        if last or new.is_terminal:
            store.control_scripts.forget(conn, scripted.job_id)
    move = {"from": current.value, "to": new.value, "forced": False, "scripted": True}
    plane.publish("job.transition", move, job_id=scripted.job_id)
    return {"at": render_datetime(at), "kind": "scripted_step", "job_id": scripted.job_id, "status": new.value}


def step_due(plane: ControlPlane, at: datetime) -> list[dict[str, Any]]:
    """Take every clock-driven step due at ``at``, in time order (what a clock advance fires); and let
    go of scripted jobs cancelled while they ran."""
    plane.store.control_scripts.release_cancelled()
    fired = []
    for _ in range(1000):
        due = plane.store.control_scripts.due(at)
        if not due:
            break
        for scripted in due:
            done = take_step(plane, scripted, scripted.due_at or at)
            if done is None and plane.store.control_scripts.job(scripted.job_id) == scripted:
                with plane.store.dialect.write() as conn:  # a step that can never be taken
                    plane.store.control_scripts.forget(conn, scripted.job_id)
            if done is not None:
                fired.append(done)
    return fired


def after_poll(plane: ControlPlane, job_id: int) -> None:
    """A client was answered this job's status: a poll-driven scripted job takes its next step."""
    scripted = plane.store.control_scripts.job(job_id)
    if scripted is not None and scripted.advance_on == "poll":
        take_step(plane, scripted, plane.clock.now())


def force(plane: ControlPlane, job_id: int, new: JobStatus, *, forced: bool) -> JobStatus:
    """Move job ``job_id`` to ``new``: through the transition table, or outside it when ``forced``.
    The status it had; :class:`ControlError` for a job that does not exist or an illegal move."""
    store = plane.store
    now = plane.clock.now()
    with store.dialect.write() as conn:
        current = status_in(conn, job_id)
        if current is None:
            raise ControlError(404, "JOB_NOT_FOUND", f"no job with id {job_id}")
        legal = can_transition(current, new)
        if not legal and not forced:
            raise ControlError(409, "ILLEGAL_TRANSITION",
                               f"a job cannot move from {current.value} to {new.value}; send \"force\": true "
                               "to move it anyway")
        message = f"moved to {new.value} through the control plane{'' if legal else ' (forced)'}"
        if legal:
            set_status(store.dialect, conn, job_id, current, new, to_ms(now), log=message, agent=AGENT)
        else:
            force_status(store.dialect, conn, job_id, new, to_ms(now), log=message, agent=AGENT)
        if new is JobStatus.RUNNING:
            store.control_scripts.started(conn, job_id, to_ms(now))
        if new.is_terminal:
            store.control_scripts.forget(conn, job_id)
    plane.publish("job.transition", {"from": current.value, "to": new.value, "forced": not legal, "scripted": False},
                  job_id=job_id)
    plane.wake_engine()
    return current


def timeline(plane: ControlPlane, job: Job) -> list[dict[str, Any]]:
    """The statuses a job went through: when, and who or what moved it (the store's record of its
    transitions; for a job older than that record, its own dates)."""
    moves = plane.store.jobs.transitions(job.id)
    if moves:
        return [{"status": move.to_status.value, "at": render_datetime(move.at), "by": move.actor}
                for move in moves]
    first = JobStatus.SCHEDULED if job.scheduled else JobStatus.QUEUED
    steps = [{"status": first.value, "at": render_datetime(job.created_at)}]
    if job.run_start is not None:
        steps.append({"status": JobStatus.RUNNING.value, "at": render_datetime(job.run_start)})
    if job.status not in (first, JobStatus.RUNNING) or (job.status is JobStatus.RUNNING and job.run_start is None):
        steps.append({"status": job.status.value, "at": render_datetime(job.run_end or job.modified_at)})
    return steps


def job_view(plane: ControlPlane, job_id: int, version: str) -> dict[str, Any]:
    """``GET /jobs/{id}``: the job as Retrieve Job Status shows it, its timeline and its tasks; no
    status window is opened."""
    from vaultjobs.api.job_payloads import job_status_data

    read = plane.store.jobs.status_read(job_id)
    job = read.job
    if job is None:
        raise ControlError(404, "JOB_NOT_FOUND", f"no job with id {job_id}")
    owner = plane.store.users.get_user(job.created_by)
    data: dict[str, Any] = {"id": job.id}
    if owner is not None:
        data = job_status_data(job, read.counts, version, owner)
    data.update({"processor": job.processor, "title": job.title, "status": job.status.value})
    tasks = plane.store.jobs.list_tasks(job.id, 1000, 0).items
    scripted = plane.store.control_scripts.job(job.id)
    return {
        "job": data,
        "timeline": timeline(plane, job),
        "tasks": [{"id": t.task_id, "state": t.state.value, "attempts": t.attempts, "message": t.message}
                  for t in tasks],
        "script": None if scripted is None else {"advance_on": scripted.advance_on, "next_step": scripted.next_step,
                                                 "steps": scripted.steps},
    }


def routes(services: Services) -> Sequence[BaseRoute]:
    plane = services.control
    assert plane is not None
    store = plane.store
    version = NEWEST_VERSION

    def scripts() -> Response:
        return control_json({"transitions": {s.processor: {"steps": s.steps, "advance_on": s.advance_on}
                                             for s in store.control_scripts.all()}})

    @control_endpoint
    async def listing(request: Request) -> Response:
        if request.method == "DELETE":
            store.control_scripts.delete()
        return scripts()

    @control_endpoint
    async def one(request: Request) -> Response:
        processor = str(request.path_params["processor"])
        if request.method == "DELETE":
            if not store.control_scripts.delete(processor):
                raise ControlError(404, "NO_SCRIPT", f"processor [{processor}] has no script")
            return scripts()
        if services.registry.spec(processor) is None:
            raise ControlError(400, "INVALID_SCRIPT", f"processor [{processor}] is not installed")
        store.control_scripts.put(check_script(processor, await read_json(request)))
        return scripts()

    def job_id_of(request: Request) -> int:
        try:
            return int(request.path_params["job_id"])
        except ValueError:
            raise ControlError(404, "JOB_NOT_FOUND", f"no job with id {request.path_params['job_id']}") from None

    @control_endpoint
    async def read(request: Request) -> Response:
        return control_json(job_view(plane, job_id_of(request), version))

    @control_endpoint
    async def transition(request: Request) -> Response:
        job_id = job_id_of(request)
        body = await read_json(request)
        try:
            new = JobStatus(str(body.get("status")))
        except ValueError:
            raise ControlError(400, "INVALID_STATUS", f"unknown status {body.get('status')!r}") from None
        force(plane, job_id, new, forced=bool(body.get("force", False)))
        return control_json(job_view(plane, job_id, version))

    return [
        Route("/transitions", listing, methods=["GET", "DELETE"]),
        Route("/transitions/{processor}", one, methods=["PUT", "DELETE"]),
        Route("/jobs/{job_id}", read, methods=["GET"]),
        Route("/jobs/{job_id}/transition", transition, methods=["POST"]),
    ]
