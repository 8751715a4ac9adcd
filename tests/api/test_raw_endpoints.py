"""Retrieve Job Status and job starts answered on the ASGI level
(:func:`vaultjobs.api.endpoint.raw_endpoint`) say exactly what the full endpoint says: the same
envelope and headers for a success, a closed window, a job that does not exist, another user's job,
a bad body; and they leave XML, unknown versions, bodies of no declared length and stores whose reads
need a thread (PostgreSQL) to the endpoint, which then answers with the very body the client sent."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.api.hot_path import HotPath, HotRoute
from vaultjobs.testing import ManualClock, V, run_demo

from .conftest import AppServer, AppServerFactory

#: Headers whose values differ from one answer to the next whoever makes them.
VARYING = {"x-vaultapi-executionid", "x-vaultapi-burstlimitremaining", "content-length"}


def hot_path_of(server: AppServer) -> HotPath:
    """The app's HotPath middleware (the stack is built on the first request)."""
    layer: Any = server.running.app.middleware_stack
    while not isinstance(layer, HotPath):
        layer = layer.app
    return layer


class Answers:
    """Which requests the raw form of the hot route of ``method`` answered (True), declined (False)
    or never saw."""

    def __init__(self, hot_path: HotPath, method: str = "GET") -> None:
        self.hot_path = hot_path
        self.index, hot = next((n, r) for n, r in enumerate(hot_path.routes) if r.method == method)
        assert hot.raw is not None
        self.raw = hot.raw
        self.seen: list[bool] = []
        self._use(dataclasses.replace(hot, raw=self.answer))

    def _use(self, hot: HotRoute) -> None:
        self.hot_path.routes[self.index] = hot

    async def answer(self, scope: Any, receive: Any, send: Any) -> Any:
        declined = await self.raw(scope, receive, send)
        self.seen.append(declined is None)
        return declined

    def full_endpoint_only(self) -> None:
        self._use(dataclasses.replace(self.hot_path.routes[self.index], raw=None))


@pytest.fixture
def server(app_server_factory: AppServerFactory, tmp_path: Path) -> Iterator[AppServer]:
    with app_server_factory(tmp_path, clock=ManualClock(), status_window=10, workers=1) as srv:
        yield srv


def finish(server: AppServer, job_id: int) -> None:
    """Wait for a job to end, reading the store (the status endpoint would open its window)."""
    deadline = time.monotonic() + 30
    while (job := server.running.store.jobs.status_read(job_id).job) is None or not job.status.is_terminal:
        assert time.monotonic() < deadline, f"job {job_id} did not end"
        time.sleep(0.02)


def shape(response: httpx.Response, job_ids: dict[int, str]) -> tuple[int, list[tuple[str, str]], Any]:
    """An answer with what legitimately varies taken out: job ids replaced by names, times by ``<time>``."""
    body = re.sub(r'"\d{4}-\d\d-\d\dT[0-9:.]+Z"', '"<time>"', response.text)
    for job_id, name in job_ids.items():
        body = body.replace(f"/jobs/{job_id}", f"/jobs/{name}").replace(f"[{job_id}]", f"[{name}]")
        body = body.replace(f'"id":{job_id}', f'"id":"{name}"')
    headers = [(k, v) for k, v in response.headers.items() if k not in VARYING]
    return response.status_code, headers, body


def test_the_raw_answer_is_the_full_endpoints_answer(server: AppServer) -> None:
    admin = server.login()
    server.add_user("other", "other-pw-1")
    other = server.login("other", "other-pw-1")
    with server.client() as http:
        jobs = [run_demo(http, admin, items=1, item_seconds=0) for _ in range(2)]
        for job_id in jobs:
            finish(server, job_id)
    answers = Answers(hot_path_of(server))
    shapes: list[list[tuple[int, list[tuple[str, str]], Any]]] = []
    for job_id, raw in zip(jobs, (True, False), strict=True):
        if not raw:
            answers.full_endpoint_only()
        names = {job_id: "job"}
        with server.client(headers={"Authorization": admin}) as http, \
                server.client(headers={"Authorization": other}) as http_other:
            shapes.append([
                shape(http.get(f"/api/{V}/services/jobs/{job_id}"), names),  # a success
                shape(http.get(f"/api/{V}/services/jobs/{job_id}"), names),  # its window is closed
                shape(http.get(f"/api/{V}/services/jobs/999999"), names),  # no such job
                shape(http_other.get(f"/api/{V}/services/jobs/{job_id}"), names),  # not theirs
            ])
    success, closed, missing, not_theirs = shapes[0]
    assert success[0] == 200 and '"responseStatus":"SUCCESS"' in success[2] and '"status":"SUCCESS"' in success[2]
    assert "API_LIMIT_EXCEEDED" in closed[2] and ("retry-after", "10") in closed[1]
    assert "INVALID_DATA" in missing[2] or "MALFORMED_URL" in missing[2]
    assert "FAILURE" in not_theirs[2]
    assert shapes[0] == shapes[1]
    # The raw path answered the admin's three on every store (SQLite reads on the event loop,
    # PostgreSQL's poll is awaited in its batch); the other user's session was checked in full.
    assert answers.seen == [True, True, True, False]


