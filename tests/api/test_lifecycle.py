"""Every status reached for its real reason on a whole node in process: schedules that fire, start_now,
cancel in each state, TIMEOUT, COMPLETED_DUE_TO_INACTIVITY and FAILED_TO_RUN. (Missed schedules across a
restart, signals, the CLI and killed workers need a real process: tests/integration/test_lifecycle.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V, run_demo

from .conftest import AppServer, AppServerFactory

TERMINAL = {
    "SUCCESS",
    "ERRORS_ENCOUNTERED",
    "COMPLETED_DUE_TO_INACTIVITY",
    "TIMEOUT",
    "CANCELLED",
    "MISSED_SCHEDULE",
    "FAILED_TO_RUN",
}
FAST = {
    "status_window": 0.1,
    "heartbeat_interval": 0.2,
    "heartbeat_timeout": 1.5,
    "poll_interval": 0.2,
    "shutdown_grace": 0.2,
}


@pytest.fixture
def make_server(
    tmp_path: Path, app_server_factory: AppServerFactory, sample_processors: str
) -> Iterator[Callable[..., AppServer]]:
    """``make(definitions=…, **settings)``: a started node with the sample processors, stopped after the test."""
    servers: list[AppServer] = []

    def make(definitions: str | None = None, **settings: Any) -> AppServer:
        folder = tmp_path / f"s{len(servers)}"
        folder.mkdir()
        if definitions is not None:
            path = folder / "definitions.toml"
            path.write_text(definitions)
            settings["definitions"] = path
        server = app_server_factory(folder, processors=(sample_processors,), **{**FAST, **settings})
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def next_instance(server: AppServer, name: str) -> datetime | None:
    """When the definition ``name`` next runs, as ``vaultjobs definitions list`` shows it."""
    return server.running.store.schedules.next_instance_time(name)


def wait_status(
    server: AppServer, token: str, job_id: int, wanted: Callable[[str], bool], timeout: float = 30
) -> dict[str, Any]:
    return server.wait_for_status(token, job_id, wanted, timeout=timeout)


def terminal(status: str) -> bool:
    return status in TERMINAL


def run(http: httpx.Client, token: str, processor: str, **body: Any) -> int:
    response = http.post(
        f"/api/{V}/services/jobs/processors/{processor}/actions/run", headers={"Authorization": token}, json=body
    ).json()
    assert response["responseStatus"] == "SUCCESS", response
    return int(response["job_id"])


def cancel(http: httpx.Client, token: str, body: Any, content_type: str = "application/json") -> dict[str, Any]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = http.post(
        f"/api/{V}/services/jobs/actions/cancel",
        headers={"Authorization": token, "Content-Type": content_type},
        content=content,
    )
    return dict(response.json())


def log_of(server: AppServer, token: str, job_id: int) -> str:
    with server.client(headers={"Authorization": token}) as http:
        return http.get(f"/api/{V}/services/jobs/{job_id}/log").text


def test_interval_schedule_fires_again_and_again(make_server: Callable[..., AppServer]) -> None:
    server = make_server(
        definitions="""
[[job]]
name = "every_second"
processor = "demo"
title = "Every second"
owner = "admin"
interval = "1s"
parameters = { items = 2, item_seconds = 0 }
"""
    )
    token = server.login()
    first = wait_status(server, token, 1, terminal)
    assert first["status"] == "SUCCESS"
    assert "method" not in first  # made by a schedule, not by a request
    second = wait_status(server, token, 2, terminal)
    assert second["status"] == "SUCCESS"
    assert second["run_start_date"] > first["run_start_date"]


def test_start_now_runs_a_scheduled_instance_and_skips_its_interval(make_server: Callable[..., AppServer]) -> None:
    server = make_server(
        definitions="""
[[job]]
name = "hourly"
processor = "demo"
interval = "1h"
parameters = { items = 1, item_seconds = 0 }
"""
    )
    token = server.login()
    wait_status(server, token, 1, lambda s: s == "SCHEDULED")
    planned = next_instance(server, "hourly")
    assert planned is not None
    with server.client(headers={"Authorization": token}) as http:
        body = http.post(f"/api/{V}/services/jobs/start_now/1").json()
        assert body == {"responseStatus": "SUCCESS", "url": f"/api/{V}/services/jobs/1", "job_id": 1}
        assert wait_status(server, token, 1, terminal)["status"] == "SUCCESS"
        # the schedule resumes at the next interval, not the skipped one
        deadline = time.monotonic() + 10
        while (listed := next_instance(server, "hourly")) is None or listed == planned:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert listed == planned + timedelta(hours=1)
        # only SCHEDULED jobs can be started
        again = http.post(f"/api/{V}/services/jobs/start_now/1").json()
        assert again["errors"][0]["type"] == "OPERATION_NOT_ALLOWED"
        unknown = http.post(f"/api/{V}/services/jobs/start_now/999").json()
        assert unknown["errors"][0]["type"] == "INVALID_DATA"


def test_cancel_before_it_runs_and_after_it_ended(make_server: Callable[..., AppServer]) -> None:
    server = make_server(
        workers=1,
        definitions="""
