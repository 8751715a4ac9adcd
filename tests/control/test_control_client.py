"""The control client is what a Vault integration's test suite imports: httpx only, typed errors."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from vaultjobs.control.client import ControlClient, ControlPlaneError, JobEndedOtherwise
from vaultjobs.testing import LiveServer, V, succeeded

CLIENT_ONLY = Path(__file__).parents[1] / "client_only.py"


def test_it_imports_without_the_servers_dependencies() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(CLIENT_ONLY.parent)!r}); import client_only; "
        "sys.meta_path.insert(0, client_only.BlockServer()); "
        "import vaultjobs.control.client, vaultjobs.client; print('imported', flush=True); "
        "import starlette"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    # The clients imported; the server's starlette, after them, is refused: a client-only install.
    assert run.stdout == "imported\n"
    assert run.returncode == 1 and "No module named 'starlette' (not in a client-only install)" in run.stderr, \
        run.stderr


def test_refusals_are_typed(http: httpx.Client, control_server: LiveServer) -> None:
    with ControlClient(control_server.url) as control:
        with pytest.raises(ControlPlaneError) as refused:
            control.faults.add(operation="no_such_operation", answer={"drop": True})
        assert (refused.value.status, refused.value.type) == (400, "INVALID_FAULT")
        rule = control.faults.add(operation="retrieve_job_status", job_id=3, when={"nth": 2},
                                  answer={"status": 502})
        assert control.faults.list() == [rule] and control.faults.hits(rule["id"]) == 0
        control.faults.remove(rule["id"])
        with pytest.raises(ControlPlaneError) as missing:
            control.faults.remove(rule["id"])
        assert missing.value.type == "FAULT_NOT_FOUND"


def test_a_server_without_the_control_plane_is_named_as_such(live_server: LiveServer) -> None:
    with ControlClient(live_server.url) as control, pytest.raises(ControlPlaneError) as off:
        control.faults.list()
    assert off.value.type == "CONTROL_PLANE_OFF" and "--control-plane" in off.value.message


def scheduled_job(http: httpx.Client) -> int:
    answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                       json={"schedule_at": "2099-01-01T00:00:00Z"})
    return int(succeeded(answer)["job_id"])


def test_wait_for_listens_until_the_status_or_an_other_end(http: httpx.Client, control_server: LiveServer) -> None:
    job_id = scheduled_job(http)
    with ControlClient(control_server.url) as control:
        assert control.wait_for(job_id, "SCHEDULED")["job"]["status"] == "SCHEDULED"  # already there
        with pytest.raises(TimeoutError):
            control.wait_for(job_id, "SUCCESS", timeout=0.3)
        cancel = threading.Timer(0.2, lambda: control.jobs.transition(job_id, "CANCELLED"))
        cancel.start()
        with pytest.raises(JobEndedOtherwise) as ended:
            control.wait_for(job_id, "SUCCESS", timeout=30)
        cancel.join()
    assert (ended.value.job_id, ended.value.status) == (job_id, "CANCELLED")


def test_wait_for_sees_a_job_run_to_its_end(http: httpx.Client, control_server: LiveServer) -> None:
    answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                       json={"parameters": {"items": 2, "item_seconds": 0.05}})
    job_id = int(succeeded(answer)["job_id"])
    with ControlClient(control_server.url) as control:
        view = control.wait_for(job_id, "SUCCESS", timeout=30)
    assert view["job"]["status"] == "SUCCESS" and view["timeline"][-1]["status"] == "SUCCESS"


class CountingTransport(httpx.HTTPTransport):
    """Real HTTP, with the path of every request noted."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


def test_wait_for_listens_to_the_event_stream_instead_of_polling(
    http: httpx.Client, control_server: LiveServer
) -> None:
    answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                       json={"parameters": {"items": 1, "item_seconds": 1.0}})
    job_id = int(succeeded(answer)["job_id"])
    counting = CountingTransport()
    with ControlClient(control_server.url, transport=counting) as control:
        assert control.wait_for(job_id, "SUCCESS", timeout=30)["job"]["status"] == "SUCCESS"
    # one look at the job as the stream opens, one at the end: the moves between came on the stream
    assert counting.paths == ["/_vaultjobs/events", f"/_vaultjobs/jobs/{job_id}", f"/_vaultjobs/jobs/{job_id}"]


def test_each_part_of_the_client(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")  # its own: the test moves the clock and resets
    start = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    with ControlClient(server.url) as control:
        assert control.describe()["control_plane"] == "on"
        frozen = control.clock.freeze(start)
        assert frozen.frozen and frozen.now == control.clock.now() == start
        assert control.clock.advance(90).now == start + timedelta(seconds=90)
        moved = control.clock.advance(to="2030-01-07T10:00:00Z")
        assert (moved.now, moved.fired) == (start + timedelta(hours=1), [])
        with pytest.raises(ControlPlaneError) as backwards:
            control.clock.advance(to=start)
        assert backwards.value.type == "CLOCK_BACKWARDS"
        for wrong in ({}, {"seconds": 1, "to": start}, {"to": datetime(2031, 1, 1)}):  # neither, both, naive
            with pytest.raises(ValueError):
                control.clock.advance(**wrong)  # type: ignore[arg-type]
        running = control.clock.resume()
        assert not running.frozen and control.clock.get().now >= moved.now

        defaults = control.limits.defaults()
        changed = control.limits.set(status_window=2, cancel_batch_size=3)
        assert changed == control.limits.get() == {**defaults, "status_window": 2.0, "cancel_batch_size": 3}
        assert control.limits.restore() == control.limits.get() == defaults

        steps = [{"status": "RUNNING"}]
        control.transitions.script("demo", steps, advance_on="clock")
        assert control.transitions.list() == {"transitions": {"demo": {"steps": steps, "advance_on": "clock"}}}
        control.transitions.remove("demo")
        control.transitions.script("demo", steps)
        control.transitions.remove()
        assert control.transitions.list() == {"transitions": {}}

        for operation in ("retrieve_api_versions", "keep_alive"):
            control.faults.add(operation=operation, answer={"status": 502})
        with server.client() as http:
            assert http.get("/api/").status_code == 502
        assert [call["status"] for call in control.requests.list(operation="retrieve_api_versions")] == [502]
        control.faults.clear()
        control.requests.clear()
        assert control.faults.list() == [] and control.requests.list() == []

        created = control.seed({"users": [{"username": "carol", "password": "carol-password"}]})
        assert list(created["created"]["users"]) == ["carol"]
        assert [user["username"] for user in control.export_seed()["users"]] == ["carol"]
        assert control.reset("empty")["reset"] is True and control.export_seed() == {}
