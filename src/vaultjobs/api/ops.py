"""What an operator's tools call, beside the Vault API: liveness, readiness, metrics and the API's description.

``/_vaultjobs/health`` is the liveness check: the process answers.
``/_vaultjobs/ready`` is the readiness check a load balancer or Kubernetes asks before sending
traffic: the database answers and its schema is this version's; 503 otherwise, with the reason.
``/_vaultjobs/metrics`` is Prometheus' text format (:mod:`vaultjobs.metrics`). None of them needs a
session or counts against any limit. ``/_vaultjobs/openapi.yaml`` describes the API.

The routes' paths are relative to ``/_vaultjobs``, where the application mounts this family.
"""

from __future__ import annotations

import functools
from importlib import resources

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from vaultjobs import metrics
from vaultjobs.api.services import Services
from vaultjobs.store import SqliteStore


@functools.cache
def latest_migration(engine: str) -> int:
    """The newest schema version this build ships for ``engine`` (``sqlite`` or ``postgres``)."""
    folder = resources.files(f"vaultjobs.store.migrations.{engine}")
    versions = [int(f.name.split("_", 1)[0]) for f in folder.iterdir() if f.name.endswith(".sql")]
    return max(versions)


def readiness(services: Services) -> tuple[bool, str]:
    """Whether this node can serve, and why not."""
    engine = "sqlite" if isinstance(services.store, SqliteStore) else "postgres"
    try:
        row = services.store.dialect.connection().execute("SELECT max(version) FROM schema_migrations").fetchone()
    except Exception as exc:
        return False, f"the database does not answer: {type(exc).__name__}: {exc}"
    applied = int(row[0]) if row and row[0] is not None else 0
    expected = latest_migration(engine)
    if applied < expected:
        return False, f"the database schema is at version {applied}; this vaultjobs needs {expected}"
    return True, f"ready (schema version {applied})"


HEALTH_BODY = b'{"responseStatus":"SUCCESS","status":"ok"}'


def load_openapi() -> bytes:
    return resources.files("vaultjobs.api").joinpath("openapi.yaml").read_bytes()


def ops_routes(services: Services) -> list[Route]:
    openapi = load_openapi()

    async def health(request: Request) -> Response:
        return Response(HEALTH_BODY, media_type="application/json", headers={"X-VaultAPI-Status": "SUCCESS"})

    async def openapi_yaml(request: Request) -> Response:
        return Response(openapi, media_type="application/yaml")

    async def ready(request: Request) -> Response:
        ok, reason = await anyio.to_thread.run_sync(readiness, services)
        body = {"responseStatus": "SUCCESS" if ok else "FAILURE", "status": "ready" if ok else "not ready",
                "reason": reason}
        return Response(orjson.dumps(body), status_code=200 if ok else 503, media_type="application/json",
                        headers={"X-VaultAPI-Status": body["responseStatus"]})

    async def scrape(request: Request) -> Response:
        try:
            text = await anyio.to_thread.run_sync(metrics.exposition, services.store, services.clock)
        except Exception as exc:
            return Response(f"# the store could not be read: {exc}\n", status_code=503,
                            media_type=metrics.CONTENT_TYPE)
        return Response(text, media_type=metrics.CONTENT_TYPE)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", scrape, methods=["GET"]),
    ]
