"""Stopping or killing the server never loses a job: queued jobs run after a restart, running jobs
are resolved (re-run when idempotent, else COMPLETED_DUE_TO_INACTIVITY with a reason in the log)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.testing import LiveServer, V, run_demo

HERE = Path(__file__).parent
TERMINAL = {"SUCCESS", "ERRORS_ENCOUNTERED", "COMPLETED_DUE_TO_INACTIVITY", "TIMEOUT", "CANCELLED"}


def make_server(tmp_path: Path, database_url: str, **settings: Any) -> LiveServer:
    return LiveServer(
        tmp_path / "data",
        database_url=database_url,
        extra_env={"PYTHONPATH": str(HERE)},
        processors="sample_processors",
        **{"status_window": 0.2, **settings},
    )


def status_of(server: LiveServer, token: str, job_id: int) -> dict[str, Any]:
    return server.wait_for_status(token, job_id, lambda s: True)


def wait_until(server: LiveServer, token: str, job_id: int, predicate: Callable[[str], bool]) -> dict[str, Any]:
    return server.wait_for_status(token, job_id, predicate, timeout=60)


def log_of(server: LiveServer, token: str, job_id: int) -> str:
    with server.client(headers={"Authorization": token}) as http:
        return http.get(f"/api/{V}/services/jobs/{job_id}/log").text


@pytest.mark.parametrize("how", ["sigterm", "kill"])
def test_idempotent_running_and_queued_jobs_survive(
    tmp_path: Path, how: str, vaultjobs_new_database: Callable[[], str]
) -> None:
    server = make_server(
        tmp_path, vaultjobs_new_database(), workers=1, shutdown_grace=0.3, heartbeat_interval=0.3, heartbeat_timeout=1.5
    )
    server.start()
    try:
        token = server.login()
        with server.client() as http:
            running = run_demo(http, token, items=3, chunk_size=1, item_seconds=2.5)
            queued = [run_demo(http, token, items=2, item_seconds=0) for _ in range(3)]
        wait_until(server, token, running, lambda s: s == "RUNNING")
        time.sleep(0.2)  # a task is in flight, longer than the shutdown grace
        server.stop() if how == "sigterm" else server.kill()
        # a clean stop exits by the signal it was sent, after shutting down (uvicorn's convention)
        assert server.process is not None and server.process.returncode == (-9 if how == "kill" else -15)
        started = time.monotonic()
        server.start()
        token = server.login()
        data = wait_until(server, token, running, lambda s: s in TERMINAL)
        assert data["status"] == "SUCCESS"
        assert data["progress"] == [{"status": "SUCCESS", "size": 3}]
        # resolved within twice the heartbeat timeout, plus the job's own remaining work
        assert time.monotonic() - started < 2 * 1.5 + 3 * 2.5 + 10
        log = log_of(server, token, running)
        assert "runs again" in log
        if how == "sigterm":
            assert "interrupted by the shutdown" in log
        for job_id in queued:
            assert wait_until(server, token, job_id, lambda s: s in TERMINAL)["status"] == "SUCCESS"
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["sigterm", "kill"])
def test_non_idempotent_running_job_ends_due_to_inactivity(
    tmp_path: Path, how: str, vaultjobs_new_database: Callable[[], str]
) -> None:
    server = make_server(
        tmp_path, vaultjobs_new_database(), workers=2, shutdown_grace=0.2, heartbeat_interval=0.3, heartbeat_timeout=1.5
    )
    server.start()
    try:
        token = server.login()
        with server.client(headers={"Authorization": token}) as http:
            body = http.post(
                f"/api/{V}/services/jobs/processors/slow_once/actions/run",
                json={"parameters": {"items": 2, "seconds": 30}},
            ).json()
        job_id = body["job_id"]
        wait_until(server, token, job_id, lambda s: s == "RUNNING")
        time.sleep(0.3)
        server.stop() if how == "sigterm" else server.kill()
        server.start()
        token = server.login()
        data = wait_until(server, token, job_id, lambda s: s in TERMINAL)
        assert data["status"] == "COMPLETED_DUE_TO_INACTIVITY"
        log = log_of(server, token, job_id)
        assert "not idempotent" in log and "COMPLETED_DUE_TO_INACTIVITY" in log
    finally:
        server.stop()


def test_clean_shutdown_exits_zero_and_restart_keeps_everything(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    server = make_server(tmp_path, vaultjobs_new_database(), workers=1)
    server.start()
    token = server.login()
    with server.client() as http:
        job_id = run_demo(http, token, items=1, item_seconds=0)
    assert wait_until(server, token, job_id, lambda s: s in TERMINAL)["status"] == "SUCCESS"
    assert server.stop() == -15
    server.start()
    try:
        # sessions live in the store: the old one still works after a restart
        data = status_of(server, token, job_id)
        assert data["status"] == "SUCCESS"
    finally:
        server.stop()


def test_a_status_window_outlives_a_clean_restart(tmp_path: Path, vaultjobs_new_database: Callable[[], str]) -> None:
    """On SQLite the lone server keeps its windows in memory: it writes them out as it stops."""
    server = make_server(tmp_path, vaultjobs_new_database(), workers=0, status_window=600)
    server.start()
    token = server.login()

    def poll(job_id: int) -> str:
        with server.client(headers={"Authorization": token, "Accept": "application/json"}) as http:
            body = http.get(f"/api/{V}/services/jobs/{job_id}").json()
        return "SUCCESS" if body["responseStatus"] == "SUCCESS" else str(body["errors"][0]["type"])

    with server.client() as http:
        job_id = run_demo(http, token, items=1, item_seconds=0)
    assert poll(job_id) == "SUCCESS"
    assert server.stop() == -15
    server.start()
    try:
        assert poll(job_id) == "API_LIMIT_EXCEEDED"
    finally:
        server.stop()
