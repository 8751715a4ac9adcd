"""Two replicas on one PostgreSQL database share the control plane's state: one clock, the limits,
the scripts, and a reset reaches the other replica's caches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultjobs.testing import LiveServer, PostgresServer

from .conftest import Control, error_type

START = "2030-01-07T09:00:00.000Z"
_databases = itertools.count()


@pytest.fixture
def replicas(tmp_path: Path, postgres_server: PostgresServer) -> Iterator[tuple[Control, Control]]:
    url = postgres_server.create_database(f"control_cluster_{next(_databases)}")
    servers = [LiveServer(tmp_path / name, database_url=url, control_plane="1", workers=1, poll_interval=0.2,
                          database_pool_size=4) for name in ("a", "b")]
    for server in servers:
        server.start()
    controls = (Control(servers[0]), Control(servers[1]))
    try:
        yield controls
    finally:
        for control in controls:
            control.close()
        for server in servers:
            server.stop()


def test_one_clock_limits_and_scripts_for_every_replica(replicas: tuple[Control, Control]) -> None:
    a, b = replicas
    a.freeze(START)
    assert b.call("GET", "/clock") == {"now": START, "frozen": True, "offset_seconds": 0.0}
    token = a.server.login()

    def on_b() -> str | None:
        return error_type(b.api.get("/services/jobs/monitors", headers={"Authorization": token}))

    assert on_b() is None
    a.advance(seconds=1201)
    assert on_b() == "INVALID_SESSION_ID"  # B read the clock A moved
    a.log_in_again()
    b.log_in_again()

    a.call("PUT", "/limits", {"status_window": 2})
    a.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING"}, {"status": "SUCCESS"}]})
    job_id = b.run()
    assert b.status(job_id).json()["data"]["status"] == "QUEUED"
    refused = a.status(job_id)
    assert error_type(refused) == "API_LIMIT_EXCEEDED" and refused.headers["Retry-After"] == "2"
    b.advance(seconds=2)
    assert a.status(job_id).json()["data"]["status"] == "RUNNING"
    a.advance(seconds=2)
    assert b.status(job_id).json()["data"]["status"] == "SUCCESS"


def test_a_reset_through_one_replica_ends_the_sessions_the_other_cached(replicas: tuple[Control, Control]) -> None:
    a, b = replicas
    token = a.server.login()
    for _ in range(3):  # B checks the session once, then serves it from its cache
        assert error_type(b.api.get("/services/jobs/monitors", headers={"Authorization": token})) is None
    a.call("POST", "/reset", {"seed": "empty"})
    assert error_type(b.api.get("/services/jobs/monitors", headers={"Authorization": token})) == "INVALID_SESSION_ID"
    assert b.call("GET", "/seed") == {}


def test_a_worker_process_stamps_the_virtual_time(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database(f"control_cluster_{next(_databases)}")
    server = LiveServer(tmp_path / "api", database_url=url, control_plane="1", workers=0, poll_interval=0.2)
    server.start()
    worker = server.start_worker("--workers", "1")  # its environment has the control plane on, as the server's
    control = Control(server)
    try:
        control.freeze(START)
        job_id = control.run(parameters={"items": 2, "item_seconds": 0})
        view = control.wait_for(job_id, lambda s: s == "SUCCESS")
        assert START <= view["job"]["run_start_date"] < "2030-01-07T09:00:01.000Z"
        assert START <= view["job"]["run_end_date"] < "2030-01-07T09:00:01.000Z"
    finally:
        control.close()
        worker.terminate()
        worker.wait(30)
        server.stop()
