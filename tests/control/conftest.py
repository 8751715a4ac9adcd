"""Live servers with the control plane on: a client of its plain-JSON calls, and a server per module
whose faults, journal and events are emptied before each test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from vaultjobs.testing import LiveServer, V


class Control:
    """``/_vaultjobs`` of one server, and its Vault API as a logged-in admin."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url + "/_vaultjobs", timeout=60.0)
        self._api: httpx.Client | None = None

    @property
    def api(self) -> httpx.Client:
        """The Vault API as admin, logged in at first use (after a test has set its clock: a session
        made before a jump of years would have outlived its maximum age)."""
        if self._api is None:
            self._api = httpx.Client(base_url=f"{self.server.url}/api/{V}", timeout=30.0,
                                     headers={"Authorization": self.server.login()})
        return self._api

    def log_in_again(self) -> None:
        """Drop the admin session (after a jump that ended it); the next API call logs in anew."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code == status, response.text
        return response.json()

    def freeze(self, at: str | None = None) -> dict[str, Any]:
        return dict(self.call("POST", "/clock/freeze", {"at": at} if at else None))

    def advance(self, **how: Any) -> dict[str, Any]:
        return dict(self.call("POST", "/clock/advance", how))

    def job(self, job_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/jobs/{job_id}"))

    def wait_for(self, job_id: int, predicate: Callable[[str], bool], timeout: float = 30.0) -> dict[str, Any]:
        """The job, read without touching its status window, once ``predicate(status)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.job(job_id)
            if predicate(view["job"]["status"]):
                return view
            assert time.monotonic() < deadline, view
            time.sleep(0.05)

    def run(self, processor: str = "demo", **body: Any) -> int:
        answer = self.api.post(f"/services/jobs/processors/{processor}/actions/run", json=body).json()
        assert answer["responseStatus"] == "SUCCESS", answer
        return int(answer["job_id"])

    def status(self, job_id: int, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": token} if token else None
        return self.api.get(f"/services/jobs/{job_id}", headers=headers)

    def close(self) -> None:
        self.http.close()
        if self._api is not None:
            self._api.close()


@pytest.fixture
def control_factory(live_server_factory: Callable[..., LiveServer]) -> Iterator[Callable[..., Control]]:
    made: list[Control] = []

    def start(**settings: Any) -> Control:
        settings.setdefault("control_plane", "1")
        settings.setdefault("poll_interval", 0.2)
        settings.setdefault("shutdown_grace", 0.5)  # tests leave long demo jobs running
        control = Control(live_server_factory(**settings))
        made.append(control)
        return control

    yield start
    for control in made:
        control.close()


@pytest.fixture
def control(control_factory: Callable[..., Control]) -> Control:
    return control_factory()


def error_type(response: httpx.Response) -> str | None:
    body = response.json()
    return None if body["responseStatus"] == "SUCCESS" else str(body["errors"][0]["type"])


@pytest.fixture(scope="module")
def control_server(
    tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]
) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("control"), control_plane="1", database_url=vaultjobs_new_database())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin_session(control_server: LiveServer) -> str:
    return control_server.login()


@pytest.fixture
def http(control_server: LiveServer, admin_session: str) -> Iterator[httpx.Client]:
    """A client of the control server, logged in as admin, with no fault rule and an empty journal."""
    with control_server.client(headers={"Authorization": admin_session}) as client:
        for path in ("/_vaultjobs/faults", "/_vaultjobs/requests"):
            assert client.delete(path).status_code == 200
        yield client