def test_xml_and_unknown_versions_are_left_to_the_endpoint(server: AppServer) -> None:
    admin = server.login()
    with server.client() as http:
        job_id = run_demo(http, admin, items=1, item_seconds=0)
        finish(server, job_id)
    answers = Answers(hot_path_of(server))
    with server.client(headers={"Authorization": admin}) as http:
        xml = http.get(f"/api/{V}/services/jobs/{job_id}", headers={"Accept": "application/xml"})
        old = http.get(f"/api/v14.0/services/jobs/{job_id}")
    assert xml.headers["content-type"].startswith("application/xml") and "<responseStatus>SUCCESS" in xml.text
    assert "METHOD_NOT_SUPPORTED" in old.text
    assert answers.seen == [False, False]


RUN = f"/api/{V}/services/jobs/processors/demo/actions/run"


def run_shape(response: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    """A start's answer with its job id taken out."""
    body = re.sub(r'"job_id":\d+', '"job_id":"<id>"', re.sub(r"/jobs/\d+", "/jobs/<id>", response.text))
    return response.status_code, [(k, v) for k, v in response.headers.items() if k not in VARYING], body


def test_the_raw_start_is_the_full_endpoints_start(server: AppServer) -> None:
    admin = server.login()
    bodies: list[bytes] = [
        b'{"parameters": {"items": 2, "item_seconds": 0}, "title": "raw"}',  # a success
        b'{"parameters": {"items": -1}}',  # a parameter out of range
        b'{"parameters": {}, "colour": "blue"}',  # an unknown field
        b'{"parameters": ',  # not JSON
        b'[1, 2]',  # not an object
    ]
    with server.client(headers={"Authorization": admin, "Content-Type": "application/json"}) as http:
        http.get(f"/api/{V}/services/jobs/monitors")  # the session checked in full once: now it is cached
        answers = Answers(hot_path_of(server), "POST")
        raw_answers = [http.post(RUN, content=body) for body in bodies]
        raw = [run_shape(answer) for answer in raw_answers]
        raw.append(run_shape(http.post(f"/api/{V}/services/jobs/processors/nothing/actions/run", content=b"{}")))
        answers.full_endpoint_only()
        full_answers = [http.post(RUN, content=body) for body in bodies]
        full = [run_shape(answer) for answer in full_answers]
        full.append(run_shape(http.post(f"/api/{V}/services/jobs/processors/nothing/actions/run", content=b"{}")))
    assert raw[0][0] == 200 and '"responseStatus":"SUCCESS"' in raw[0][2]
    assert all('"responseStatus":"FAILURE"' in answer[2] for answer in raw[1:]), raw
    assert raw == full
    # The raw path answered the success, whose session epoch the insert's transaction confirmed, and
    # left the errors to the full check (a session not yet confirmed must hear INVALID_SESSION_ID first).
    assert answers.seen == [True] + [False] * 5
    # Both successes made the same job, in the store; the failures made none.
    made = server.running.store.jobs.get_jobs([raw_answers[0].json()["job_id"], full_answers[0].json()["job_id"]])
    assert [(job.title, job.parameters["items"]) for job in made.values()] == [("raw", 2), ("raw", 2)]
    assert server.running.store.jobs.get_job(int(full_answers[0].json()["job_id"]) + 1) is None


def test_a_declined_start_is_answered_with_the_body_the_client_sent(server: AppServer) -> None:
    admin = server.login()
    answers = Answers(hot_path_of(server), "POST")
    server.running.accounts.sessions.discard(server.running.accounts.session_hash(admin))

    def chunked() -> Iterator[bytes]:  # no Content-Length: the raw path does not read it
        yield b'{"parameters": {"items": 7, '
        yield b'"item_seconds": 0}, "title": "chunked"}'

    with server.client(headers={"Authorization": admin, "Content-Type": "application/json"}) as http:
        # A session the cache does not hold: the raw path reads the body, declines, and hands it on.
        first = http.post(RUN, content=b'{"parameters": {"items": 3, "item_seconds": 0}, "title": "uncached"}')
        xml = http.post(RUN, content=b'{"parameters": {"items": 4, "item_seconds": 0}, "title": "xml"}',
                        headers={"Accept": "application/xml"})
        streamed = http.post(RUN, content=chunked())
        big = http.post(RUN, content=b'{"title": "' + b"x" * server.running.settings.max_body_bytes + b'"}')
    assert first.json()["responseStatus"] == "SUCCESS", first.text
    assert xml.headers["content-type"].startswith("application/xml") and "<responseStatus>SUCCESS" in xml.text
    assert streamed.json()["responseStatus"] == "SUCCESS", streamed.text
    assert big.status_code in (200, 413) and "FAILURE" in big.text
    assert answers.seen == [False, False, False, False]
    made = server.running.store.jobs.get_jobs([int(first.json()["job_id"]), int(streamed.json()["job_id"]),
                                                int(re.findall(r"<job_id>(\d+)<", xml.text)[0])])
    assert sorted((job.title, job.parameters["items"]) for job in made.values()) == [
        ("chunked", 7), ("uncached", 3), ("xml", 4)]
