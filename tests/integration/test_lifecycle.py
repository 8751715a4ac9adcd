"""Statuses whose reason needs a real process: a schedule missed while the server was down, the
definitions CLI, SIGHUP reloading definitions, a bad definitions file refusing to start, and workers
killed with ``kill -9`` while their job runs. The other statuses are reached in process, in
tests/api/test_lifecycle.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from vaultjobs.testing import LiveServer, V, run_demo

HERE = Path(__file__).parent
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


def server_with(
    tmp_path: Path, name: str = "data", definitions: str | None = None, database_url: str = "", **settings: Any
) -> LiveServer:
    extra: dict[str, Any] = {**FAST, **settings}
    if definitions is not None:
        path = tmp_path / f"{name}.toml"
        path.write_text(definitions)
        extra["definitions"] = path
    return LiveServer(
        tmp_path / name,
        extra_env={"PYTHONPATH": str(HERE)},
        processors="sample_processors",
        database_url=database_url,
        **extra,
    )


@pytest.fixture
def make_server(tmp_path: Path, vaultjobs_new_database: Callable[[], str]) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def make(**kwargs: Any) -> LiveServer:
        server = server_with(tmp_path, name=f"s{len(servers)}", database_url=vaultjobs_new_database(), **kwargs)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def wait_status(
    server: LiveServer, token: str, job_id: int, wanted: Callable[[str], bool], timeout: float = 30
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


def log_of(server: LiveServer, token: str, job_id: int) -> str:
    with server.client(headers={"Authorization": token}) as http:
        return http.get(f"/api/{V}/services/jobs/{job_id}/log").text


def definitions_list(server: LiveServer) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "vaultjobs", "definitions", "list", "--json"],
        env=server.environment(),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def test_schedule_missed_while_the_server_was_down(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(
        schedule_grace=1,
        definitions="""
[[job]]
name = "soon"
processor = "demo"
interval = "5s"
parameters = { items = 1, item_seconds = 0 }
""",
    )
    token = server.login()
    assert wait_status(server, token, 1, lambda s: True)["status"] == "SCHEDULED"
    server.stop()
    time.sleep(7)  # past the instance's time plus the grace
    server.start()
    token = server.login()
    missed = wait_status(server, token, 1, lambda s: s != "SCHEDULED")
    assert missed["status"] == "MISSED_SCHEDULE"
    assert "schedule grace" in log_of(server, token, 1)
    # and the next instance is scheduled from now on, and runs
    assert wait_status(server, token, 2, terminal)["status"] == "SUCCESS"


def test_definitions_cli_enable_disable(make_server: Callable[..., LiveServer]) -> None:
    # an hour about half a day away, so that no instance falls due while the test runs (and never
    # 2 a.m., which New York skips once a year)
    hour = (datetime.now(ZoneInfo("America/New_York")).hour + 12) % 24
    hour = 3 if hour == 2 else hour
    server = make_server(
        definitions=f"""
[[job]]
name = "later"
processor = "demo"
cron = "0 {hour} * * *"
timezone = "America/New_York"
"""
    )
    token = server.login()
    wait_status(server, token, 1, lambda s: s == "SCHEDULED")
    listed = definitions_list(server)[0]
    assert listed["schedule"] == f"cron 0 {hour} * * * (America/New_York)" and listed["enabled"] is True
    nxt = datetime.fromisoformat(listed["next"])
    assert nxt.astimezone(ZoneInfo("America/New_York")).hour == hour
    env = server.environment()
    subprocess.run(
        [sys.executable, "-m", "vaultjobs", "definitions", "disable", "later"], env=env, check=True, capture_output=True
    )
    assert wait_status(server, token, 1, lambda s: True)["status"] == "CANCELLED"
    subprocess.run(
        [sys.executable, "-m", "vaultjobs", "definitions", "enable", "later"], env=env, check=True, capture_output=True
    )
    assert wait_status(server, token, 2, lambda s: True, timeout=10)["status"] == "SCHEDULED"


def test_sighup_reloads_definitions(make_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    server = make_server(
        definitions="""
[[job]]
name = "first"
processor = "demo"
interval = "1h"
"""
    )
    token = server.login()
    wait_status(server, token, 1, lambda s: s == "SCHEDULED")
    path = server.settings["definitions"]
    path.write_text("""
[[job]]
name = "second"
processor = "demo"
interval = "1h"
""")
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    # first is disabled (its instance cancelled) and second is scheduled
    assert wait_status(server, token, 1, lambda s: s == "CANCELLED", timeout=10)["status"] == "CANCELLED"
    assert wait_status(server, token, 2, lambda s: True, timeout=10)["status"] == "SCHEDULED"
    names = {d["name"]: d["enabled"] for d in definitions_list(server)}
    assert names == {"first": False, "second": True}
    # a broken file is refused and the loaded definitions stay
    path.write_text("[[job]]\nname = 1\n")
    server.process.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert {d["name"]: d["enabled"] for d in definitions_list(server)} == names
    assert "definitions not reloaded" in server.log_text()


def test_bad_definitions_file_refuses_to_start(tmp_path: Path, vaultjobs_new_database: Callable[[], str]) -> None:
    server = server_with(
        tmp_path, database_url=vaultjobs_new_database(), definitions='[[job]]\nname = "x"\nprocessor = "demo"\n'
    )
    with pytest.raises(RuntimeError, match="exactly one of cron and interval"):
        server.start(timeout=20)


@pytest.mark.parametrize("idempotent", [True, False])
def test_worker_killed_mid_task(make_server: Callable[..., LiveServer], idempotent: bool) -> None:
    server = make_server(workers=0)  # API, scheduler and sweeper only; work runs in worker processes
    token = server.login()
    worker = server.start_worker("--concurrency", "2")
    try:
        with server.client() as http:
            if idempotent:
                job_id = run_demo(http, token, items=6, chunk_size=1, item_seconds=0.5)
            else:
                job_id = run(http, token, "slow_once", parameters={"items": 2, "seconds": 30})
        wait_status(server, token, job_id, lambda s: s == "RUNNING")
        time.sleep(0.6)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = time.monotonic()
        replacement = server.start_worker("--concurrency", "2")
        try:
            if idempotent:
                data = wait_status(server, token, job_id, terminal)
                assert data["status"] == "SUCCESS"
                assert data["progress"] == [{"status": "SUCCESS", "size": 6}]
                assert "runs again" in log_of(server, token, job_id)
            else:
                data = wait_status(server, token, job_id, terminal)
                assert data["status"] == "COMPLETED_DUE_TO_INACTIVITY"
                # resolved within twice the heartbeat timeout
                assert time.monotonic() - killed_at < 2 * 1.5 + 3
                assert "not idempotent" in log_of(server, token, job_id)
        finally:
            replacement.send_signal(signal.SIGTERM)
            replacement.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