[[job]]
name = "one_at_a_time"
processor = "demo"
interval = "1s"
single_instance = true
parameters = { items = 40, chunk_size = 1, item_seconds = 0.25 }
""",
    )
    token = server.login()
    with server.client(headers={"Authorization": token}) as http:
        # job 1 keeps the only worker busy; job 2 of the single-instance definition waits in QUEUEING
        wait_status(server, token, 1, lambda s: s == "RUNNING")
        assert wait_status(server, token, 2, lambda s: s == "QUEUEING", timeout=10)["status"] == "QUEUEING"
        queued = run_demo(http, token, items=1, item_seconds=0)  # first in, first out: behind job 1's tasks
        scheduled = run(
            http,
            token,
            "demo",
            parameters={"items": 1},
            schedule_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        )
        ended = run(
            http,
            token,
            "demo",
            parameters={"items": 1},
            schedule_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        )
        assert cancel(http, token, [{"job_id": ended}])["data"][0]["responseStatus"] == "SUCCESS"
        assert wait_status(server, token, queued, lambda s: True)["status"] == "QUEUED"
        result = cancel(
            http,
            token,
            [
                {"job_id": scheduled},
                {"job_id": 2},
                {"job_id": queued},
                {"job_id": ended},
                {"job_id": 424242},
                {"job_id": "x"},
            ],
        )
        assert result["responseStatus"] == "SUCCESS"
        items = result["data"]
        assert [i["responseStatus"] for i in items] == ["SUCCESS"] * 3 + ["FAILURE"] * 3
        assert [i["data"]["id"] for i in items[:3]] == [scheduled, 2, queued]
        assert items[3]["errors"]["type"] == "INVALID_DATA"  # an object, as in Vault's example
        assert "not found in" in items[3]["errors"]["message"]
        assert items[4]["errors"]["type"] == "INVALID_DATA"
        assert items[5]["errors"]["type"] == "INVALID_DATA"
        for job_id in (scheduled, 2, queued, ended):
            data = wait_status(server, token, job_id, lambda s: True)
            assert data["status"] == "CANCELLED" and "run_start_date" not in data


def test_cancel_a_running_job(make_server: Callable[..., AppServer]) -> None:
    server = make_server(workers=2)
    token = server.login()
    with server.client(headers={"Authorization": token}) as http:
        job_id = run_demo(http, token, items=40, chunk_size=1, item_seconds=0.25)
        wait_status(server, token, job_id, lambda s: s == "RUNNING")
        time.sleep(0.6)
        assert cancel(http, token, [{"job_id": job_id}])["data"][0] == {
            "responseStatus": "SUCCESS",
            "data": {"id": job_id},
        }
        # the running tasks stop between items: CANCELLING, then CANCELLED
        ended = wait_status(server, token, job_id, lambda s: s == "CANCELLED")
        sizes = {p["status"]: p["size"] for p in ended["progress"]}
        assert sizes["CANCELLED"] >= 30 and "QUEUED" not in sizes and "RUNNING" not in sizes
        assert "run_end_date" in ended
        assert "cancel requested by user" in log_of(server, token, job_id)


def test_a_running_job_whose_processor_is_not_cancellable(make_server: Callable[..., AppServer]) -> None:
    server = make_server(workers=1)
    token = server.login()
    with server.client(headers={"Authorization": token}) as http:
        stubborn = run(http, token, "stubborn", parameters={"seconds": 3})
        wait_status(server, token, stubborn, lambda s: s == "RUNNING")
        refused = cancel(http, token, [{"job_id": stubborn}])["data"][0]
        assert refused["errors"]["type"] == "OPERATION_NOT_ALLOWED"
        assert wait_status(server, token, stubborn, terminal)["status"] == "SUCCESS"


def test_cancel_csv_limits_and_access(make_server: Callable[..., AppServer]) -> None:
    server = make_server()
    server.add_user("mallory", "mallory-password")
    token = server.login()
    other = server.login("mallory", "mallory-password")
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    with server.client() as http:
        a = run(http, token, "demo", parameters={"items": 1}, schedule_at=at)
        b = run(http, token, "demo", parameters={"items": 1}, schedule_at=at)
        denied = cancel(http, other, [{"job_id": a}])["data"][0]
        assert denied["errors"]["type"] == "INSUFFICIENT_ACCESS"
        csv_result = cancel(http, token, f"job_id\n{a}\n{b}\n".encode(), "text/csv")
        assert [i["data"]["id"] for i in csv_result["data"]] == [a, b]
        too_many = cancel(http, token, [{"job_id": n} for n in range(1, 502)])
        assert too_many["responseStatus"] == "FAILURE" and too_many["errors"][0]["type"] == "INVALID_DATA"
        for body in (b"{}", b"not json", b"[]"):
            assert cancel(http, token, body)["errors"][0]["type"] == "INVALID_DATA"
        no_column = cancel(http, token, b"id\n1\n", "text/csv")
        assert "job_id" in no_column["errors"][0]["message"]


def test_timeout(make_server: Callable[..., AppServer]) -> None:
    server = make_server()
    token = server.login()
    with server.client() as http:
        job_id = run(http, token, "sleepy")
    data = wait_status(server, token, job_id, terminal)
    assert data["status"] == "TIMEOUT"
    assert "ran past its timeout" in log_of(server, token, job_id)


def test_inactivity(make_server: Callable[..., AppServer]) -> None:
    server = make_server()
    token = server.login()
    with server.client() as http:
        job_id = run(http, token, "stuck")
    data = wait_status(server, token, job_id, terminal)
    assert data["status"] == "COMPLETED_DUE_TO_INACTIVITY"
    assert "made no progress" in log_of(server, token, job_id)


def test_failed_to_run(make_server: Callable[..., AppServer]) -> None:
    server = make_server(
        definitions="""
[[job]]
name = "missing_processor"
processor = "not_installed_anywhere"
interval = "1s"

[[job]]
name = "bad_parameters"
processor = "demo"
interval = "1s"
parameters = { items = "many" }
"""
    )
    token = server.login()
    for job_id in (1, 2):
        assert wait_status(server, token, job_id, terminal)["status"] == "FAILED_TO_RUN"
    logs = log_of(server, token, 1) + log_of(server, token, 2)
    assert "not installed" in logs and "[items]" in logs

