"""How every endpoint runs (vaultjobs.api.endpoint), on a small app of its own: the version check, the
body limit, the session hook, the envelope in JSON and XML, the headers, and unexpected errors
answered as EXCEPTION with the traceback logged and never sent."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vaultjobs import errors
from vaultjobs.api.access import client_id_of
from vaultjobs.api.endpoint import Call, Handler, endpoint
from vaultjobs.models import User
from vaultjobs.testing import read_envelope as read

from .conftest import asgi_client

LIMIT = 64
ALICE = User(id=7, username="alice", timezone="UTC", is_admin=False, active=True,
             created_at=datetime(2026, 1, 1, tzinfo=UTC), password_changed_at=datetime(2026, 1, 1, tzinfo=UTC))
V = "/api/{version:api_version}"


def authenticate(call: Call) -> None:
    """alice's session is the word ``alice``; anything else is no session."""
    if call.request.headers.get("authorization") != "alice":
        raise errors.InvalidSessionId()
    call.user = ALICE


def echo(call: Call) -> dict[str, Any]:
    return {"version": call.version, "body": call.body.decode(), "form": call.form,
            "user": call.user.username if call.user else None}


def explode(call: Call) -> dict[str, Any]:
    raise RuntimeError("secret database password in this message")


def refuse(call: Call) -> dict[str, Any]:
    raise errors.ApiLimitExceeded("slow down", retry_after=7)


def plain(call: Call) -> Response:
    return PlainTextResponse("just text")


def make_app(*, rest: bool = False) -> Starlette:
    def route(path: str, handler: Handler, *, auth: bool = False, body: str | None = None) -> Route:
        return Route(path, endpoint(handler, authenticate=authenticate if auth else None, rest_status_codes=rest,
                                    max_body_bytes=LIMIT, body=body), methods=["POST"])

    return Starlette(routes=[
        route(f"{V}/echo", echo),
        route(f"{V}/raw", echo, body="raw"),
        route(f"{V}/form", echo, body="form"),
        route(f"{V}/mine", echo, auth=True),
        route(f"{V}/explode", explode),
        route(f"{V}/refuse", refuse),
        route(f"{V}/plain", plain),
        route("/unversioned", echo),
    ])


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with asgi_client(make_app()) as client:
        yield client


@pytest.fixture(scope="module")
def rest_http() -> Iterator[httpx.Client]:
    with asgi_client(make_app(rest=True)) as client:
        yield client


def test_success_envelope_and_headers(http: httpx.Client) -> None:
    response = http.post("/api/v26.1/echo")
    env = read(response)  # checks X-VaultAPI-Status against the body and that an execution id is there
    assert (env.http_status, env.response_status) == (200, "SUCCESS")
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert env.body["version"] == "v26.1"
    assert "X-VaultAPI-UserId" not in response.headers
    # every call has its own execution id
    assert http.post("/api/v26.1/echo").headers["X-VaultAPI-ExecutionId"] != response.headers["X-VaultAPI-ExecutionId"]


def test_xml_when_accept_prefers_it(http: httpx.Client) -> None:
    response = http.post("/api/v26.1/echo", headers={"Accept": "application/xml"})
    env = read(response)
    assert response.headers["content-type"] == "application/xml;charset=UTF-8"
    assert env.response_status == "SUCCESS"
    assert isinstance(env.body, ET.Element) and env.body.findtext("version") == "v26.1"
    failure = read(http.post("/api/v26.1/mine", headers={"Accept": "text/xml"}))
    assert failure.error_types == ["INVALID_SESSION_ID"]


@pytest.mark.parametrize(
    ("version", "error_type"),
    [
        ("v14.0", "METHOD_NOT_SUPPORTED"),  # older than Vault's oldest
        ("v26.2", "METHOD_NOT_SUPPORTED"),  # newer than this server
        ("v18.7", "METHOD_NOT_SUPPORTED"),  # a release that never was
    ],
)
def test_unsupported_versions(http: httpx.Client, version: str, error_type: str) -> None:
    env = read(http.post(f"/api/{version}/echo"))
    assert (env.http_status, env.response_status, env.error_types) == (200, "FAILURE", [error_type])


def test_routes_without_a_version_skip_the_check(http: httpx.Client) -> None:
    assert read(http.post("/unversioned")).body["version"] == ""


