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
                                         json={"parameters": {"items": 1, "chunk_size": 1, "item_seconds": 0}}))
                     ["job_id"])
        moves: list[dict[str, Any]] = []
        for event in stream:
            if event.kind == "job.transition" and event.job_id == job_id:
                moves.append(event.data)
                if event.data["to"] == "SUCCESS":
                    break
    # Every move, however quick, as the store recorded it: created, claimed, ended.
    assert [(m["from"], m["to"]) for m in moves] == [(None, "QUEUED"), ("QUEUED", "RUNNING"), ("RUNNING", "SUCCESS")]
    assert all(m["observed"] and not m["forced"] and not m["scripted"] for m in moves)
    assert moves[0]["actor"] == "user:1" and moves[1]["actor"].startswith("worker:")


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


def test_a_move_the_control_plane_made_is_told_once_with_its_flags(
    http: httpx.Client, control_server: LiveServer
) -> None:
    later = "2099-01-01T00:00:00Z"
    job_id = int(succeeded(http.post(f"{PROCESSORS}/demo/actions/run", json={"schedule_at": later}))["job_id"])
    with ControlClient(control_server.url) as control, control.events(heartbeat=0.05, read_timeout=30) as stream:
        control.jobs.transition(job_id, "CANCELLED")
        control.faults.add(operation="retrieve_job_processors", answer={"status": 503})
        http.get(PROCESSORS)  # a later event: by the time it arrives, the move's recorded twin was looked at
        told: list[Event] = []
        fired = False
        for event in stream.until(time.monotonic() + 30):
            if event is not None and event.kind == "job.transition" and event.job_id == job_id:
                told.append(event)
            fired = fired or (event is not None and event.kind == "fault.fired")
            if fired and event is None:  # a heartbeat after the later event: nothing more is coming
                break
    assert [(e.data["from"], e.data["to"], e.data["forced"], "observed" in e.data) for e in told] == [
        ("SCHEDULED", "CANCELLED", False, False)]


def test_moves_after_a_reset_are_told(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")

    def run_demo() -> int:
        with server.client(headers={"Authorization": server.login()}) as http:
            return int(succeeded(http.post(f"{PROCESSORS}/demo/actions/run",
                                           json={"parameters": {"items": 1, "item_seconds": 0}}))["job_id"])

    def ended(stream: Any, job_id: int) -> bool:
        for event in stream.until(time.monotonic() + 30):
            if event is not None and event.kind == "job.transition" and event.job_id == job_id:
                if event.data["to"] == "SUCCESS":
                    return True
        return False

    with ControlClient(server.url) as control, control.events(read_timeout=30) as stream:
        assert ended(stream, run_demo())
        control.reset("empty")
        assert ended(stream, run_demo())


def test_clock_moves_limits_seeds_and_resets_are_told(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")  # its own: the test moves the clock and resets
    with ControlClient(server.url) as control, control.events(read_timeout=30) as stream:
        control.clock.freeze("2030-01-07T09:00:00Z")
        with server.client(headers={"Authorization": server.login()}) as http:
            job_id = int(succeeded(http.post(f"{PROCESSORS}/demo/actions/run",
                                             json={"schedule_at": "2030-01-07T10:00:00Z"}))["job_id"])
        control.clock.advance(to="2030-01-07T11:00:00Z")
        control.clock.resume()
        control.limits.set(status_window=2)
        control.limits.restore()
        control.seed({"users": [{"username": "carol", "password": "carol-password"}]})
        control.reset("empty")
        told: list[Event] = []
        for event in stream.until(time.monotonic() + 30):  # the scheduled job's moves come between
            if event is not None and event.kind != "job.transition":
                told.append(event)
                if len(told) == 8:
                    break
    assert [event.kind for event in told] == ["clock.frozen", "clock.advanced", "clock.resumed", "limits.changed",
                                             "limits.changed", "seed", "reset", "seed"]
    frozen, advanced, resumed, changed, restored, seeded = (event.data for event in told[:6])
    assert frozen["now"] == "2030-01-07T09:00:00.000Z" and advanced["now"] == "2030-01-07T11:00:00.000Z"
    assert [(f["kind"], f["job_id"], f["at"]) for f in advanced["fired"]][:1] == [
        ("schedule", job_id, "2030-01-07T10:00:00.000Z")]
    assert resumed["now"] >= advanced["now"]
    assert changed["limits"] == {"status_window": 2} and restored["limits"] == "defaults"
    assert seeded["users"] == {"carol": 2}
