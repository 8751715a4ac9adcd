"""``GET /_vaultjobs/events``: what happens to the test server, as Server-Sent Events.

The stream follows the store's event log (:mod:`vaultjobs.store.control_events`), so every replica
streams the same events: each is sent with ``id`` (the log's id), ``event`` (its kind) and ``data``
(a JSON object: the event's data with its ``at`` and, for a job's event, its ``job_id``). A client
that reconnects with ``Last-Event-ID`` gets what it missed (as far as the log still keeps it); a new
client starts with the next event, or after the id in ``?after=`` (``0``: everything kept).

Job transitions nobody published (a worker running a job, the scheduler starting one) are found by
following the jobs' statuses while the stream is open: they arrive as ``job.transition`` events
with ``"observed": true`` and no id (they are not in the log, so a resumed stream does not replay
them). A comment line every ``heartbeat`` seconds (15 unless ``?heartbeat=`` says) keeps proxies from
closing an idle stream. The stream ends when the server shuts down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from vaultjobs.api.services import Services
from vaultjobs.control.responses import ControlError, control_endpoint
from vaultjobs.status import JobStatus
from vaultjobs.store import Store
from vaultjobs.store.control_events import ControlEvent
from vaultjobs.timeutil import render_datetime

HEARTBEAT_SECONDS = 15.0
#: How often an idle stream looks for new events.
POLL_SECONDS = 0.05


def sse(event_id: int | None, kind: str, data: dict[str, Any]) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


def event_message(event: ControlEvent) -> bytes:
    data: dict[str, Any] = {"at": render_datetime(event.at)}
    if event.job_id is not None:
        data["job_id"] = event.job_id
    return sse(event.id, event.kind, {**data, **event.data})


class IdFollower:
    """Follows a log by increasing id without missing a row that commits after a higher id did.

    PostgreSQL hands out ids when rows are written, not when they commit, so two replicas' writes
    can become visible out of order; the follower reads again the last :data:`LOOK_BACK` ids each
    time and skips the ids it has sent. Nothing at or below ``after`` (where the reader resumed) is
    sent.
    """

    LOOK_BACK = 100

    def __init__(self, after: int) -> None:
        self.floor = after
        self.high = after
        self.seen: set[int] = set()

    @property
    def low(self) -> int:
        """Read the rows after this id."""
        return max(self.floor, self.high - self.LOOK_BACK)

    def new(self, ids: list[int]) -> list[bool]:
        """For each of ``ids`` (read after :attr:`low`): whether it is new to the reader; noted as seen."""
        fresh = [i > self.floor and i not in self.seen for i in ids]
        self.seen.update(ids)
        self.high = max([self.high, *ids])
        self.seen = {i for i in self.seen if i > self.low}
        return fresh


class JobWatch:
    """The statuses of the jobs a stream follows, to tell it which jobs moved since its last look:
    every job not ended yet, and every job created since."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.active: dict[int, str] = {}
        self.last_id = 0

    def start(self) -> None:
        """Take the current statuses as known, so that only later moves are told."""
        self.active = {}
        self.last_id = 0
        self.moves(first_look=True)

    def moves(self, *, first_look: bool = False) -> list[bytes]:
        """``job.transition`` messages for the jobs whose status changed since the last look (a job
        seen for the first time moves from None)."""
        messages: list[bytes] = []
        for job_id, status, modified_at in self.store.control_events.job_statuses(self.last_id, list(self.active)):
            self.last_id = max(self.last_id, job_id)
            before = self.active.get(job_id)
            if before == status:
                continue
            if JobStatus(status).is_terminal:
                self.active.pop(job_id, None)
            else:
                self.active[job_id] = status
            if not first_look:
                messages.append(sse(None, "job.transition", {
                    "at": render_datetime(modified_at), "job_id": job_id, "from": before, "to": status,
                    "forced": False, "scripted": False, "observed": True,
                }))
        return messages


def resume_from(request: Request) -> int | None:
    """The id after which the stream starts: ``Last-Event-ID``, else ``?after=``; None for "from now"."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ControlError(400, "INVALID_EVENT_ID", f"an event id is a whole number, not [{raw[:40]}]")
    return int(raw)


def heartbeat_of(request: Request) -> float:
    raw = request.query_params.get("heartbeat")
    if raw is None:
        return HEARTBEAT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0.05 <= seconds <= 3600:
        raise ControlError(400, "INVALID_HEARTBEAT", f"heartbeat is seconds from 0.05 to 3600, not [{raw[:40]}]")
    return seconds


def stopping(request: Request) -> Callable[[], bool]:
    """Whether the server is shutting down (``vaultjobs serve`` sets ``app.state.stopping``)."""
    check = getattr(request.app.state, "stopping", None)
    return check if callable(check) else (lambda: False)


def routes(services: Services) -> list[BaseRoute]:
    store = services.store
    log = store.control_events

    async def stream(after: int, heartbeat: float, is_stopping: Callable[[], bool]) -> AsyncIterator[bytes]:
        watch = JobWatch(store)
        await anyio.to_thread.run_sync(watch.start)
        yield b": vaultjobs events\n\n"  # sent at once, so that the client knows it is connected
        quiet_since = time.monotonic()
        follower = IdFollower(after)
        while not is_stopping():
            read = await anyio.to_thread.run_sync(log.since, follower.low)
            events = [event for event, new in zip(read, follower.new([e.id for e in read]), strict=True) if new]
            moves = await anyio.to_thread.run_sync(watch.moves)
            for event in events:
                yield event_message(event)
                if event.kind == "reset":
                    await anyio.to_thread.run_sync(watch.start)
            for message in moves:
                yield message
            if events or moves:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat:
                quiet_since = time.monotonic()
                yield b": heartbeat\n\n"
            else:
                await anyio.sleep(POLL_SECONDS)

    @control_endpoint
    async def events(request: Request) -> Response:
        after = resume_from(request)
        heartbeat = heartbeat_of(request)
        if after is None:
            after = await anyio.to_thread.run_sync(log.latest_id)
        return StreamingResponse(
            stream(after, heartbeat, stopping(request)), media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return [Route("/events", events, methods=["GET"])]

