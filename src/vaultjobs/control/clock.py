"""The virtual clock: one clock, kept in the store, that every replica and worker of a cluster reads.

With the control plane on, the node's :class:`~vaultjobs.timeutil.Clock` is a :class:`StoreClock`:
each ``now()`` reads the store's one clock row (frozen at an instant, or running at an offset from
the real clock), so a change made through one replica holds on every other at its next call — the
control plane is for tests, and a read per call buys that correctness. ``monotonic()`` stays real:
it only paces the engine's own bookkeeping (batch hand-backs, log flushes, cancellation checks);
every time rule reads ``now()``.

``advance`` moves the clock forward to each instant at which a time rule falls due (schedules,
MISSED_SCHEDULE, TIMEOUT, inactivity, retention, clock-driven scripted steps), in time order, runs
the engine's time rules there synchronously, and answers what fired.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.control import transitions
from vaultjobs.control.plane import ControlPlane
from vaultjobs.control.responses import ControlError, control_endpoint, control_json, read_json
from vaultjobs.status import JobStatus
from vaultjobs.store.control_clock import ClockState, ControlClock, due_rules
from vaultjobs.timeutil import Clock, parse_datetime, render_datetime

if TYPE_CHECKING:
    from vaultjobs.api.services import Services

#: Most instants one advance steps through (a runaway schedule cannot keep a request forever).
MAX_STEPS = 10_000
#: How long, in real seconds, the jobs a step queued may run at that instant before the clock moves on:
#: a scheduled job that takes milliseconds then ends at its own time, not hours later in a jump.
SETTLE_SECONDS = 2.0
#: ... but only this long when no worker has taken any of them.
UNCLAIMED_SECONDS = 0.5
NOT_STARTED = frozenset({JobStatus.QUEUEING, JobStatus.QUEUED})


class StoreClock:
    """The node's clock when the control plane is on: the store's clock row, read on every call."""

    def __init__(self, row: ControlClock, real: Clock | None = None) -> None:
        self.row = row
        self.real_now = real.now if real is not None else lambda: datetime.now(UTC)
        self.real_monotonic = real.monotonic if real is not None else time.monotonic

    def state(self) -> ClockState:
        return self.row.state()

    def now(self) -> datetime:
        return self.row.state().now(self.real_now())

    def monotonic(self) -> float:
        return self.real_monotonic()

    def view(self, state: ClockState | None = None) -> dict[str, Any]:
        """The clock as ``GET /clock`` shows it."""
        state = state or self.state()
        return {"now": render_datetime(state.now(self.real_now())), "frozen": state.frozen_at is not None,
                "offset_seconds": state.offset.total_seconds()}

    def stand_at(self, at: datetime, *, frozen: bool) -> ClockState:
        """Put the clock at ``at``: standing still there, or running on from it."""
        if frozen:
            return self.row.set(at, self.row.state().offset)
        return self.row.set(None, at - self.real_now())

    def freeze(self, at: datetime | None = None) -> ClockState:
        return self.stand_at(at if at is not None else self.now(), frozen=True)

    def resume(self) -> ClockState:
        """Run again from where the clock stands."""
        return self.stand_at(self.now(), frozen=False)

    def reset(self) -> ClockState:
        return self.row.set(None, timedelta(0))


def advance(plane: ControlPlane, *, seconds: float | None = None, to: datetime | None = None
            ) -> tuple[ClockState, list[dict[str, Any]]]:
    """Move the clock ``seconds`` on, or ``to`` an instant, stopping at each instant a time rule falls
    due to run the rules; what fired, in time order. :class:`ControlError` CLOCK_BACKWARDS for an
    instant in the past."""
    clock = plane.clock
    with plane.advancing:
        frozen = clock.state().frozen_at is not None
        now = clock.now()
        target = to if to is not None else now + timedelta(seconds=seconds or 0.0)
        if target < now:
            raise ControlError(400, "CLOCK_BACKWARDS",
                               f"the clock moves forward only: {render_datetime(target)} is before "
                               f"{render_datetime(now)}")
        fired: list[dict[str, Any]] = []
        state = clock.state()
        for _ in range(MAX_STEPS):
            rules = _rules(plane)
            due = [at for at in (plane.store.control_clock.next_after(rules, now),
                                 plane.store.control_scripts.next_due()) if at is not None and at > now]
            step = min([*due, target])
            # what falls due at ``step`` is read while the clock still stands before it: once it
            # stands there, any node's engine may run a rule first, and the move is still this step's
            pending = _pending(plane, step)
            state = clock.stand_at(step, frozen=frozen)
            fired_now = _run_due(plane, step, pending)
            fired.extend(fired_now)
            _settle(plane, [f["job_id"] for f in fired_now if f["kind"] == "schedule"])
            now = step
            if step >= target:
                break
        plane.wake_engine()
    return state, fired


def _settle(plane: ControlPlane, job_ids: list[int]) -> None:
    """Give jobs just queued up to :data:`SETTLE_SECONDS` of real time to end before the clock moves on."""
    # no worker runs a scripted job: its steps come with the clock
    job_ids = [job_id for job_id in job_ids if plane.store.control_scripts.job(job_id) is None]
    if not job_ids:
        return
    plane.wake_engine()
    started = time.monotonic()
    while (waited := time.monotonic() - started) < SETTLE_SECONDS:
        statuses = plane.store.jobs.job_statuses(job_ids).values()
        if all(status.is_terminal for status in statuses):
            return
        if waited >= UNCLAIMED_SECONDS and all(status in NOT_STARTED for status in statuses):
            return  # no worker is taking them: nothing to wait for
        time.sleep(0.02)


def _rules(plane: ControlPlane) -> list[Any]:
    settings = plane.settings
    retention = int(settings.retention_days * 86_400_000) if settings.retention_days > 0 else None
    limits = plane.limits.current()
    return due_rules(int(settings.schedule_grace * 1000),
                     None if limits.job_timeout is None else int(limits.job_timeout * 1000), retention,
                     None if limits.inactivity_timeout is None else int(limits.inactivity_timeout * 1000))


Pending = tuple[list[tuple[str, int, datetime]], dict[int, JobStatus]]


def _pending(plane: ControlPlane, at: datetime) -> Pending:
    """The (kind, job id, due instant) of every time rule due at ``at``, and those jobs' statuses now."""
    store = plane.store
    candidates = store.control_clock.due_by(_rules(plane), at)
    return candidates, store.jobs.job_statuses([job_id for _, job_id, _ in candidates])


