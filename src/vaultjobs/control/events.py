"""``GET /_vaultjobs/events``: what happens to the test server, as Server-Sent Events.

The stream follows the store's event log (:mod:`vaultjobs.store.control_events`), so every replica
streams the same events: each is sent with ``id`` (the log's id), ``event`` (its kind) and ``data``
(a JSON object: the event's data with its ``at`` and, for a job's event, its ``job_id``). A client
that reconnects with ``Last-Event-ID`` gets what it missed (as far as the log still keeps it); a new
client starts with the next event, or after the id in ``?after=`` (``0``: everything kept).

Job transitions nobody published (a worker running a job, the scheduler starting one) come from the
store's record of every change of a job's status (``job_transitions``), from the stream's start:
they arrive as ``job.transition`` events with ``"observed": true``, the ``actor`` that made the move
and no id (they are not in the log, so a resumed stream does not replay them). A comment line every
``heartbeat`` seconds (15 unless ``?heartbeat=`` says) keeps proxies from closing an idle stream.
The stream ends when the server shuts down.
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
from vaultjobs.control.transitions import AGENT, SCRIPT_AGENT
from vaultjobs.store import Store
from vaultjobs.store.control_events import ControlEvent, JobMove
from vaultjobs.timeutil import render_datetime

HEARTBEAT_SECONDS = 15.0
#: How often an idle stream looks for new events.
POLL_SECONDS = 0.05


#: Who moves a job when the control plane does (forced and scripted moves, which it publishes itself).
CONTROL_PLANE_AGENTS = frozenset({AGENT, SCRIPT_AGENT})


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


class JobMoves:
    """The job transitions nobody published, for one stream: every change of a job's status the store
    records (``job_transitions``) from the stream's start, but those the control plane published
    itself (a forced or scripted move, with its flags) arriving through the event log.

    A recorded move is held for one look before it is told, since the control plane publishes its
    own moves just after making them.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.follower = IdFollower(0)
        self.held: list[JobMove] = []
        #: (job, from, to) of the moves the event log told, with the look that saw each.
        self.published: dict[tuple[int, str | None, str], int] = {}
        self.looks = 0
        self.was_reset = False

    def start(self) -> None:
        """Follow the moves recorded from now on."""
        self.follower = IdFollower(self.store.control_events.latest_job_move())
        self.held = []

    def told(self, event: ControlEvent) -> None:
        """Note a ``job.transition`` the event log told, so that its recorded twin is not told again,
        and a reset, after which the record may number its moves from 1 again."""
        self.was_reset = self.was_reset or event.kind == "reset"
        if event.kind == "job.transition" and event.job_id is not None:
            self.published[(event.job_id, event.data.get("from"), str(event.data.get("to")))] = self.looks

    def moves(self) -> list[bytes]:
        """The messages of the moves held since the last look; holds the moves recorded since."""
        self.looks += 1
        messages = [
            sse(None, "job.transition", {
                "at": render_datetime(move.at), "job_id": move.job_id, "from": move.from_status,
                "to": move.to_status, "forced": False, "scripted": False, "observed": True, "actor": move.actor,
            })
            for move in self.held
            # the control plane publishes its own moves; whatever the timing, they are told once, by it
            if move.actor not in CONTROL_PLANE_AGENTS
            and (move.job_id, move.from_status, move.to_status) not in self.published
        ]
        if self.was_reset and self.store.control_events.latest_job_move() < self.follower.high:
            self.follower = IdFollower(0)  # every move recorded now came after the reset
        self.was_reset = False
        read = self.store.control_events.job_moves(self.follower.low)
        self.held = [move for move, new in zip(read, self.follower.new([m.id for m in read]), strict=True) if new]
        self.published = {key: look for key, look in self.published.items() if look >= self.looks - 100}
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
        watch = JobMoves(store)
        await anyio.to_thread.run_sync(watch.start)
        yield b": vaultjobs events\n\n"  # sent at once, so that the client knows it is connected
        quiet_since = time.monotonic()
        follower = IdFollower(after)
        while not is_stopping():
            read = await anyio.to_thread.run_sync(log.since, follower.low)
            events = [event for event, new in zip(read, follower.new([e.id for e in read]), strict=True) if new]
            moves = await anyio.to_thread.run_sync(watch.moves)
            for event in events:
                watch.told(event)
                yield event_message(event)
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

