"""Every error row of DESIGN.md's table, through the whole app in process, in JSON and in XML.

Each answer is HTTP 200 with ``responseStatus`` FAILURE and the documented error type, and never
a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vaultjobs.accounts import AUTH_DELAY_SECONDS, AUTH_WINDOW_SECONDS
from vaultjobs.testing import Envelope, ManualClock, V, run_demo
from vaultjobs.testing import read_envelope as read
from vaultjobs.timeutil import fixed_window

from .conftest import AppServer, AppServerFactory

FORMATS = {"json": "application/json", "xml": "application/xml"}


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    """The module server's clock: sessions expire and windows pass when a test moves it."""
    return ManualClock()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, app_server_factory: AppServerFactory, clock: ManualClock
) -> Iterator[AppServer]:
    with app_server_factory(
        Path(tmp_path_factory.mktemp("errors")),
        clock=clock,
        status_window=30,
        session_idle_timeout=5,
        lockout_attempts=3,
        workers=1,
    ) as srv:
        srv.add_user("alice", "alice-password")
        srv.add_user("bob", "bob-password")
        srv.add_user("carol", "carol-password")
        yield srv


@pytest.fixture(params=sorted(FORMATS))
def http(request: pytest.FixtureRequest, server: AppServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Accept": FORMATS[request.param]}) as client:
        yield client


def check(response: httpx.Response, error_type: str) -> Envelope:
    env = read(response)
    assert env.http_status == 200
    assert env.response_status == "FAILURE", response.text
    assert env.error_types == [error_type], response.text
    assert "Traceback" not in response.text
    return env


def fresh_token(server: AppServer, user: str = "alice") -> str:
    return server.login(user, f"{user}-password")


def test_no_session(http: httpx.Client) -> None:
    check(http.get(f"/api/{V}/services/jobs/1"), "INVALID_SESSION_ID")


def test_unknown_session(http: httpx.Client) -> None:
    check(http.get(f"/api/{V}/services/jobs/1", headers={"Authorization": "F" * 64}), "INVALID_SESSION_ID")


def test_expired_session(http: httpx.Client, server: AppServer, clock: ManualClock) -> None:
    token = fresh_token(server)
    clock.advance(4.5)
    assert read(http.post(f"/api/{V}/keep-alive", headers={"Authorization": token})).response_status == "SUCCESS"
    clock.advance(5.5)
    check(http.post(f"/api/{V}/keep-alive", headers={"Authorization": token}), "INVALID_SESSION_ID")


@pytest.mark.parametrize("job_id", ["abc", "-1", "0", "1.5", "99999999999999999999999", "1e3", "%20"])
def test_bad_job_ids(http: httpx.Client, server: AppServer, job_id: str) -> None:
    token = fresh_token(server)
    check(http.get(f"/api/{V}/services/jobs/{job_id}", headers={"Authorization": token}), "INVALID_DATA")


def test_unknown_job(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    for path in ("", "/tasks", "/log"):
        check(http.get(f"/api/{V}/services/jobs/987654{path}", headers={"Authorization": token}), "INVALID_DATA")


def test_another_users_job(http: httpx.Client, server: AppServer) -> None:
    alice, bob = fresh_token(server, "alice"), fresh_token(server, "bob")
    job_id = run_demo(http, alice, items=1, item_seconds=0)
    for path in ("", "/tasks", "/log"):
        check(http.get(f"/api/{V}/services/jobs/{job_id}{path}", headers={"Authorization": bob}),
              "INSUFFICIENT_ACCESS")
    # an admin sees every job
    admin = server.login()
    assert read(http.get(f"/api/{V}/services/jobs/{job_id}", headers={"Authorization": admin})).response_status == (
        "SUCCESS"
    )


def test_missing_required_parameter(http: httpx.Client) -> None:
    check(http.post(f"/api/{V}/auth", data={"password": "x"}), "PARAMETER_REQUIRED")


def test_unknown_path(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    for path in (f"/api/{V}/services/nothing", "/nope", f"/api/{V}/services/jobs/1/extra/deep", "/api/vX/auth"):
        check(http.get(path, headers={"Authorization": token}), "MALFORMED_URL")


def test_wrong_method(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    check(http.delete(f"/api/{V}/services/jobs/1", headers={"Authorization": token}), "METHOD_NOT_SUPPORTED")
    check(http.get(f"/api/{V}/auth"), "METHOD_NOT_SUPPORTED")


@pytest.mark.parametrize("version", ["v14.0", "v26.2", "v99.9", "v18.7"])
def test_unsupported_version(http: httpx.Client, server: AppServer, version: str) -> None:
    token = fresh_token(server)
    check(http.get(f"/api/{version}/services/jobs/1", headers={"Authorization": token}), "METHOD_NOT_SUPPORTED")


def test_status_inside_window(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    job_id = run_demo(http, token, items=1, item_seconds=0)
    assert read(http.get(f"/api/{V}/services/jobs/{job_id}", headers={"Authorization": token})).response_status == (
        "SUCCESS"
    )
    refused = http.get(f"/api/{V}/services/jobs/{job_id}", headers={"Authorization": token})
    check(refused, "API_LIMIT_EXCEEDED")
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"parameters": {"items": "ten"}}', "items"),
        (b'{"parameters": {"items": -1}}', "items"),
        (b'{"parameters": {"chunk_size": 501}}', "chunk_size"),
        (b'{"parameters": {"fail_items": [1, "x"]}}', "fail_items"),
        (b'{"parameters": {"surprise": 1}}', "surprise"),
        (b'{"parameters": [1, 2]}', "parameters"),
        (b'{"title": 5}', "title"),
        (b'{"schedule_at": "next tuesday"}', "schedule_at"),
        (b'{"schedule_at": "2001-01-01T00:00:00Z"}', "schedule_at"),
        (b'{"unknown": 1}', "unknown"),
        (b'{"parameters": ', "JSON"),
        (b"[1, 2, 3]", "JSON object"),
        (b"\xff\xfe", "JSON"),
    ],
)
def test_bad_run_requests(http: httpx.Client, server: AppServer, body: bytes, needle: str) -> None:
    token = fresh_token(server)
    response = http.post(
        f"/api/{V}/services/jobs/processors/demo/actions/run",
        headers={"Authorization": token, "Content-Type": "application/json"},
        content=body,
    )
    check(response, "INVALID_DATA")
    assert needle in response.text


def test_unknown_processor(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    response = http.post(f"/api/{V}/services/jobs/processors/nope/actions/run", headers={"Authorization": token})
    check(response, "INVALID_DATA")


def test_oversized_body(http: httpx.Client, server: AppServer) -> None:
    token = fresh_token(server)
    big = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = http.post(
        f"/api/{V}/services/jobs/processors/demo/actions/run", headers={"Authorization": token}, content=big
    )
    check(response, "INVALID_DATA")


@pytest.mark.parametrize(("query", "name"), [("limit=0", "limit"), ("limit=abc", "limit"), ("offset=-1", "offset")])
def test_bad_paging(http: httpx.Client, server: AppServer, query: str, name: str) -> None:
    token = fresh_token(server)
    job_id = run_demo(http, token, items=1, item_seconds=0)
    response = http.get(f"/api/{V}/services/jobs/{job_id}/tasks?{query}", headers={"Authorization": token})
    check(response, "INVALID_DATA")
    assert f"[{name}]" in response.text


def auth_failure(http: httpx.Client, username: str, password: str, error_type: str) -> None:
    response = http.post(f"/api/{V}/auth", data={"username": username, "password": password})
    env = check(response, error_type)
    if isinstance(env.body, dict):
        assert env.body["errorType"] == "AUTHENTICATION_FAILED"
    else:
        assert env.body.findtext("errorType") == "AUTHENTICATION_FAILED"


def test_bad_username_or_password(http: httpx.Client) -> None:
    auth_failure(http, "nobody", "whatever-password", "USERNAME_OR_PASSWORD_INCORRECT")
    auth_failure(http, "bob", "", "NO_PASSWORD_PROVIDED")


def test_inactive_user(http: httpx.Client, server: AppServer, request: pytest.FixtureRequest) -> None:
    name = f"gone{request.node.callspec.id}"
    server.add_user(name, "gone-password")
    token = server.login(name, "gone-password")
    server.deactivate_user(name)
    auth_failure(http, name, "gone-password", "INACTIVE_USER")
    check(http.post(f"/api/{V}/keep-alive", headers={"Authorization": token}), "INVALID_SESSION_ID")


def test_locked_out_user(http: httpx.Client, server: AppServer, request: pytest.FixtureRequest) -> None:
    name = f"locked{request.node.callspec.id}"
    server.add_user(name, "locked-password")
    for _ in range(3):
        auth_failure(http, name, "wrong-password", "USERNAME_OR_PASSWORD_INCORRECT")
    auth_failure(http, name, "locked-password", "USER_LOCKED_OUT")


def test_auth_burst_limit(app_server_factory: AppServerFactory, tmp_path: Path) -> None:
    clock = ManualClock()
    window = fixed_window(clock.now(), AUTH_WINDOW_SECONDS)[0]
    with app_server_factory(tmp_path, clock=clock, auth_attempts_per_minute=3, workers=0) as server, \
            server.client() as http:
        clock.advance(50)  # ten seconds of the window left: Retry-After says so
        began = time.monotonic()
        for _ in range(3):
            read(http.post(f"/api/{V}/auth", data={"username": "admin", "password": "wrong-password"}))
        refused = http.post(f"/api/{V}/auth", data={"username": "admin", "password": server.admin_password})
        check(refused, "API_LIMIT_EXCEEDED")
        assert refused.headers["Retry-After"] == "10"
        # the second and third calls reached half the limit: each was held back
        assert time.monotonic() - began >= 2 * AUTH_DELAY_SECONDS
        # the next window admits the user again
        clock.advance(10)
        assert fixed_window(clock.now(), AUTH_WINDOW_SECONDS)[0] > window
        ok = http.post(f"/api/{V}/auth", data={"username": "admin", "password": server.admin_password})
        assert read(ok).response_status == "SUCCESS"