def _run_due(plane: ControlPlane, at: datetime, pending: Pending) -> list[dict[str, Any]]:
    """Run every time rule at ``at`` (the clock stands there); what changed because of it."""
    store = plane.store
    candidates, before = pending
    fired = transitions.step_due(plane, at)
    if plane.engine is not None:
        plane.engine.maintain()
    after = store.jobs.job_statuses([job_id for _, job_id, _ in candidates])
    for kind, job_id, due_at in sorted(candidates, key=lambda c: (c[2], c[1])):
        status = after.get(job_id)
        if status != before.get(job_id):
            fired.append({"at": render_datetime(due_at), "kind": kind, "job_id": job_id,
                          "status": None if status is None else status.value})
    return fired


def _instant(body: dict[str, Any], key: str) -> datetime | None:
    raw = body.get(key)
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise ValueError(raw)
        return parse_datetime(raw)
    except ValueError as exc:
        raise ControlError(400, "INVALID_TIME", f"[{key}] must be an ISO 8601 date-time, not {raw!r}") from exc


def routes(services: Services) -> Sequence[BaseRoute]:
    """``GET /clock``, ``POST /clock/freeze``, ``/clock/advance``, ``/clock/resume``."""
    plane = services.control
    assert plane is not None
    clock = plane.clock

    async def show(request: Request) -> Response:
        return control_json(clock.view())

    @control_endpoint
    async def freeze(request: Request) -> Response:
        at = _instant(await read_json(request, required=False), "at")
        view = clock.view(clock.freeze(at))
        plane.publish("clock.frozen", {"now": view["now"]})
        plane.wake_engine()
        return control_json(view)

    @control_endpoint
    async def resume(request: Request) -> Response:
        view = clock.view(clock.resume())
        plane.publish("clock.resumed", {"now": view["now"]})
        plane.wake_engine()
        return control_json(view)

    @control_endpoint
    async def advance_clock(request: Request) -> Response:
        body = await read_json(request)
        target = _instant(body, "to")
        seconds = body.get("seconds")
        if (target is None) == (seconds is None):
            raise ControlError(400, "INVALID_BODY", 'send either {"seconds": n} or {"to": "<date-time>"}')
        if target is None:
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ControlError(400, "CLOCK_BACKWARDS" if isinstance(seconds, int | float) and seconds < 0
                                   else "INVALID_BODY", f"[seconds] must be a number of seconds >= 0, not {seconds!r}")
        state, fired = await anyio.to_thread.run_sync(lambda: advance(plane, seconds=seconds, to=target))
        view = {**clock.view(state), "fired": fired}
        plane.publish("clock.advanced", {"now": view["now"], "fired": fired})
        return control_json(view)

    return [
        Route("/clock", show, methods=["GET"]),
        Route("/clock/freeze", freeze, methods=["POST"]),
        Route("/clock/resume", resume, methods=["POST"]),
        Route("/clock/advance", advance_clock, methods=["POST"]),
    ]
