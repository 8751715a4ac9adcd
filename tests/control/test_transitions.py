"""Scripted jobs follow their steps instead of running; forced moves keep to the transition table
unless forced; the control plane's job read opens no status window."""

from __future__ import annotations

from datetime import timedelta

from vaultjobs.timeutil import parse_datetime

from .conftest import Control, error_type

START = "2030-01-07T09:00:00.000Z"
RUN_THEN_FAIL = {"steps": [{"status": "RUNNING", "progress": {"SUCCESS": 1}},
                           {"status": "ERRORS_ENCOUNTERED", "message": "two rows failed"}]}


def polled(control: Control, job_id: int) -> str:
    answer = control.status(job_id).json()
    assert answer["responseStatus"] == "SUCCESS", answer
    return str(answer["data"]["status"])


def test_a_poll_driven_script_moves_one_step_per_answered_poll(control: Control) -> None:
    control.call("PUT", "/transitions/demo", {**RUN_THEN_FAIL, "advance_on": "poll"})
    assert control.call("GET", "/transitions")["transitions"]["demo"]["advance_on"] == "poll"
    control.call("PUT", "/limits", {"status_window": 0})
    job_id = control.run(parameters={"items": 3})
    answers = [control.status(job_id).json()["data"] for _ in range(4)]
    assert [a["status"] for a in answers] == ["QUEUED", "RUNNING", "ERRORS_ENCOUNTERED", "ERRORS_ENCOUNTERED"]
    assert answers[0]["progress"] == [] and answers[1]["progress"] == [{"status": "SUCCESS", "size": 1}]
    view = control.job(job_id)
    assert [(step["status"], step["by"]) for step in view["timeline"]] == [
        ("QUEUED", view["timeline"][0]["by"]), ("RUNNING", "control-plane:script"),
        ("ERRORS_ENCOUNTERED", "control-plane:script")]
    assert view["script"] is None  # its script is done
    assert [task["state"] for task in view["tasks"]] == ["SUCCESS"]  # the step's progress; no worker ran it
    log = control.api.get(f"/services/jobs/{job_id}/log").text
    assert "two rows failed" in log and "scripted step 1 of 2: RUNNING" in log
    history = control.api.get("/services/jobs/histories").json()
    assert [job["status"] for job in history["jobs"] if job["job_id"] == job_id] == ["ERRORS_ENCOUNTERED"]


def test_a_scripted_job_cancelled_while_running_ends_cancelled(control: Control) -> None:
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING"}, {"status": "SUCCESS"}]})
    control.call("PUT", "/limits", {"status_window": 0})
    job_id = control.run()
    assert polled(control, job_id) == "QUEUED"
    assert control.job(job_id)["job"]["status"] == "RUNNING"  # after the answer
    cancel = control.api.post("/services/jobs/actions/cancel", json=[{"job_id": job_id}]).json()
    assert cancel["data"][0]["responseStatus"] == "SUCCESS", cancel
    control.advance(seconds=0)  # the time rules run: the job nobody works on ends
    assert polled(control, job_id) == "CANCELLED"


def test_a_refused_poll_does_not_move_the_script(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/transitions/demo", {**RUN_THEN_FAIL, "advance_on": "poll"})
    job_id = control.run()
    assert polled(control, job_id) == "QUEUED"
    assert error_type(control.status(job_id)) == "API_LIMIT_EXCEEDED"
    assert control.job(job_id)["job"]["status"] == "RUNNING"  # moved once, after the answered poll
    control.advance(seconds=10)
    assert polled(control, job_id) == "RUNNING"


def test_a_clock_driven_script_moves_with_virtual_time(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING", "after_seconds": 5},
                                                         {"status": "SUCCESS", "after_seconds": 10}],
                                               "advance_on": "clock"})
    job_id = control.run()
    assert control.advance(seconds=4)["fired"] == []
    assert control.job(job_id)["job"]["status"] == "QUEUED"
    fired = control.advance(seconds=30)["fired"]
    assert [(f["kind"], f["job_id"], f["status"], f["at"]) for f in fired] == [
        ("scripted_step", job_id, "RUNNING", "2030-01-07T09:00:05.000Z"),
        ("scripted_step", job_id, "SUCCESS", "2030-01-07T09:00:15.000Z"),
    ]
    view = control.job(job_id)
    assert view["job"]["run_start_date"] == "2030-01-07T09:00:05.000Z"
    assert view["job"]["run_end_date"] == "2030-01-07T09:00:15.000Z"


