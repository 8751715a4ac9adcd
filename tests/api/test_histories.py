"""Retrieve Job Histories and Retrieve Job Monitors on a whole node in process: filters, paging links, JSON and
XML, bad filters, who sees which jobs, time zones of scheduled jobs, and the retention purge."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer, AppServerFactory

FINISHED_STATUSES = {"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED"}
HISTORIES = f"/api/{V}/services/jobs/histories"
MONITORS = f"/api/{V}/services/jobs/monitors"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:\d{2})$")
FAST = {"status_window": 0.1, "heartbeat_interval": 0.2, "heartbeat_timeout": 1.5, "poll_interval": 0.2,
        "shutdown_grace": 0.2}


def run(http: httpx.Client, token: str, *, title: str | None = None, schedule_at: datetime | None = None,
        **parameters: Any) -> int:
    body: dict[str, Any] = {"parameters": {"item_seconds": 0, **parameters}}
    if title is not None:
        body["title"] = title
    if schedule_at is not None:
        body["schedule_at"] = schedule_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run", headers={"Authorization": token},
                       json=body).json()
    assert answer["responseStatus"] == "SUCCESS", answer
    return int(answer["job_id"])


def cancel(http: httpx.Client, token: str, job_id: int) -> None:
    answer = http.post(f"/api/{V}/services/jobs/actions/cancel", headers={"Authorization": token},
                       json=[{"job_id": job_id}]).json()
    assert answer["data"][0]["responseStatus"] == "SUCCESS", answer


def get(http: httpx.Client, token: str, path: str, **params: Any) -> dict[str, Any]:
    response = http.get(path, params=params or None, headers={"Authorization": token, "Accept": "application/json"})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and body["responseStatus"] == "SUCCESS", body
    return body


def ids(body: dict[str, Any]) -> list[int]:
    return [entry["job_id"] for entry in body["jobs"]]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, backend: str, app_server_factory: AppServerFactory,
    sample_processors: str,
) -> Iterator[AppServer]:
    with app_server_factory(
        Path(tmp_path_factory.mktemp("histories")), processors=(sample_processors,), **FAST
    ) as srv:
        srv.add_user("alice", "alice-password")
        srv.add_user("bob", "bob-password", timezone="America/Los_Angeles")
        yield srv


class Jobs:
    """The jobs the tests look at, made once per module."""

    def __init__(self, server: AppServer) -> None:
        self.admin = server.login()
        self.alice = server.login("alice", "alice-password")
        self.bob = server.login("bob", "bob-password")
        later = datetime.now(UTC) + timedelta(hours=1)
        self.later = later.replace(microsecond=0)
        with server.client() as http:
            self.alice_ok = [run(http, self.alice, items=2, chunk_size=1) for _ in range(3)]
            self.alice_titled = run(http, self.alice, title="Quarterly export", items=1)
            self.alice_failed = run(http, self.alice, items=3, chunk_size=1, fail_items=[2])
            self.alice_cancelled = run(http, self.alice, schedule_at=later, items=1)
            cancel(http, self.alice, self.alice_cancelled)
            self.alice_scheduled = run(http, self.alice, schedule_at=later, items=1)
            self.alice_running = run(http, self.alice, items=1, item_seconds=600)
            # a processor that ignores ctx.cancelled: once cancelled it stays CANCELLING while it sleeps
            self.alice_cancelling = http.post(
                f"/api/{V}/services/jobs/processors/oblivious/actions/run",
                headers={"Authorization": self.alice},
                json={"parameters": {"seconds": 600}},
            ).json()["job_id"]
            self.bob_ok = run(http, self.bob, items=1)
            self.bob_scheduled = run(http, self.bob, schedule_at=later, items=1)
            for job_id in (self.alice_running, self.alice_cancelling):
                server.wait_for_status(self.alice, job_id, lambda s: s == "RUNNING")
            cancel(http, self.alice, self.alice_cancelling)  # stays CANCELLING while its task sleeps
            deadline = time.monotonic() + 60
            while get(http, self.admin, HISTORIES)["responseDetails"]["total"] < len(self.finished):
                if time.monotonic() > deadline:
                    statuses = {n: http.get(f"/api/{V}/services/jobs/{n}", headers={"Authorization": self.admin})
                                .json().get("data", {}).get("status") for n in sorted(self.finished)}
                    stuck = [n for n, status in statuses.items() if status not in FINISHED_STATUSES]
                    details = {n: (http.get(f"/api/{V}/services/jobs/{n}/tasks", headers={"Authorization": self.admin})
                                   .json().get("tasks"),
                                   http.get(f"/api/{V}/services/jobs/{n}/log", headers={"Authorization": self.admin})
                                   .text) for n in stuck}
                    raise AssertionError(f"the jobs did not finish: {statuses}; stuck: {details}")
                time.sleep(0.1)

    @property
    def alice_finished(self) -> set[int]:
        return {*self.alice_ok, self.alice_titled, self.alice_failed, self.alice_cancelled}

    @property
    def finished(self) -> set[int]:
        return {*self.alice_finished, self.bob_ok}


@pytest.fixture(scope="module")
def jobs(server: AppServer) -> Jobs:
    return Jobs(server)


@pytest.fixture
def http(server: AppServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


# -- histories -------------------------------------------------------------------------------


def test_histories_list_finished_jobs_newest_finished_first(http: httpx.Client, jobs: Jobs) -> None:
    body = get(http, jobs.admin, HISTORIES)
    assert body["responseMessage"] == "OK"
    assert body["url"] == f"{HISTORIES}?limit=50&offset=0"
    assert body["responseDetails"] == {"total": len(jobs.finished), "limit": 50, "offset": 0}
    assert set(ids(body)) == jobs.finished
    finished_at = [e.get("run_end_date") or e["modified_date"] for e in body["jobs"]]
    assert finished_at == sorted(finished_at, reverse=True)
    for entry in body["jobs"]:
        assert set(entry) <= {"job_id", "title", "status", "created_by", "created_date", "modified_by",
                              "modified_date", "run_start_date", "run_end_date"}
        for key in ("created_date", "modified_date", "run_start_date", "run_end_date"):
            assert key not in entry or DATE.match(entry[key]), entry


def test_history_entries_carry_vaults_fields(http: httpx.Client, jobs: Jobs) -> None:
    by_id = {e["job_id"]: e for e in get(http, jobs.admin, HISTORIES)["jobs"]}
    titled = by_id[jobs.alice_titled]
    assert titled["title"] == "Quarterly export" and titled["status"] == "SUCCESS"
    assert titled["run_start_date"] <= titled["run_end_date"]
    assert titled["created_by"] == titled["modified_by"]
    assert by_id[jobs.alice_ok[0]]["title"] == "demo"  # no title: the processor's name
    assert by_id[jobs.alice_failed]["status"] == "ERRORS_ENCOUNTERED"
    cancelled = by_id[jobs.alice_cancelled]
    assert cancelled["status"] == "CANCELLED"
    assert "run_start_date" not in cancelled and "run_end_date" not in cancelled  # it never ran
    assert cancelled["modified_date"] >= cancelled["created_date"]


def test_paging_follows_next_page_to_the_end_and_back(http: httpx.Client, jobs: Jobs) -> None:
    everything = ids(get(http, jobs.admin, HISTORIES))
    seen: list[int] = []
    path: str | None = f"{HISTORIES}?limit=2&offset=0"
    pages = 0
    while path is not None:
        body = get(http, jobs.admin, path)
        assert body["url"] == path
        details = body["responseDetails"]
        assert details["total"] == len(everything) and details["limit"] == 2
        if details["offset"] == 0:
            assert "previous_page" not in details
        else:
            assert details["previous_page"] == f"{HISTORIES}?limit=2&offset={details['offset'] - 2}"
        seen += ids(body)
        path = details.get("next_page")
        pages += 1
    assert seen == everything
    assert pages == (len(everything) + 1) // 2


def test_an_offset_past_the_end_is_an_empty_page(http: httpx.Client, jobs: Jobs) -> None:
    body = get(http, jobs.admin, HISTORIES, limit=5, offset=1000)
    assert body["jobs"] == [] and body["responseDetails"]["total"] == len(jobs.finished)
    assert "next_page" not in body["responseDetails"]
    assert body["responseDetails"]["previous_page"] == f"{HISTORIES}?limit=5&offset=995"


def test_status_filter_and_links_keep_the_filters(http: httpx.Client, jobs: Jobs) -> None:
    body = get(http, jobs.admin, HISTORIES, status="success", limit=1)
    assert {e["status"] for e in body["jobs"]} == {"SUCCESS"}
    assert body["responseDetails"]["total"] == len(jobs.alice_ok) + 2  # titled and bob's
    assert body["url"] == f"{HISTORIES}?status=success&limit=1&offset=0"
    assert body["responseDetails"]["next_page"] == f"{HISTORIES}?status=success&limit=1&offset=1"
    assert ids(get(http, jobs.admin, HISTORIES, status="errors_encountered")) == [jobs.alice_failed]
    assert ids(get(http, jobs.admin, HISTORIES, status="cancelled")) == [jobs.alice_cancelled]
    assert get(http, jobs.admin, HISTORIES, status="timeout")["jobs"] == []
    # Vault documents lower case; other cases are read the same
    assert ids(get(http, jobs.admin, HISTORIES, status="CANCELLED")) == [jobs.alice_cancelled]


def test_dates_filter_on_the_finish_inclusive_to_the_second(http: httpx.Client, jobs: Jobs) -> None:
    entry = next(e for e in get(http, jobs.admin, HISTORIES)["jobs"] if e["job_id"] == jobs.alice_titled)
    second = entry["run_end_date"][:19] + "Z"
    body = get(http, jobs.admin, HISTORIES, start_date=second, end_date=second)
    assert jobs.alice_titled in ids(body)
    assert all((e.get("run_end_date") or e["modified_date"]).startswith(second[:19]) for e in body["jobs"])
    assert body["url"] == f"{HISTORIES}?start_date={second}&end_date={second}&limit=50&offset=0"
    after = (datetime.strptime(second, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert jobs.alice_titled not in ids(get(http, jobs.admin, HISTORIES, start_date=after))
    assert get(http, jobs.admin, HISTORIES, end_date="2000-01-01T00:00:00Z")["responseDetails"]["total"] == 0
    everything = get(http, jobs.admin, HISTORIES, start_date="2000-01-01T00:00:00Z", end_date="2999-12-31T23:59:59Z")
    assert set(ids(everything)) == jobs.finished


def test_histories_in_xml(http: httpx.Client, jobs: Jobs) -> None:
    response = http.get(HISTORIES, params={"limit": 2, "status": "success"},
                        headers={"Authorization": jobs.admin, "Accept": "application/xml"})
    env = read(response)
    assert env.response_status == "SUCCESS"
    root: ET.Element = env.body
    assert root.findtext("url") == f"{HISTORIES}?status=success&limit=2&offset=0"
    assert root.findtext("responseDetails/total") == str(len(jobs.alice_ok) + 2)
    assert root.findtext("responseDetails/next_page") == f"{HISTORIES}?status=success&limit=2&offset=2"
    assert root.find("responseDetails/previous_page") is None
    entries = root.findall("jobs/job")
    assert len(entries) == 2
    json_ids = ids(get(http, jobs.admin, HISTORIES, limit=2, status="success"))
    assert [int(e.findtext("job_id") or 0) for e in entries] == json_ids
    assert {e.findtext("status") for e in entries} == {"SUCCESS"}
    assert all(e.findtext("run_end_date") for e in entries)


# -- bad filters -----------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        (HISTORIES, {"status": "running"}, "status"),
        (HISTORIES, {"status": "bogus"}, "status"),
        (MONITORS, {"status": "success"}, "status"),
        (HISTORIES, {"start_date": "2026-01-01"}, "start_date"),
        (HISTORIES, {"start_date": "2026-13-01T00:00:00Z"}, "start_date"),
        (MONITORS, {"end_date": "yesterday"}, "end_date"),
        (HISTORIES, {"end_date": "2026-01-01T00:00:00+01:00"}, "end_date"),
        (HISTORIES, {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "end_date"),
        (HISTORIES, {"limit": "0"}, "limit"),
        (MONITORS, {"limit": "201"}, "limit"),
        (HISTORIES, {"limit": "ten"}, "limit"),
        (HISTORIES, {"offset": "-1"}, "offset"),
        (MONITORS, {"offset": "1.5"}, "offset"),
    ],
)
def test_bad_filters_are_invalid_data_naming_the_parameter(
    http: httpx.Client, jobs: Jobs, path: str, params: dict[str, str], named: str, accept: str
) -> None:
    response = http.get(path, params=params, headers={"Authorization": jobs.admin, "Accept": accept})
    env = read(response)
    assert env.http_status == 200 and env.response_status == "FAILURE"
    assert env.error_types == ["INVALID_DATA"]
    assert f"[{named}]" in response.text and "Traceback" not in response.text


def test_no_session_is_refused(http: httpx.Client, jobs: Jobs) -> None:
    for path in (HISTORIES, MONITORS):
        env = read(http.get(path))
        assert env.error_types == ["INVALID_SESSION_ID"]


def test_max_limit_is_accepted(http: httpx.Client, jobs: Jobs) -> None:
    assert get(http, jobs.admin, HISTORIES, limit=200)["responseDetails"]["limit"] == 200


# -- who sees what ---------------------------------------------------------------------------


def test_users_see_only_their_own_jobs(http: httpx.Client, jobs: Jobs) -> None:
    alice = get(http, jobs.alice, HISTORIES)
    assert set(ids(alice)) == jobs.alice_finished
    assert alice["responseDetails"]["total"] == len(jobs.alice_finished)
    assert ids(get(http, jobs.bob, HISTORIES)) == [jobs.bob_ok]
    assert ids(get(http, jobs.bob, MONITORS)) == [jobs.bob_scheduled]
    assert jobs.bob_scheduled not in ids(get(http, jobs.alice, MONITORS))
    assert jobs.bob_scheduled in ids(get(http, jobs.admin, MONITORS))
    assert ids(get(http, jobs.bob, HISTORIES, status="cancelled")) == []


# -- monitors --------------------------------------------------------------------------------


def test_monitors_list_unfinished_jobs_newest_created_first(http: httpx.Client, jobs: Jobs) -> None:
    body = get(http, jobs.admin, MONITORS)
    unfinished = [jobs.bob_scheduled, jobs.alice_cancelling, jobs.alice_running, jobs.alice_scheduled]
    assert ids(body) == unfinished  # created in the opposite order
    assert body["responseDetails"] == {"total": 4, "limit": 50, "offset": 0}
    by_id = {e["job_id"]: e for e in body["jobs"]}
    assert by_id[jobs.alice_running]["status"] == "RUNNING"
    assert by_id[jobs.alice_cancelling]["status"] == "CANCELLING"
    assert by_id[jobs.alice_scheduled]["status"] == "SCHEDULED"
    for entry in body["jobs"]:
        assert "run_end_date" not in entry
        assert DATE.match(entry["run_start_date"])
    # a scheduled instance's run_start_date is its next planned start
    planned = datetime.fromisoformat(by_id[jobs.alice_scheduled]["run_start_date"])
    assert planned == jobs.later


def test_monitor_status_filters(http: httpx.Client, jobs: Jobs) -> None:
    assert ids(get(http, jobs.admin, MONITORS, status="scheduled")) == [jobs.bob_scheduled, jobs.alice_scheduled]
    # CANCELLING is still running (asked to stop); it shows its own status
    assert ids(get(http, jobs.admin, MONITORS, status="running")) == [jobs.alice_cancelling, jobs.alice_running]
    assert ids(get(http, jobs.admin, MONITORS, status="cancelling")) == [jobs.alice_cancelling]
    assert get(http, jobs.admin, MONITORS, status="queued")["jobs"] == []
    body = get(http, jobs.admin, MONITORS, status="scheduled", limit=1, offset=1)
    assert ids(body) == [jobs.alice_scheduled]
    assert body["responseDetails"]["previous_page"] == f"{MONITORS}?status=scheduled&limit=1&offset=0"
    assert "next_page" not in body["responseDetails"]


def test_monitor_dates_filter_on_the_created_date(http: httpx.Client, jobs: Jobs) -> None:
    entries = get(http, jobs.admin, MONITORS)["jobs"]
    oldest = min(entries, key=lambda e: e["created_date"])
    second = datetime.fromisoformat(oldest["created_date"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert oldest["job_id"] in ids(get(http, jobs.admin, MONITORS, end_date=second))
    upto = ids(get(http, jobs.admin, MONITORS, start_date="2000-01-01T00:00:00Z", end_date=second))
    assert all(job_id <= oldest["job_id"] or job_id in ids(get(http, jobs.admin, MONITORS, start_date=second))
               for job_id in upto)
    future = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(http, jobs.admin, MONITORS, start_date=future)["responseDetails"]["total"] == 0


def test_scheduled_jobs_render_in_the_callers_time_zone(http: httpx.Client, jobs: Jobs) -> None:
    (entry,) = get(http, jobs.bob, MONITORS)["jobs"]
    assert entry["run_start_date"].endswith(("-08:00", "-07:00")), entry
    assert datetime.fromisoformat(entry["run_start_date"]) == jobs.later
    assert entry["created_date"][-6:] == entry["run_start_date"][-6:]
    # the admin's zone is UTC
    admin_view = next(e for e in get(http, jobs.admin, MONITORS)["jobs"] if e["job_id"] == jobs.bob_scheduled)
    assert admin_view["run_start_date"].endswith("Z")
    # jobs that did not come from a schedule are in UTC for everyone
    assert get(http, jobs.bob, HISTORIES)["jobs"][0]["created_date"].endswith("Z")


def test_monitors_in_xml(http: httpx.Client, jobs: Jobs) -> None:
    response = http.get(MONITORS, params={"status": "running"},
                        headers={"Authorization": jobs.admin, "Accept": "application/xml"})
    root: ET.Element = read(response).body
    assert [int(e.findtext("job_id") or 0) for e in root.findall("jobs/job")] == [
        jobs.alice_cancelling, jobs.alice_running
    ]
    assert root.findtext("responseDetails/total") == "2"
    assert root.find("jobs/job/run_end_date") is None


# -- retention -------------------------------------------------------------------------------


def test_finished_jobs_are_purged_after_the_retention_period(
    tmp_path: Path, backend: str, app_server_factory: AppServerFactory
) -> None:
    retention_seconds = 2.0
    with app_server_factory(tmp_path / "retention", retention_days=retention_seconds / 86_400, **FAST) as srv:
        token = srv.login()
        with srv.client() as http:
            done = run(http, token, items=1)
            waiting = run(http, token, schedule_at=datetime.now(UTC) + timedelta(hours=1), items=1)
            srv.wait_for_status(token, done, lambda s: s == "SUCCESS")
            assert ids(get(http, token, HISTORIES)) == [done]
            deadline = time.monotonic() + 20
            while get(http, token, HISTORIES)["responseDetails"]["total"]:
                assert time.monotonic() < deadline, "the finished job was not purged"
                time.sleep(0.2)
            status = http.get(f"/api/{V}/services/jobs/{done}", headers={"Authorization": token}).json()
            assert status["errors"][0]["type"] == "INVALID_DATA"
            log = http.get(f"/api/{V}/services/jobs/{done}/log", headers={"Authorization": token}).json()
            assert log["errors"][0]["type"] == "INVALID_DATA"
            # an unfinished job is never purged, however old
            time.sleep(retention_seconds + 0.5)
            assert ids(get(http, token, MONITORS)) == [waiting]
