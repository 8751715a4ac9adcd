"""The routes tried first (vaultjobs.api.hot_route): Retrieve Job Status and job starts skip the
router's walk, and only for requests the walk would have given them anyway."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match, Route

from vaultjobs.api.hot_route import HotRoutes, try_first
from vaultjobs.testing import V, read_envelope, succeeded

from .conftest import AppServer, asgi_client


def scope_of(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"", "headers": []}


def first_full_match(routes: list[Any], scope: dict[str, Any]) -> Any:
    return next(route for route in routes if route.matches(scope)[0] is Match.FULL)


def hot_routes(app_server: AppServer) -> tuple[Any, HotRoutes]:
    router = app_server.running.app.router
    assert isinstance(router.middleware_stack, HotRoutes)
    return router, router.middleware_stack


def hot_route_for(hot: HotRoutes, scope: dict[str, Any]) -> Any:
    """The route the hot routes answer ``scope`` with, None when they leave it to the walk."""
    for route, applies in hot.routes:
        match, child = route.matches(scope)
        if match is Match.FULL and applies(child["path_params"]):
            return route
    return None


@pytest.mark.parametrize("job_id", ["1", "42", "9999999999"])
def test_the_walk_gives_a_digit_job_id_to_the_status_route_too(app_server: AppServer, job_id: str) -> None:
    router, hot = hot_routes(app_server)
    for method in ("GET", "HEAD"):
        scope = scope_of(method, f"/api/{V}/services/jobs/{job_id}")
        taken = hot_route_for(hot, scope)
        assert taken is not None and taken.path.endswith("/services/jobs/{job_id}")
        assert first_full_match(router.routes, scope) is taken


@pytest.mark.parametrize("name", ["demo", "processors", "42", "actions"])
def test_the_walk_gives_a_start_to_the_run_route_too(app_server: AppServer, name: str) -> None:
    router, hot = hot_routes(app_server)
    scope = scope_of("POST", f"/api/{V}/services/jobs/processors/{name}/actions/run")
    taken = hot_route_for(hot, scope)
    assert taken is not None and taken.path.endswith("/actions/run")
    assert first_full_match(router.routes, scope) is taken


@pytest.mark.parametrize("word", ["processors", "histories", "monitors"])
def test_named_paths_under_jobs_are_left_to_the_walk(app_server: AppServer, word: str) -> None:
    router, hot = hot_routes(app_server)
    scope = scope_of("GET", f"/api/{V}/services/jobs/{word}")
    status_route = hot.routes[0][0]
    assert status_route.matches(scope)[0] is Match.FULL  # the status route's pattern would take it…
    assert hot_route_for(hot, scope) is None  # …so it is not tried first
    assert first_full_match(router.routes, scope) is not status_route


def test_status_through_the_hot_route_answers_as_the_api_does(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        job_id = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run", json={}).json()["job_id"]
        answer = http.get(f"/api/{V}/services/jobs/{job_id}")
        processors = succeeded(http.get(f"/api/{V}/services/jobs/processors"))
    assert succeeded(answer)["data"]["id"] == job_id
    assert answer.headers["X-VaultAPI-Status"] == "SUCCESS" and answer.headers["X-VaultAPI-UserId"]
    assert "X-VaultAPI-BurstLimitRemaining" in answer.headers
    assert {p["name"] for p in processors["data"]} >= {"demo"}


def small_app(applies: Any) -> Starlette:
    async def named(request: Request) -> Response:
        return PlainTextResponse("named")

    async def item(request: Request) -> Response:
        return PlainTextResponse(f"item {request.path_params['key']} via {request.scope['route'].path}")

    item_route = Route("/items/{key}", item, methods=["GET"])
    app = Starlette(routes=[Route("/items/named", named, methods=["GET"]), item_route])
    try_first(app.router, (item_route, applies))
    return app


def test_the_hot_route_answers_what_it_applies_to_and_the_walk_everything_else() -> None:
    with asgi_client(small_app(lambda params: params["key"].isdigit())) as http:
        assert http.get("/items/7").text == "item 7 via /items/{key}"
        assert http.get("/items/named").text == "named"
        assert http.get("/items/other").text == "item other via /items/{key}"
        assert http.post("/items/7").status_code == 405  # a partial match goes through the walk, as before
        assert http.get("/nothing").status_code == 404


def test_a_hot_route_that_applies_to_everything_shadows_earlier_routes() -> None:
    """Why ``applies`` must exclude what an earlier route matches: the hot route is tried first."""
    with asgi_client(small_app(lambda params: True)) as http:
        assert http.get("/items/named").text == "item named via /items/{key}"


def test_a_client_sees_the_same_headers_either_way(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        hot = http.get(f"/api/{V}/services/jobs/123456789")
        walked = http.get(f"/api/{V}/services/jobs/x123")
    assert read_envelope(hot).error_types == read_envelope(walked).error_types == ["INVALID_DATA"]
    assert set(hot.headers) == set(walked.headers)
