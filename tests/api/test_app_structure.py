"""The application's structure: route families that share prefixes (vaultjobs.api.families), the one
table that answers errors (vaultjobs.api.failures) and the access-log middleware (vaultjobs.api.access),
on a small app of their own and on the real one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from vaultjobs import errors
from vaultjobs.api.access import AccessLog
from vaultjobs.api.endpoint import Call, Handler, endpoint
from vaultjobs.api.failures import exception_handlers
from vaultjobs.api.families import Family, route_label
from vaultjobs.testing import V as VERSION
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer, asgi_client

V = "/api/{version:api_version}"


def named(name: str) -> Handler:
    def handler(call: Call) -> dict[str, Any]:
        return {"family": name, "params": {k: str(v) for k, v in call.path_params.items()}}

    return handler


def refuse(call: Call) -> dict[str, Any]:
    raise errors.InvalidData("no such thing")


async def plain(request: Request) -> Response:
    return PlainTextResponse("not an envelope", status_code=202)


async def page_error(request: Request) -> Response:
    raise errors.JobAccessDenied(5)


def make_app() -> Starlette:
    def route(path: str, handler: Handler, method: str = "GET") -> Route:
        return Route(path, endpoint(handler, authenticate=None, rest_status_codes=False, max_body_bytes=64),
                     methods=[method])

    return Starlette(
        routes=[
            # two families under one prefix, as objects, packages and content share /api/{v}/vobjects
            Family(f"{V}/vobjects", [route("/{object_name}/{record_id}", named("objects")),
                                     route("/{object_name}", named("objects"), "POST"),
                                     route("/refuse", refuse)], name="objects"),
            Family(f"{V}/vobjects", [route("/{object_name}/{record_id}/attachments", named("packages")),
                                     route("/submission__v/{id}/actions/import", named("content"), "POST")],
                   name="packages"),
            Family("", [Route("/plain", plain), Route("/page-error", page_error)], name="other"),
        ],
        middleware=[Middleware(AccessLog)],
        exception_handlers=dict(exception_handlers(rest_status_codes=False)),
    )


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with asgi_client(make_app()) as client:
        yield client


def test_families_sharing_a_prefix_each_answer_their_routes(http: httpx.Client) -> None:
    first = read(http.get(f"/api/{VERSION}/vobjects/product__v/0PR1"))
    assert first.body["family"] == "objects"
    assert first.body["params"] == {"version": VERSION, "object_name": "product__v", "record_id": "0PR1"}
    # the first family's prefix matches, none of its routes does: the next family takes it
    second = read(http.get(f"/api/{VERSION}/vobjects/product__v/0PR1/attachments"))
    assert second.body["family"] == "packages"
    assert read(http.post(f"/api/{VERSION}/vobjects/submission__v/9/actions/import")).body["family"] == "content"


def test_a_path_no_family_knows_is_malformed_url_and_a_wrong_method_method_not_supported(http: httpx.Client) -> None:
    unknown = read(http.get(f"/api/{VERSION}/vobjects/a/b/c/d"))
    assert (unknown.http_status, unknown.error_types) == (200, ["MALFORMED_URL"])
    assert unknown.headers["X-VaultAPI-ExecutionId"]
    # a path of the second family with the first family's method: no family takes it fully
    wrong = read(http.put(f"/api/{VERSION}/vobjects/product__v/0PR1/attachments"))
    assert wrong.error_types == ["METHOD_NOT_SUPPORTED"]
    assert read(http.delete(f"/api/{VERSION}/vobjects/product__v")).error_types == ["METHOD_NOT_SUPPORTED"]


def test_an_error_raised_outside_an_endpoint_gets_the_envelope(http: httpx.Client) -> None:
    env = read(http.get("/page-error"))
    assert (env.http_status, env.error_types) == (200, ["INSUFFICIENT_ACCESS"])


def test_route_labels_drop_converters() -> None:
    assert route_label("/api/{version:api_version}/x/{item:path}/{n:int}") == "/api/{version}/x/{item}/{n}"


def test_the_access_log_has_a_line_for_every_answer(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vaultjobs.access")
    refused = http.get(f"/api/{VERSION}/vobjects/refuse", params={"client_id": "tool-1"},
                       headers={"X-VaultAPI-ReferenceId": "ref-9"})
    http.get("/plain")
    http.get("/nowhere")
    lines = {record.getMessage().split()[2]: record for record in caplog.records if record.name == "vaultjobs.access"}
    failure = lines[f"/api/{VERSION}/vobjects/refuse"]
    assert failure.getMessage().startswith(f"{refused.headers['X-VaultAPI-ExecutionId']} GET ")
    assert " FAILURE INVALID_DATA user=- client_id=tool-1 ref=ref-9 " in failure.getMessage()
    assert (failure.outcome, failure.errors, failure.client_id) == ("FAILURE", "INVALID_DATA", "tool-1")  # type: ignore[attr-defined]
    # an answer without an envelope reports its HTTP status; an unknown path its envelope's error
    assert " 202 user=-" in lines["/plain"].getMessage()
    assert " FAILURE MALFORMED_URL " in lines["/nowhere"].getMessage()


def test_the_real_app_labels_metrics_by_family_route_and_logs_page_requests(
    app_server: AppServer, app_client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    from prometheus_client import REGISTRY

    def count(route: str, outcome: str) -> float:
        value = REGISTRY.get_sample_value("vaultjobs_http_requests_total",
                                          {"method": "GET", "route": route, "outcome": outcome})
        return value or 0.0

    caplog.set_level(logging.INFO, logger="vaultjobs.access")
    token = app_server.login()
    status_route = "/api/{version}/services/jobs/{job_id}"
    before = count(status_route, "INVALID_DATA"), count("/ui/login", "200"), count("/_vaultjobs/health", "SUCCESS")
    assert read(app_client.get(f"/api/{VERSION}/services/jobs/999999", headers={"Authorization": token})
                ).error_types == ["INVALID_DATA"]
    assert app_client.get("/ui/login").status_code == 200
    assert app_client.get("/_vaultjobs/health").status_code == 200
    after = count(status_route, "INVALID_DATA"), count("/ui/login", "200"), count("/_vaultjobs/health", "SUCCESS")
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1]
    paths = [r.getMessage().split()[2] for r in caplog.records if r.name == "vaultjobs.access"]
    assert f"/api/{VERSION}/services/jobs/999999" in paths and "/ui/login" in paths


RUN = "/api/{version}/services/jobs/processors/{name}/actions/run"
STATUS = "/api/{version}/services/jobs/{job_id}"


@pytest.mark.parametrize(("method", "path", "root_path", "hot"), [
    ("GET", f"/api/{VERSION}/services/jobs/12", "", {"version": VERSION, "job_id": "12"}),
    # behind a proxy's prefix
    ("GET", f"/vault/api/{VERSION}/services/jobs/12", "/vault", {"version": VERSION, "job_id": "12"}),
    ("POST", f"/api/{VERSION}/services/jobs/processors/demo/actions/run", "", {"version": VERSION, "name": "demo"}),
    ("POST", f"/p/api/{VERSION}/services/jobs/processors/x.y/actions/run", "/p", {"version": VERSION, "name": "x.y"}),
    ("GET", f"/api/{VERSION}/services/jobs/processors", "", None),  # a fixed path of the family
    ("GET", f"/api/{VERSION}/services/jobs/processors/demo/actions/run", "", None),  # the router's 405
    ("POST", f"/api/{VERSION}/services/jobs/processors/a/b/actions/run", "", None),  # not one segment
    ("GET", f"/api/{VERSION}/services/jobs/12x", "", None),  # the endpoint's own error, from the router
    ("GET", f"/api/{VERSION}/services/jobs/12/log", "", None),
    ("POST", f"/api/{VERSION}/services/jobs/12", "", None),  # METHOD_NOT_SUPPORTED, from the router
    ("GET", "/api/v99/services/jobs/12", "", None),
    ("POST", "/api/v99/services/jobs/processors/demo/actions/run", "", None),
])
def test_status_and_run_go_straight_to_their_endpoints_and_nothing_else_does(
        method: str, path: str, root_path: str, hot: dict[str, str] | None) -> None:
    import asyncio

    from vaultjobs.api.hot_path import RUN_PATH, STATUS_PATH, HotPath, HotRoute

    seen: dict[str, Any] = {}

    def endpoint_named(name: str) -> Any:
        async def answer(request: Request) -> Response:
            seen[name] = dict(request.path_params)
            return PlainTextResponse(name)
        return answer

    async def router(scope: Any, receive: Any, send: Any) -> None:
        seen["router"] = True
        await PlainTextResponse("router")(scope, receive, send)

    status = Route("/{job_id}", endpoint_named("status"), methods=["GET"])
    run = Route("/processors/{name}/actions/run", endpoint_named("run"), methods=["POST"])
    app = HotPath(router, routes=[HotRoute("GET", STATUS_PATH, status, STATUS), HotRoute("POST", RUN_PATH, run, RUN)])
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path, "query_string": b"",
             "headers": [], "asgi": {"version": "3.0"}}
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    if hot is not None:
        name, route, label = ("status", status, STATUS) if method == "GET" else ("run", run, RUN)
        assert seen == {name: hot}
        assert scope["route"] is route and scope["vaultjobs.route"] == label
        assert sent[-1]["body"] == name.encode()
    else:
        assert seen == {"router": True} and sent[-1]["body"] == b"router"
