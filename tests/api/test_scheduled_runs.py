"""Runs requested with ``schedule_at``: SCHEDULED until due, then queued and run; their dates are shown
in the caller's time zone with its offset. The node's clock is a manual one: a run falls due when the
test moves the clock, not after a wait (and the status window is off: it would never pass)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from vaultjobs.testing import ManualClock, V

from .conftest import AppServerFactory

OFFSET_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def test_scheduled_run_waits_then_runs_and_renders_in_user_time_zone(
    app_server_factory: AppServerFactory, tmp_path: Path
) -> None:
    clock = ManualClock()
    with app_server_factory(tmp_path, clock=clock, status_window=0) as server:
        server.add_user("tokyo", "tokyo-password", timezone="Asia/Tokyo")
        token = server.login("tokyo", "tokyo-password")
        at = clock.now() + timedelta(seconds=2)
        with server.client(headers={"Authorization": token}) as http:
            body = http.post(
                f"/api/{V}/services/jobs/processors/demo/actions/run",
                json={"parameters": {"items": 1, "item_seconds": 0}, "title": "nightly", "schedule_at": at.isoformat()},
            ).json()
            assert body["responseStatus"] == "SUCCESS"
            job_id = body["job_id"]
            first = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]
        assert first["status"] == "SCHEDULED"
        assert OFFSET_DATETIME.match(first["created_date"]) and first["created_date"].endswith("+09:00")
        clock.advance(2)
        server.running.engine.notify()
        data = server.wait_for_status(token, job_id, lambda s: s == "SUCCESS", timeout=20)
        assert data["run_start_date"].endswith("+09:00")
        started = datetime.fromisoformat(data["run_start_date"])
        assert started >= at
        # the admin's zone is UTC: the same instant, written with Z
        admin = server.login()
        with server.client(headers={"Authorization": admin}) as http:
            as_admin = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]
        assert as_admin["run_start_date"].endswith("Z")
        assert datetime.fromisoformat(as_admin["run_start_date"]) == started


def test_missed_schedule(app_server_factory: AppServerFactory, tmp_path: Path) -> None:
    clock = ManualClock()
    server = app_server_factory(tmp_path, clock=clock, schedule_grace=1, status_window=0).start()
    try:
        token = server.login()
        at = clock.now() + timedelta(seconds=3)
        with server.client(headers={"Authorization": token}) as http:
            job_id = http.post(
                f"/api/{V}/services/jobs/processors/demo/actions/run",
                json={"parameters": {"items": 1}, "schedule_at": at.isoformat()},
            ).json()["job_id"]
        # nobody runs the scheduler across the job's time and its grace: the node is down
        server.stop()
        clock.advance(3 + 1.5)
        server.start()
        token = server.login()
        data = server.wait_for_status(token, job_id, lambda s: s != "SCHEDULED", timeout=20)
        assert data["status"] == "MISSED_SCHEDULE"
        assert "run_start_date" not in data
    finally:
        server.stop()
