"""The virtual clock: every time rule reads it, and advancing it fires what fell due, in order."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from vaultjobs.timeutil import parse_datetime, render_datetime

from .conftest import Control, error_type

START = "2030-01-07T09:00:00.000Z"


def later(at: str, **delta: float) -> str:
    return render_datetime(parse_datetime(at) + timedelta(**delta))


def test_freeze_advance_and_resume(control: Control) -> None:
    frozen = control.freeze(START)
    assert frozen == {"now": START, "frozen": True, "offset_seconds": frozen["offset_seconds"]}
    assert control.call("GET", "/clock")["now"] == START  # it stands still
    moved = control.advance(seconds=90.5)
    assert moved["now"] == later(START, seconds=90.5) and moved["frozen"] is True and moved["fired"] == []
    assert control.advance(to=later(START, hours=1))["now"] == later(START, hours=1)
    backwards = control.call("POST", "/clock/advance", {"to": START}, status=400)
    assert backwards["error"]["type"] == "CLOCK_BACKWARDS"
    running = control.call("POST", "/clock/resume")
    assert running["frozen"] is False
    assert parse_datetime(running["now"]) >= parse_datetime(later(START, hours=1))
    # a running clock keeps its offset and still advances
    ahead = control.advance(seconds=3600)
    assert parse_datetime(ahead["now"]) >= parse_datetime(later(START, hours=2)) and ahead["frozen"] is False


def test_the_ten_second_status_window_in_milliseconds(control: Control) -> None:
    control.freeze(START)
    job_id = control.run(parameters={"items": 1, "item_seconds": 0})
    began = time.monotonic()
    assert error_type(control.status(job_id)) is None
    refused = control.status(job_id)
    assert error_type(refused) == "API_LIMIT_EXCEEDED" and refused.headers["Retry-After"] == "10"
    control.advance(seconds=9.999)
    again = control.status(job_id)
    assert error_type(again) == "API_LIMIT_EXCEEDED" and again.headers["Retry-After"] == "1"
    control.advance(seconds=0.001)
    assert error_type(control.status(job_id)) is None
    assert time.monotonic() - began < 1.0  # a 10-second window, waited out in milliseconds
    # the control plane's own read opens no window
    control.advance(seconds=10)
    control.job(job_id)
    assert error_type(control.status(job_id)) is None


def test_a_session_ends_after_its_idle_timeout_of_virtual_time(control: Control) -> None:
    control.freeze(START)
    token = control.server.login()
    assert error_type(control.api.get("/services/jobs/monitors", headers={"Authorization": token})) is None
    control.advance(seconds=1199)
    assert error_type(control.api.get("/services/jobs/monitors", headers={"Authorization": token})) is None
    control.advance(seconds=1201)
    ended = control.api.get("/services/jobs/monitors", headers={"Authorization": token})
    assert error_type(ended) == "INVALID_SESSION_ID"


def test_a_scheduled_job_fires_when_the_clock_reaches_it(control: Control) -> None:
    control.freeze(START)
    at = later(START, hours=3)
    job_id = control.run(parameters={"items": 1, "item_seconds": 0}, schedule_at=at)
    assert control.advance(seconds=3600)["fired"] == []
    assert control.job(job_id)["job"]["status"] == "SCHEDULED"
    fired = control.advance(to=later(START, hours=5))["fired"]
    assert [(f["kind"], f["job_id"], f["at"]) for f in fired] == [("schedule", job_id, at)]
    view = control.wait_for(job_id, lambda s: s == "SUCCESS")
    # it ran at its instant, stamped with the virtual now (a worker's stamps are unique to the
    # millisecond, so a frozen clock sees them creep ahead by a few)
    assert at <= view["job"]["run_start_date"] < later(at, seconds=1)
    assert [step["status"] for step in view["timeline"]][0] == "SCHEDULED"


def test_a_running_job_without_progress_ends_after_its_inactivity_timeout(control: Control) -> None:
    control.freeze(START)
    job_id = control.run(parameters={"items": 1, "item_seconds": 3600})  # demo: 1 h without progress
    control.wait_for(job_id, lambda s: s == "RUNNING")
    assert control.advance(seconds=3000)["fired"] == []
    fired = control.advance(seconds=1200)["fired"]
    assert [(f["kind"], f["job_id"], f["status"]) for f in fired] == [
        ("inactivity", job_id, "COMPLETED_DUE_TO_INACTIVITY")]
    assert control.job(job_id)["job"]["status"] == "COMPLETED_DUE_TO_INACTIVITY"


def test_a_job_times_out_when_the_clock_passes_its_timeout(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/limits", {"job_timeout": 60})
    job_id = control.run(parameters={"items": 1, "item_seconds": 3600})
    control.wait_for(job_id, lambda s: s == "RUNNING")
    assert control.advance(seconds=50)["fired"] == []
    fired = control.advance(seconds=20)["fired"]
    assert [(f["kind"], f["job_id"], f["status"]) for f in fired] == [("timeout", job_id, "TIMEOUT")]
    assert START < fired[0]["at"] < later(START, seconds=70)
    assert control.job(job_id)["job"]["status"] == "TIMEOUT"


def test_the_inactivity_limit_replaces_each_jobs_own(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/limits", {"inactivity_timeout": 90})
    job_id = control.run(parameters={"items": 1, "item_seconds": 3600})  # its own inactivity timeout: 1 h
    control.wait_for(job_id, lambda s: s == "RUNNING")
    assert control.advance(seconds=80)["fired"] == []
    fired = control.advance(seconds=20)["fired"]
    assert [(f["kind"], f["job_id"], f["status"]) for f in fired] == [
        ("inactivity", job_id, "COMPLETED_DUE_TO_INACTIVITY")]
    assert START < fired[0]["at"] < later(START, seconds=100)
    assert control.job(job_id)["job"]["status"] == "COMPLETED_DUE_TO_INACTIVITY"
    control.call("DELETE", "/limits")  # each job's own again: another waits its hour
    other = control.run(parameters={"items": 1, "item_seconds": 3600})
    control.wait_for(other, lambda s: s == "RUNNING")
    assert control.advance(seconds=120)["fired"] == []


def test_a_single_instance_schedule_misses_while_its_last_run_still_runs(control: Control) -> None:
    control.freeze(START)
    control.call("POST", "/seed", {"definitions": [{
        "name": "hourly", "processor": "demo", "interval": "1h", "single_instance": True,
        "inactivity_timeout": "6h", "parameters": {"items": 1, "item_seconds": 3600}}]})
    control.advance(seconds=0)  # the scheduler plans the first instance now
    fired = control.advance(to=later(START, hours=2, minutes=30))["fired"]
    assert [(f["kind"], f["at"]) for f in fired] == [
        ("schedule", later(START, hours=1)),
        ("schedule", later(START, hours=2)),
        ("missed_schedule", later(START, hours=2, minutes=15, milliseconds=1)),
    ]
    first, second = fired[0]["job_id"], fired[1]["job_id"]
    assert fired[1]["status"] == "QUEUEING" and fired[2]["job_id"] == second
    assert fired[2]["status"] == "MISSED_SCHEDULE"
    assert control.job(first)["job"]["status"] == "RUNNING"  # still running: the reason the second missed


def test_finished_jobs_are_purged_when_the_clock_passes_their_retention(
        control_factory: Callable[..., Control]) -> None:
    control = control_factory(retention_days=1)
    control.freeze(START)
    job_id = control.run(parameters={"items": 1, "item_seconds": 0})
    control.wait_for(job_id, lambda s: s == "SUCCESS")
    assert control.advance(seconds=23 * 3600)["fired"] == []
    fired = control.advance(seconds=2 * 3600)["fired"]
    assert [(f["kind"], f["job_id"], f["status"]) for f in fired] == [("retention", job_id, None)]
    assert later(START, days=1) < fired[0]["at"] < later(START, days=1, seconds=1)
    assert control.call("GET", f"/jobs/{job_id}", status=404)["error"]["type"] == "JOB_NOT_FOUND"


def test_dates_follow_the_clock_when_it_is_set_back(control: Control) -> None:
    def run_at(now: str) -> dict[str, str]:
        job_id = control.run(parameters={"items": 1, "item_seconds": 0})
        job = control.wait_for(job_id, lambda s: s == "SUCCESS")["job"]
        # stamped on the clock as it stands (a worker's stamps may creep a few ms ahead of a frozen one)
        soon = later(now, seconds=5)
        assert now <= job["created_date"] <= job["run_start_date"] < soon and now <= job["run_end_date"] < soon, job
        return dict(job)

    control.freeze(START)
    run_at(START)
    earlier = later(START, days=-1)
    control.freeze(earlier)  # a test may stand the clock at an earlier instant
    run_at(earlier)
    control.call("POST", "/reset", {"seed": "empty"})  # and a reset puts it back on real time
    control.log_in_again()
    run_at(control.call("GET", "/clock")["now"])
