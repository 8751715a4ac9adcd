"""What an operator's tools read: liveness, readiness, Prometheus metrics, and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from vaultjobs.api.ops import latest_migration, readiness
from vaultjobs.logs import JsonFormatter
from vaultjobs.testing import V, execute, run_demo

from .conftest import AppServer


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of ``name`` with ``labels`` in an exposition (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def scrape(http: httpx.Client) -> str:
    response = http.get("/_vaultjobs/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


def test_health_is_an_envelope_and_ready_checks_the_database(app_server: AppServer, app_client: httpx.Client) -> None:
    health = app_client.get("/_vaultjobs/health")
    assert health.status_code == 200 and health.headers["X-VaultAPI-Status"] == "SUCCESS"
    ready = app_client.get("/_vaultjobs/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    # A schema older than this build: not ready, and the reason says why.
    store = app_server.running.store
    latest = max(int(r[0]) for r in execute(store, "SELECT version FROM schema_migrations"))
    execute(store, "UPDATE schema_migrations SET version = -version WHERE version = ?", (latest,))
    try:
        not_ready = app_client.get("/_vaultjobs/ready")
        assert not_ready.status_code == 503 and not_ready.headers["X-VaultAPI-Status"] == "FAILURE"
        assert f"needs {latest}" in not_ready.json()["reason"]
    finally:
        execute(store, "UPDATE schema_migrations SET version = -version WHERE version = ?", (-latest,))
    assert app_client.get("/_vaultjobs/ready").status_code == 200


def test_ready_is_not_ready_when_the_database_does_not_answer() -> None:
    class Down:
        def connection(self) -> object:
            raise OSError("connection refused")

    services = SimpleNamespace(store=SimpleNamespace(dialect=Down()))
    ok, reason = readiness(services)  # type: ignore[arg-type]
    assert not ok and "connection refused" in reason
    assert latest_migration("sqlite") >= 7 and latest_migration("postgres") >= 4


def test_metrics_count_requests_refusals_auth_failures_tasks_and_read_the_queue(
    app_server: AppServer, app_client: httpx.Client
) -> None:
    before = scrape(app_client)
    token = app_server.login()
    job_id = run_demo(app_client, token, items=4, chunk_size=1, item_seconds=0)
    app_server.wait_for_status(token, job_id, lambda s: s == "SUCCESS")
    refused = app_client.get(f"/api/{V}/services/jobs/{job_id}", headers={"Authorization": token}).json()
    assert refused["errors"][0]["type"] == "API_LIMIT_EXCEEDED"  # inside the window the wait just opened
    assert app_client.post(f"/api/{V}/auth", data={"username": "admin", "password": "wrong"}).json()[
        "responseStatus"] == "FAILURE"
    after = scrape(app_client)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("vaultjobs_status_window_refusals_total") >= 1
    assert grew("vaultjobs_auth_failures_total") >= 1
    assert grew("vaultjobs_http_requests_total", route="/api/{version}/services/jobs/{job_id}",
                outcome="API_LIMIT_EXCEEDED") >= 1
    assert grew("vaultjobs_http_requests_total", route="/api/{version}/services/jobs/processors/{name}/actions/run",
                outcome="SUCCESS") == 1
    assert grew("vaultjobs_http_request_seconds_count", route="/api/{version}/services/jobs/{job_id}") >= 2
    assert grew("vaultjobs_task_seconds_count", processor="demo") == 4
    assert grew("vaultjobs_units_claimed_total") >= 4  # the job, and the tasks after the first
    assert metric(after, "vaultjobs_jobs", status="SUCCESS", processor="demo") >= 1
    assert "vaultjobs_queue_depth" in after and "vaultjobs_queue_oldest_seconds" in after


def test_json_log_lines_carry_the_request(tmp_path: Path) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("vaultjobs.test-json")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("GET %s", "/x", extra={"execution_id": "e1", "route": "/x", "outcome": "SUCCESS", "user": 3,
                                           "job_id": "17"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it broke")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "GET /x" and first["level"] == "WARNING" and first["logger"] == "vaultjobs.test-json"
    assert (first["execution_id"], first["route"], first["outcome"], first["user"], first["job_id"]) == (
        "e1", "/x", "SUCCESS", 3, "17")
    assert first["time"].endswith("+00:00")
    assert "ValueError: boom" in second["exception"]


@pytest.mark.parametrize("fmt", ["json"])
def test_a_server_started_with_json_logs_writes_json_lines(tmp_path: Path, fmt: str) -> None:
    from vaultjobs.testing import LiveServer

    srv = LiveServer(tmp_path / "srv", log_format=fmt, status_window=0.1)
    srv.start()
    try:
        token = srv.login()
        with srv.client() as http:
            job_id = run_demo(http, token, items=1, item_seconds=0)
            srv.wait_for_status(token, job_id, lambda s: s == "SUCCESS")
    finally:
        srv.stop()
    lines = [json.loads(line) for line in srv.stderr_path.read_text().splitlines() if line.startswith("{")]
    access = [e for e in lines if e["logger"] == "vaultjobs.access" and e.get("job_id") == str(job_id)]
    assert access and access[0]["route"] == f"/api/{V}/services/jobs/{job_id}" and access[0]["user"] == 1
    assert all(e["outcome"] in ("SUCCESS", "FAILURE") for e in access)