def test_a_scheduled_job_starts_its_script_when_it_is_queued(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING", "after_seconds": 5},
                                                         {"status": "SUCCESS", "after_seconds": 5}],
                                               "advance_on": "clock"})
    job_id = control.run(schedule_at="2030-01-07T10:00:00.000Z")
    fired = control.advance(to="2030-01-07T11:00:00.000Z")["fired"]
    assert [(f["kind"], f["job_id"], f["at"]) for f in fired] == [
        ("schedule", job_id, "2030-01-07T10:00:00.000Z"),
        ("scripted_step", job_id, "2030-01-07T10:00:05.000Z"),
        ("scripted_step", job_id, "2030-01-07T10:00:10.000Z"),
    ]
    assert control.job(job_id)["job"]["status"] == "SUCCESS"


def test_bad_scripts_are_refused(control: Control) -> None:
    for processor, body in (
        ("demo", {"steps": [{"status": "SUCCESS"}]}),  # QUEUED cannot end SUCCESS without running
        ("demo", {"steps": [{"status": "RUNNING"}, {"status": "QUEUED"}]}),
        ("demo", {"steps": []}),
        ("demo", {"steps": [{"status": "WAITING"}]}),
        ("demo", {"steps": [{"status": "RUNNING"}], "advance_on": "never"}),
        ("demo", {"steps": [{"status": "RUNNING", "progress": {"QUEUED": 2}}]}),  # workers would take them
        ("no_such_processor", RUN_THEN_FAIL),
    ):
        refused = control.call("PUT", f"/transitions/{processor}", body, status=400)
        assert refused["error"]["type"] == "INVALID_SCRIPT", body
    assert control.call("GET", "/transitions") == {"transitions": {}}


def test_without_a_script_jobs_run_for_real_again(control: Control) -> None:
    control.call("PUT", "/transitions/demo", RUN_THEN_FAIL)
    control.call("DELETE", "/transitions/demo")
    assert control.call("DELETE", "/transitions/demo", status=404)["error"]["type"] == "NO_SCRIPT"
    job_id = control.run(parameters={"items": 2, "item_seconds": 0})
    assert control.wait_for(job_id, lambda s: s == "SUCCESS")["tasks"] != []


def test_forced_transitions(control: Control) -> None:
    control.call("PUT", "/transitions/demo", RUN_THEN_FAIL)  # keeps jobs QUEUED until polled
    job_id = control.run()
    illegal = control.call("POST", f"/jobs/{job_id}/transition", {"status": "SUCCESS"}, status=409)
    assert illegal["error"]["type"] == "ILLEGAL_TRANSITION"
    assert control.job(job_id)["job"]["status"] == "QUEUED"
    running = control.call("POST", f"/jobs/{job_id}/transition", {"status": "RUNNING"})
    assert running["job"]["status"] == "RUNNING"
    ended = control.call("POST", f"/jobs/{job_id}/transition", {"status": "SUCCESS"})
    assert ended["job"]["status"] == "SUCCESS" and ended["script"] is None
    forced = control.call("POST", f"/jobs/{job_id}/transition", {"status": "RUNNING", "force": True})
    assert forced["job"]["status"] == "RUNNING"
    assert [(step["status"], step["by"]) for step in forced["timeline"]][1:] == [
        ("RUNNING", "control-plane"), ("SUCCESS", "control-plane"), ("RUNNING", "control-plane")]
    assert control.call("POST", "/jobs/999999/transition", {"status": "RUNNING"}, status=404)
    assert control.call("POST", f"/jobs/{job_id}/transition", {"status": "DONE"}, status=400)
    assert control.call("GET", "/jobs/999999", status=404)["error"]["type"] == "JOB_NOT_FOUND"


def test_a_clock_driven_script_moves_on_its_own_while_the_clock_runs(control: Control) -> None:
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING", "after_seconds": 0.2},
                                                         {"status": "SUCCESS", "after_seconds": 0.2}],
                                               "advance_on": "clock"})
    job_id = control.run()
    view = control.wait_for(job_id, lambda s: s == "SUCCESS", timeout=30)  # nobody polls, nobody advances
    assert [(step["status"], step["by"]) for step in view["timeline"]][1:] == [
        ("RUNNING", "control-plane:script"), ("SUCCESS", "control-plane:script")]
    # taken at the engine's next look at its time rules, stamped with the instants they fell due
    queued, running, ended = (parse_datetime(step["at"]) for step in view["timeline"])
    # (the first counted from the clock's reading as the job was made, a few ms off its QUEUED stamp)
    assert abs(running - queued - timedelta(seconds=0.2)) < timedelta(seconds=0.05)
    assert ended - running == timedelta(seconds=0.2)
