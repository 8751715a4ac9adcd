"""The request journal: every API call with its outcome, secrets redacted, filtered on request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from vaultjobs.control.client import ControlClient
from vaultjobs.store import Store
from vaultjobs.store.control_requests import KEPT_REQUESTS, JournalEntry, JournalFilter
from vaultjobs.testing import LiveServer, V, read_envelope

PROCESSORS = f"/api/{V}/services/jobs/processors"


def journal(http: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    response = http.get("/_vaultjobs/requests", params=filters)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["requests"]
    return entries


def test_each_api_call_is_recorded_with_its_outcome(http: httpx.Client) -> None:
    http.get(PROCESSORS, headers={"Cookie": "a=b", "X-Vaultjobs-Control-Token": "t", "X-Custom": "kept"})
    http.get(f"/api/{V}/services/jobs/987654", headers={"Accept": "application/xml"})
    http.get("/_vaultjobs/faults")  # the control plane's own calls are not the client's
    entries = journal(http)
    assert [e["operation"] for e in entries] == ["retrieve_job_processors", "retrieve_job_status"]
    listed, missing = entries
    assert listed["method"] == "GET" and listed["path"] == PROCESSORS
    assert listed["route"] == "/api/{version}/services/jobs/processors"
    assert listed["status"] == 200 and listed["error_type"] is None and listed["user"] == "admin"
    assert listed["duration_ms"] > 0 and listed["at"].endswith("Z")
    assert listed["headers"]["authorization"] == listed["headers"]["cookie"] == "[redacted]"
    assert listed["headers"]["x-vaultjobs-control-token"] == "[redacted]"
    assert listed["headers"]["x-custom"] == "kept"
    # the error type is read from the answer, XML included
    assert missing["error_type"] == "INVALID_DATA" and missing["route"] == "/api/{version}/services/jobs/{job_id}"


def test_unknown_paths_and_logins_are_recorded(http: httpx.Client, control_server: LiveServer) -> None:
    http.get(f"/api/{V}/no/such/thing")
    with control_server.client() as anonymous:
        anonymous.post(f"/api/{V}/auth", data={"username": "admin", "password": "wrong"})
    unknown, login = journal(http)
    assert unknown["route"] is None and unknown["operation"] is None and unknown["error_type"] == "MALFORMED_URL"
    assert login["operation"] == "authenticate" and login["error_type"] == "USERNAME_OR_PASSWORD_INCORRECT"


def test_filters(http: httpx.Client) -> None:
    http.get(PROCESSORS)
    http.get(f"/api/{V}/services/jobs/1")
    http.post(f"/api/{V}/keep-alive")
    http.post("/_vaultjobs/faults", json={"match": {"operation": "keep_alive"}, "answer": {"status": 502}})
    http.post(f"/api/{V}/keep-alive")
    assert [e["operation"] for e in journal(http, method="post")] == ["keep_alive", "keep_alive"]
    assert [e["status"] for e in journal(http, status="502")] == [502]
    assert [e["path"] for e in journal(http, error_type="INVALID_DATA")] == [f"/api/{V}/services/jobs/1"]
    assert len(journal(http, route="/api/{version}/services/jobs/{job_id}")) == 1
    assert len(journal(http, route="/api/{version:api_version}/services/jobs/processors")) == 1
    newest = journal(http)[-1]
    assert journal(http, since=newest["at"])[-1] == newest
    assert all(e["at"] >= newest["at"] for e in journal(http, since=newest["at"]))
    refused = http.get("/_vaultjobs/requests", params={"colour": "red"})
    assert refused.status_code == 400 and refused.json()["error"]["type"] == "INVALID_FILTER"


def test_deleting_empties_it(http: httpx.Client) -> None:
    http.get(PROCESSORS)
    assert journal(http)
    assert http.delete("/_vaultjobs/requests").json() == {"deleted": True}
    assert journal(http) == []


def test_a_reset_empties_the_fault_rules_and_the_journal(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(control_plane="1")
    with ControlClient(server.url) as control, server.client() as http:
        control.faults.add(operation="retrieve_job_processors", answer={"status": 500})
        assert http.get(PROCESSORS).status_code == 500
        assert control.requests.list() and control.faults.list()
        control.reset("empty")
        assert control.faults.list() == [] and control.requests.list() == []
        assert read_envelope(http.get(PROCESSORS)).error_type == "INVALID_SESSION_ID"  # no rule answers now


def test_the_journal_keeps_the_newest_calls_only(store: Store) -> None:
    journal = store.control_requests
    at = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    for n in range(KEPT_REQUESTS + 150):
        journal.record(JournalEntry(at=at, method="GET", path=f"/api/{V}/call/{n}", route=None, operation=None,
                                    status=200, error_type=None, user=None, duration_ms=1.0, headers={}))
    kept = journal.list(JournalFilter())
    assert [entry.path for entry in kept] == [f"/api/{V}/call/{n}" for n in range(150, KEPT_REQUESTS + 150)]
    (stored,) = store.dialect.connection().execute("SELECT COUNT(*) FROM control_requests").fetchone()
    assert stored <= KEPT_REQUESTS + 100  # the ring is trimmed as it goes, not only when read
