"""The database goes away in the middle of a run — PostgreSQL restarted, SQLite unable to write — and
comes back: every job still ends as if nothing happened, no task is left RUNNING, no task of a
non-idempotent processor runs twice, and nothing waits for an inactivity timeout."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import LiveServer, PostgresServer, V, run_demo

SAMPLES = Path(__file__).parents[1] / "integration"
FINISHED = {"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"}


def tasks(http: httpx.Client, job_id: int) -> list[dict[str, Any]]:
    body = http.get(f"/api/{V}/services/jobs/{job_id}/tasks", params={"limit": 1000}).json()
    assert body["responseStatus"] == "SUCCESS", body
    return list(body["tasks"])


def wait_for_progress(http: httpx.Client, job_id: int, done: int) -> None:
    deadline = time.monotonic() + 60
    while sum(t["state"] == "SUCCESS" for t in tasks(http, job_id)) < done:
        assert time.monotonic() < deadline, tasks(http, job_id)
        time.sleep(0.05)


def run(http: httpx.Client, token: str, processor: str, **parameters: Any) -> int:
    body = http.post(f"/api/{V}/services/jobs/processors/{processor}/actions/run",
                     headers={"Authorization": token}, json={"parameters": parameters}).json()
    assert body["responseStatus"] == "SUCCESS", body
    return int(body["job_id"])


def finished_cleanly(srv: LiveServer, http: httpx.Client, token: str, job_id: int) -> list[dict[str, Any]]:
    status = srv.wait_for_status(token, job_id, lambda s: s in FINISHED, timeout=120)
    assert status["status"] == "SUCCESS", (status, http.get(f"/api/{V}/services/jobs/{job_id}/log").text)
    found = tasks(http, job_id)
    assert {t["state"] for t in found} == {"SUCCESS"}, found
    return found


@pytest.mark.skipif(PostgresServer.binaries() is None, reason="PostgreSQL server binaries are not installed")
def test_postgresql_restarting_mid_run_loses_no_outcome(tmp_path: Path) -> None:
    # Not under pytest's temporary folder: as root, the server runs as ``postgres``, who cannot enter it.
    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-outage-"))
    pg = PostgresServer(folder, durable_commits=True).start()  # a crash loses no acknowledged commit
    ledger = tmp_path / "ledger.txt"
    try:
        srv = LiveServer(tmp_path / "srv", database_url=pg.create_database("outage"), workers=3,
                         status_window=0.1, processors="sample_processors", extra_env={"PYTHONPATH": str(SAMPLES)})
        srv.start()
        try:
            token = srv.login()
            with srv.client(headers={"Authorization": token}) as http:
                demo = run_demo(http, token, items=60, chunk_size=2, item_seconds=0.05)
                once = run(http, token, "once_only", items=30, seconds=0.1, ledger=str(ledger))
                wait_for_progress(http, demo, 3)
                wait_for_progress(http, once, 3)
                pg.restart(down_for=3.0)  # every connection cut; writes fail for three seconds
                finished_cleanly(srv, http, token, demo)
                ran = finished_cleanly(srv, http, token, once)
            lines = ledger.read_text().splitlines()
            assert len(lines) == len(ran) == 30 and len(set(lines)) == 30, "a task ran twice or not at all"
        finally:
            srv.stop()
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_sqlite_unable_to_write_mid_run_loses_no_outcome(tmp_path: Path) -> None:
    """The server process may not write a byte to any file (``RLIMIT_FSIZE`` 0, what a full disk
    looks like to SQLite: every write fails) for three seconds, then may again."""
    srv = LiveServer(tmp_path / "srv", workers=3, status_window=0.1)
    srv.start()
    try:
        token = srv.login()
        with srv.client(headers={"Authorization": token}) as http:
            demo = run_demo(http, token, items=60, chunk_size=2, item_seconds=0.05)
            wait_for_progress(http, demo, 3)
            assert srv.process is not None
            pid = str(srv.process.pid)
            subprocess.run(["prlimit", "--pid", pid, "--fsize=0:unlimited"], check=True)
            try:
                time.sleep(3.0)
            finally:
                subprocess.run(["prlimit", "--pid", pid, "--fsize=unlimited:unlimited"], check=True)
            finished_cleanly(srv, http, token, demo)
    finally:
        srv.stop()
