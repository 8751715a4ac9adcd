"""The README walk-through on a whole node in process: log in, run demo, follow it in JSON and XML, meet
the limit."""

from __future__ import annotations

import logging
import re
import time
import xml.etree.ElementTree as ET

import pytest

from vaultjobs.testing import V, run_demo
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_walkthrough(app_server: AppServer) -> None:
    with app_server.client() as http:
        auth = http.post(f"/api/{V}/auth", data={"username": "admin", "password": app_server.admin_password})
        body = auth.json()
        assert body["responseStatus"] == "SUCCESS"
        assert set(body) == {"responseStatus", "sessionId", "userId", "vaultIds", "vaultId"}
        token = body["sessionId"]
        assert len(token) >= 32
        assert body["vaultIds"][0]["id"] == body["vaultId"]

        job_id = run_demo(http, token, items=6, chunk_size=2, item_seconds=0.2)
        headers = {"Authorization": f"Bearer {token}"}

        first = http.get(f"/api/{V}/services/jobs/{job_id}", headers=headers)
        env = read(first)
        assert env.response_status == "SUCCESS"
        assert first.headers["X-VaultAPI-UserId"] == str(body["userId"])
        data = first.json()["data"]
        assert data["id"] == job_id
        assert data["status"] in {"QUEUED", "RUNNING"}
        assert data["method"] == "POST"
        assert data["created_by"] == body["userId"]
        assert DATETIME.match(data["created_date"])
        assert data["links"] == [
            {"rel": "self", "href": f"/api/{V}/services/jobs/{job_id}", "method": "GET", "accept": "application/json"}
        ]

        # the 10-second rule (0.5 s on this server): an immediate second call is refused
        refused = http.get(f"/api/{V}/services/jobs/{job_id}", headers=headers)
        env = read(refused)
        assert refused.status_code == 200
        assert env.response_status == "FAILURE" and env.error_type == "API_LIMIT_EXCEEDED"
        assert int(refused.headers["Retry-After"]) >= 1

        data = app_server.wait_for_status(token, job_id, lambda s: s == "SUCCESS")
        assert data["progress"] == [{"status": "SUCCESS", "size": 3}]
        assert DATETIME.match(data["run_start_date"]) and DATETIME.match(data["run_end_date"])
        assert data["run_end_date"] >= data["run_start_date"] >= data["created_date"]
        rels = {link["rel"]: link for link in data["links"]}
        assert rels["log"]["href"] == f"/api/{V}/services/jobs/{job_id}/log"

        time.sleep(0.6)
        as_xml = http.get(f"/api/{V}/services/jobs/{job_id}", headers={**headers, "Accept": "application/xml"})
        assert as_xml.headers["content-type"].startswith("application/xml")
        root = ET.fromstring(as_xml.content)
        assert root.tag == "VaultResponse"
        assert root.findtext("data/id") == str(job_id)
        assert root.findtext("data/status") == "SUCCESS"
        assert root.findtext("data/progress/item/size") == "3"
        assert [link.findtext("rel") for link in root.findall("data/links/link")] == ["self", "log"]

        tasks = http.get(f"/api/{V}/services/jobs/{job_id}/tasks", headers=headers, params={"limit": 2}).json()
        assert tasks["responseStatus"] == "SUCCESS"
        assert tasks["job_id"] == job_id
        assert tasks["url"] == f"/api/{V}/services/jobs/{job_id}/tasks?limit=2&offset=0"
        assert tasks["responseDetails"] == {
            "total": 3,
            "limit": 2,
            "offset": 0,
            "next_page": f"/api/{V}/services/jobs/{job_id}/tasks?limit=2&offset=2",
        }
        assert tasks["tasks"] == [
            {"id": "Task1", "state": "SUCCESS", "status": "SUCCESS"},
            {"id": "Task2", "state": "SUCCESS", "status": "SUCCESS"},
        ]
        second = http.get(tasks["responseDetails"]["next_page"], headers=headers).json()
        assert [t["id"] for t in second["tasks"]] == ["Task3"]
        assert "next_page" not in second["responseDetails"]
        assert second["responseDetails"]["previous_page"] == f"/api/{V}/services/jobs/{job_id}/tasks?limit=2&offset=0"

        log = http.get(f"/api/{V}/services/jobs/{job_id}/log", headers=headers)
        assert log.headers["content-type"].startswith("text/plain")
        assert "job ended SUCCESS" in log.text
        assert all(DATETIME.match(line.split(" ", 1)[0]) for line in log.text.splitlines())


def test_failing_items_end_errors_encountered(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client() as http:
        job_id = run_demo(http, token, items=4, chunk_size=1, item_seconds=0, fail_items=[2, 4])
    data = app_server.wait_for_status(token, job_id, lambda s: s not in {"QUEUED", "RUNNING"})
    assert data["status"] == "ERRORS_ENCOUNTERED"
    assert data["progress"] == [{"status": "SUCCESS", "size": 2}, {"status": "ERRORS_ENCOUNTERED", "size": 2}]


def test_session_endpoints(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        assert read(http.post(f"/api/{V}/keep-alive")).response_status == "SUCCESS"
        me = http.get(f"/api/{V}/objects/users/me").json()
        assert me["users"][0]["user"]["user_name__v"] == "admin"
        assert me["users"][0]["user"]["user_timezone__v"] == "UTC"
        versions = http.get("/api/").json()
        assert versions["values"]["v26.1"].endswith("/api/v26.1")
        assert "v15.0" in versions["values"] and "v14.0" not in versions["values"]
        assert read(http.delete(f"/api/{V}/session")).response_status == "SUCCESS"
        # the session is gone: it cannot be replayed
        assert read(http.post(f"/api/{V}/keep-alive")).error_type == "INVALID_SESSION_ID"


def test_links_carry_the_callers_version(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        job_id = run_demo(http, token, items=1, item_seconds=0)
        body = http.get(f"/api/v18.3/services/jobs/{job_id}").json()
        assert body["data"]["links"][0]["href"] == f"/api/v18.3/services/jobs/{job_id}"


def test_processors_are_listed(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        body = http.get(f"/api/{V}/services/jobs/processors").json()
    demo = next(p for p in body["data"] if p["name"] == "demo")
    assert demo["chunk_size"] == 5 and demo["idempotent"] is True


def test_health_needs_no_session(app_server: AppServer) -> None:
    with app_server.client() as http:
        assert http.get("/_vaultjobs/health").json()["status"] == "ok"


def test_client_id_is_accepted(app_server: AppServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vaultjobs.access")
    token = app_server.login()
    with app_server.client(headers={"Authorization": token, "X-VaultAPI-ClientID": "acme-tests_1.0"}) as http:
        assert read(http.post(f"/api/{V}/keep-alive", params={"client_id": "other"})).response_status == "SUCCESS"
    assert any("client_id=other" in record.getMessage() for record in caplog.records)