def test_session_hook_runs_before_the_handler(http: httpx.Client) -> None:
    refused = http.post("/api/v26.1/mine", headers={"Authorization": "mallory"})
    assert read(refused).error_types == ["INVALID_SESSION_ID"]
    assert "X-VaultAPI-UserId" not in refused.headers
    allowed = http.post("/api/v26.1/mine", headers={"Authorization": "alice"})
    assert read(allowed).body["user"] == "alice"
    assert allowed.headers["X-VaultAPI-UserId"] == "7"


def test_raw_body_within_the_limit(http: httpx.Client) -> None:
    assert read(http.post("/api/v26.1/raw", content=b"x" * LIMIT)).body["body"] == "x" * LIMIT


def test_raw_body_over_the_limit(http: httpx.Client) -> None:
    declared = read(http.post("/api/v26.1/raw", content=b"x" * (LIMIT + 1)))
    assert declared.error_types == ["INVALID_DATA"]
    assert f"larger than {LIMIT} bytes" in declared.body["errors"][0]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        for _ in range(3):
            yield b"y" * (LIMIT // 2)

    streamed = read(http.post("/api/v26.1/raw", content=chunks()))
    assert streamed.error_types == ["INVALID_DATA"]


def test_form_body(http: httpx.Client) -> None:
    assert read(http.post("/api/v26.1/form", data={"username": "alice"})).body["form"] == {"username": "alice"}
    too_big = read(http.post("/api/v26.1/form", data={"username": "a" * LIMIT}))
    assert too_big.error_types == ["INVALID_DATA"]
    # a file where only fields are taken is not a valid form
    with_file = read(http.post("/api/v26.1/form", files={"f": ("f.txt", b"x")}))
    assert with_file.error_types == ["INVALID_DATA"]


def test_unexpected_error_is_exception_without_traceback(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="vaultjobs.api.failures")
    for accept in ("application/json", "application/xml"):
        response = http.post("/api/v26.1/explode", headers={"Accept": accept})
        env = read(response)
        assert (env.http_status, env.response_status, env.error_types) == (200, "EXCEPTION", ["UNEXPECTED_ERROR"])
        assert "Traceback" not in response.text and "secret" not in response.text
        logged = [r for r in caplog.records if r.exc_info and response.headers["X-VaultAPI-ExecutionId"] in r.message]
        assert len(logged) == 1 and "secret database password" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_retry_after_of_a_limit(http: httpx.Client) -> None:
    response = http.post("/api/v26.1/refuse")
    assert read(response).error_types == ["API_LIMIT_EXCEEDED"]
    assert response.headers["Retry-After"] == "7"


def test_a_ready_response_gets_the_headers(http: httpx.Client) -> None:
    response = http.post("/api/v26.1/plain", headers={"Authorization": "alice"})
    assert response.text == "just text"
    assert response.headers["X-VaultAPI-Status"] == "SUCCESS"
    assert response.headers["X-VaultAPI-ExecutionId"]


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/v26.1/echo", {}, 200),
        ("/api/v26.1/mine", {}, 401),
        ("/api/v14.0/echo", {}, 405),
        ("/api/v26.1/raw", {"Content-Length": str(LIMIT + 1)}, 400),
        ("/api/v26.1/refuse", {}, 429),
        ("/api/v26.1/explode", {}, 500),
    ],
)
def test_rest_status_codes(rest_http: httpx.Client, path: str, headers: dict[str, str], status: int) -> None:
    content = b"x" * (LIMIT + 1) if "Content-Length" in headers else None
    response = rest_http.post(path, content=content)
    assert response.status_code == status
    assert read(response).response_status == ("SUCCESS" if status == 200 else
                                              "EXCEPTION" if status == 500 else "FAILURE")


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("", None, "unknown"),
        ("?client_id=", None, "unknown"),
        ("", "acme-tests_1.0", "acme-tests_1.0"),
        ("?client_id=from-query", "from-header", "from-query"),  # the query parameter wins
        ("?client_id=no%20spaces", None, "invalid_client_id"),
        ("", "x" * 101, "invalid_client_id"),  # at most 100 characters
    ],
)
def test_client_id_of(query: str, header: str | None, expected: str) -> None:
    headers = [] if header is None else [(b"x-vaultapi-clientid", header.encode())]
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": query.lstrip("?").encode(),
             "headers": headers}
    assert client_id_of(Request(scope)) == expected


