"""Runs requested with ``schedule_at``: SCHEDULED until due, then queued and run; their dates are shown
in the caller's time zone with its offset."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from vaultjobs.testing import LiveServer, V

OFFSET_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def test_scheduled_run_waits_then_runs_and_renders_in_user_time_zone(live_server: LiveServer) -> None:
    live_server.add_user("tokyo", "tokyo-password", timezone="Asia/Tokyo")
    token = live_server.login("tokyo", "tokyo-password")
    at = datetime.now(UTC) + timedelta(seconds=2)
    with live_server.client(headers={"Authorization": token}) as http:
        body = http.post(
            f"/api/{V}/services/jobs/processors/demo/actions/run",
            json={"parameters": {"items": 1, "item_seconds": 0}, "title": "nightly", "schedule_at": at.isoformat()},
        ).json()
        assert body["responseStatus"] == "SUCCESS"
        job_id = body["job_id"]
        first = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]
    assert first["status"] == "SCHEDULED"
    assert OFFSET_DATETIME.match(first["created_date"]) and first["created_date"].endswith("+09:00")
    data = live_server.wait_for_status(token, job_id, lambda s: s == "SUCCESS", timeout=20)
    assert data["run_start_date"].endswith("+09:00")
    started = datetime.fromisoformat(data["run_start_date"])
    assert started >= at - timedelta(milliseconds=5)
    # the admin's zone is UTC: the same instant, written with Z
    admin = live_server.login()
    time.sleep(0.6)
    with live_server.client(headers={"Authorization": admin}) as http:
        as_admin = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]
    assert as_admin["run_start_date"].endswith("Z")
    assert datetime.fromisoformat(as_admin["run_start_date"]) == started


def test_missed_schedule(live_server_factory: object, tmp_path: object) -> None:
    server: LiveServer = live_server_factory(schedule_grace=1, status_window=0.2)  # type: ignore[operator]
    token = server.login()
    at = datetime.now(UTC) + timedelta(seconds=3)
    with server.client(headers={"Authorization": token}) as http:
        job_id = http.post(
            f"/api/{V}/services/jobs/processors/demo/actions/run",
            json={"parameters": {"items": 1}, "schedule_at": at.isoformat()},
        ).json()["job_id"]
    # nobody runs the scheduler across the job's time: the server is down
    server.stop()
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()) + 1.5)
    server.start()
    token = server.login()
    data = server.wait_for_status(token, job_id, lambda s: s != "SCHEDULED", timeout=20)
    assert data["status"] == "MISSED_SCHEDULE"
    assert "run_start_date" not in data
