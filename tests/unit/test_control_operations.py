"""Every Vault route has an operation name, and requests resolve to their route through mounts."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route

from vaultjobs.control.operations import OPERATIONS, resolve, template_of
from vaultjobs.node import build_node
from vaultjobs.settings import Settings


def api_routes(routes: list, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in routes:
        if isinstance(route, Mount):
            found += api_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route) and (prefix + route.path).startswith("/api"):
            found += [(method, template_of(prefix + route.path)) for method in route.methods or () if method != "HEAD"]
    return found


def test_every_vault_route_has_an_operation(tmp_path: Path) -> None:
    node = build_node(Settings(data_dir=tmp_path, control_plane=True))
    try:
        served = api_routes(node.app.router.routes)
        assert len(served) > 60
        assert sorted(set(served) - set(OPERATIONS)) == []
        assert sorted(set(OPERATIONS) - set(served)) == []  # no name for a route that is gone
        scope = {"type": "http", "method": "GET", "path": "/api/v26.1/services/jobs/17", "root_path": "",
                 "path_params": {}}
        resolved = resolve(node.app.router.routes, scope)
        assert resolved is not None
        assert (resolved.template, resolved.operation) == ("/api/{version}/services/jobs/{job_id}",
                                                           "retrieve_job_status")
        assert resolved.path_params["job_id"] in (17, "17")
        assert resolve(node.app.router.routes, {**scope, "path": "/api/v26.1/nothing/here"}) is None
    finally:
        node.store.close()
