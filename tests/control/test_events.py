"""The event stream: events as they happen, resumed with Last-Event-ID, heartbeats, a clean end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from vaultjobs.control.client import ControlClient, Event
from vaultjobs.testing import LiveServer, V, succeeded

PROCESSORS = f"/api/{V}/services/jobs/processors"


def fault_every_call(http: httpx.Client) -> None:
    added = http.post("/_vaultjobs/faults", json={"match": {"operation": "retrieve_job_processors"},
                                                  "answer": {"status": 503}})
    assert added.status_code == 201


def take(stream: Any, count: int) -> list[Event]:
    taken: list[Event] = []
    for event in stream:
        taken.append(event)
        if len(taken) == count:
            break
    return taken


def test_events_arrive_and_a_stream_resumes_after_the_last_id(
    http: httpx.Client, control_server: LiveServer
) -> None:
    fault_every_call(http)
    with ControlClient(control_server.url) as control:
        with control.events(read_timeout=30) as stream:
            for _ in range(3):
                http.get(PROCESSORS)
            first = take(stream, 2)
            resume_at = stream.last_id
        http.get(PROCESSORS)  # while nobody listens
        with control.events(after=resume_at, read_timeout=30) as stream:
            rest = take(stream, 2)
    assert [e.kind for e in first + rest] == ["fault.fired"] * 4
    ids = [e.id for e in first + rest]
    assert ids == sorted(ids) and len(set(ids)) == 4 and resume_at == ids[1]
    fired = first[0].data
    assert fired["operation"] == "retrieve_job_processors"
    assert fired["route"] == "/api/{version}/services/jobs/processors"
    assert fired["answer"] == "status" and fired["at"].endswith("Z") and isinstance(fired["rule_id"], int)


def test_a_new_stream_starts_with_the_next_event(http: httpx.Client, control_server: LiveServer) -> None:
    fault_every_call(http)
    http.get(PROCESSORS)  # an event before the stream opens
    with ControlClient(control_server.url) as control, control.events(read_timeout=30) as stream:
        http.get(f"{PROCESSORS}?after=1")
        (event,) = take(stream, 1)
    assert event.kind == "fault.fired"
    journal = http.get("/_vaultjobs/requests", params={"operation": "retrieve_job_processors"}).json()["requests"]
    assert len(journal) == 2  # two fired, one told: the one after the stream opened


def test_job_transitions_are_observed(http: httpx.Client, control_server: LiveServer) -> None:
    with ControlClient(control_server.url) as control, control.events(read_timeout=30) as stream:
        job_id = int(succeeded(http.post(f"{PROCESSORS}/demo/actions/run",
                                         json={"parameters": {"items": 3, "chunk_size": 1, "item_seconds": 0.3}}))
                     ["job_id"])
        moves: list[dict[str, Any]] = []
        for event in stream:
            if event.kind == "job.transition" and event.job_id == job_id:
                moves.append(event.data)
                if event.data["to"] == "SUCCESS":
                    break
    assert [m["to"] for m in moves][-2:] == ["RUNNING", "SUCCESS"]
    assert all(later["from"] == earlier["to"] for earlier, later in zip(moves, moves[1:], strict=False))
    assert all(m["observed"] and not m["forced"] and not m["scripted"] for m in moves)


def test_heartbeats_keep_an_idle_stream_alive(control_server: LiveServer) -> None:
    with httpx.Client(base_url=control_server.url, timeout=30) as client:
        with client.stream("GET", "/_vaultjobs/events", params={"heartbeat": 0.05}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            comments = []
            for line in response.iter_lines():
                if line.startswith(":"):
                    comments.append(line)
                if len(comments) == 4:
                    break
    assert comments[0] == ": vaultjobs events" and comments[1:] == [": heartbeat"] * 3
    bad = httpx.get(f"{control_server.url}/_vaultjobs/events", params={"heartbeat": "0"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "INVALID_HEARTBEAT"


def test_the_stream_ends_cleanly_when_the_server_stops(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")
    ended = threading.Event()
    opened = threading.Event()

    def listen() -> None:
        with ControlClient(server.url) as control, control.events(read_timeout=60) as stream:
            for _ in stream.until(time.monotonic() + 60):
                opened.set()
        ended.set()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(30)
    assert server.stop() == -15  # SIGTERM, as uvicorn re-raises it after a clean shutdown
    assert ended.wait(30)
    # uvicorn did not have to cancel the stream at its grace timeout: the stream ended on its own
    assert "timeout graceful shutdown exceeded" not in server.log_text()
