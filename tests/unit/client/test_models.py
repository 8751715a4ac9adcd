from __future__ import annotations

import datetime as dt

import httpx
import pytest

from vaultjobs.client import (
    HistoryEntry,
    Job,
    JobStarted,
    JobStatus,
    MonitorEntry,
    Progress,
    RateLimitInfo,
    Task,
    TaskState,
)
from vaultjobs.client._parse import as_datetime, decode_body
from vaultjobs.client.testing import render_xml

STATUS_BODY = {
    "responseStatus": "SUCCESS",
    "responseMessage": "OK",
    "data": {
        "id": 1201,
        "status": "SUCCESS",
        "method": "POST",
        "links": [
            {
                "rel": "self",
                "href": "/api/v26.1/services/jobs/1201",
                "method": "GET",
                "accept": "application/json",
            },
            {
                "rel": "artifacts",
                "href": "/api/v26.1/results/1201",
                "method": "GET",
                "accept": "application/json",
            },
        ],
        "progress": [{"status": "SUCCESS", "size": 40}, {"status": "RUNNING", "size": 2}],
        "created_by": 44533,
        "created_date": "2016-04-20T18:14:42.000Z",
        "run_start_date": "2016-04-20T18:14:43.000Z",
        "run_end_date": "2026-11-28T02:00:00.000-08:00",
    },
}


def test_job_reads_the_documented_status_payload() -> None:
    job = Job.from_payload(STATUS_BODY["data"])
    assert job.id == 1201
    assert job.status is JobStatus.SUCCESS
    assert job.method == "POST"
    assert job.created_by == 44533
    assert job.created_date == dt.datetime(2016, 4, 20, 18, 14, 42, tzinfo=dt.UTC)
    assert job.run_end_date is not None
    assert job.run_end_date.utcoffset() == dt.timedelta(hours=-8)
    artifacts = job.link("artifacts")
    assert artifacts is not None and artifacts.href == "/api/v26.1/results/1201"
    assert job.link("nope") is None
    assert job.progress is not None
    assert job.progress.total == 42
    assert job.progress.done == 40
    assert job.progress.count(TaskState.RUNNING) == 2


def test_job_reads_job_id_when_there_is_no_id() -> None:
    job = Job.from_payload({"job_id": "361402", "status": "RUNNING", "title": "User Account Activation"})
    assert job.id == 361402
    assert job.title == "User Account Activation"


def test_job_without_progress_or_method_or_dates() -> None:
    job = Job.from_payload({"id": 5, "status": "QUEUED"})
    assert job.progress is None and job.method is None and job.created_date is None and job.links == ()


def test_job_without_an_id_is_rejected() -> None:
    with pytest.raises(ValueError):
        Job.from_payload({"status": "QUEUED"})


def test_job_to_dict_round_trips() -> None:
    job = Job.from_payload(STATUS_BODY["data"])
    assert Job.from_payload(job.to_dict()) == job


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("2016-04-20T18:14:42.000Z", dt.timedelta(0)),  # Vault's UTC form with millis
        ("2016-04-20T18:14:42Z", dt.timedelta(0)),  # query form
        ("2026-11-28T02:00:00.000-08:00", dt.timedelta(hours=-8)),  # scheduled jobs: user's zone
        ("2026-11-28T02:00:00+05:30", dt.timedelta(hours=5, minutes=30)),
        ("2016-04-20T18:14:42", dt.timedelta(0)),  # naive: taken as UTC, never left naive
    ],
)
def test_datetimes_are_always_timezone_aware(text: str, offset: dt.timedelta) -> None:
    value = as_datetime(text)
    assert value is not None and value.utcoffset() == offset


def test_unknown_status_in_payload_becomes_an_unknown_member() -> None:
    assert Job.from_payload({"id": 1, "status": "NEW_THING"}).status.raw == "NEW_THING"


def test_task_reads_state_or_status() -> None:
    assert Task.from_payload({"id": "Task1", "state": "SUCCESS"}).state is TaskState.SUCCESS
    assert (
        Task.from_payload({"id": "Task2", "status": "ERRORS_ENCOUNTERED"}).state
        is TaskState.ERRORS_ENCOUNTERED
    )


def test_history_and_monitor_entries() -> None:
    payload = {
        "job_id": 361402,
        "title": "User Account Activation",
        "status": "SUCCESS",
        "created_by": 1,
        "created_date": "2020-01-01T00:00:00.000Z",
        "modified_by": 1,
        "modified_date": "2020-01-01T00:00:01.000Z",
        "run_start_date": "2020-01-01T00:00:02.000Z",
        "run_end_date": "2020-01-01T00:00:03.000Z",
    }
    entry = HistoryEntry.from_payload(payload)
    assert entry.job_id == 361402 and entry.status is JobStatus.SUCCESS and entry.run_end_date is not None
    monitor = MonitorEntry.from_payload({**payload, "status": "scheduled"})
    assert monitor.status is JobStatus.SCHEDULED and monitor.modified_by == 1


def test_job_started_accepts_string_ids_and_upper_case_url() -> None:
    started = JobStarted.from_payload({"URL": "https://x/api/v1/services/jobs/1201", "job_id": "1201"})
    assert started.job_id == 1201 and started.url == "https://x/api/v1/services/jobs/1201"


def test_rate_limit_info_from_headers() -> None:
    headers = httpx.Headers(
        {
            "X-VaultAPI-BurstLimit": "2000",
            "X-VaultAPI-BurstLimitRemaining": "1998",
            "X-VaultAPI-DailyLimitRemaining": "999999",
            "X-VaultAPI-ResponseDelay": "500",
            "X-VaultAPI-ExecutionId": "abc-123",
            "X-VaultAPI-UserId": "61603",
            "X-VaultAPI-Status": "SUCCESS",
            "Retry-After": "7",
        }
    )
    info = RateLimitInfo.from_headers(headers)
    assert info == RateLimitInfo(
        burst_limit=2000,
        burst_remaining=1998,
        daily_remaining=999999,
        response_delay_ms=500,
        execution_id="abc-123",
        user_id=61603,
        api_status="SUCCESS",
        retry_after=7.0,
    )


def test_rate_limit_info_tolerates_missing_and_garbled_headers() -> None:
    info = RateLimitInfo.from_headers(httpx.Headers({"X-VaultAPI-BurstLimit": "lots", "Retry-After": "soon"}))
    assert info == RateLimitInfo()


def test_retry_after_as_http_date() -> None:
    from vaultjobs.client._models import parse_retry_after

    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:05 GMT", now) == 5.0


# -- XML --------------------------------------------------------------------------------------------


def test_xml_status_body_parses_to_the_same_job_as_json() -> None:
    xml = decode_body(render_xml(STATUS_BODY), "application/xml")
    assert xml["responseStatus"] == "SUCCESS"
    assert Job.from_payload(xml["data"]) == Job.from_payload(STATUS_BODY["data"])


def test_xml_single_element_lists_stay_lists() -> None:
    body = {
        "responseStatus": "SUCCESS",
        "data": {"id": 1, "status": "RUNNING", "links": [{"rel": "self", "href": "/x"}],
                 "progress": [{"status": "RUNNING", "size": 1}]},
    }  # fmt: skip
    data = decode_body(render_xml(body), "text/xml")["data"]
    assert isinstance(data["links"], list) and isinstance(data["progress"], list)
    job = Job.from_payload(data)
    assert job.link("self") is not None
    assert job.progress == Progress.from_payload([{"status": "RUNNING", "size": 1}])


def test_xml_hand_written_vault_response() -> None:
    text = b"""<?xml version="1.0" encoding="UTF-8"?>
    <VaultResponse>
      <responseStatus>SUCCESS</responseStatus>
      <url>/api/v26.1/services/jobs/72408/tasks?limit=50&amp;offset=0</url>
      <responseDetails><total>2</total><limit>50</limit><offset>0</offset></responseDetails>
      <job_id>72408</job_id>
      <tasks>
        <task><id>Task1</id><state>SUCCESS</state></task>
        <task><id>Task2</id><state>ERRORS_ENCOUNTERED</state></task>
      </tasks>
    </VaultResponse>"""
    body = decode_body(text, "application/xml;charset=UTF-8")
    assert body["responseDetails"] == {"total": "2", "limit": "50", "offset": "0"}
    assert [Task.from_payload(t).state for t in body["tasks"]] == [
        TaskState.SUCCESS,
        TaskState.ERRORS_ENCOUNTERED,
    ]


def test_xml_empty_list_and_errors() -> None:
    text = (
        b"<VaultResponse><responseStatus>FAILURE</responseStatus><errors><error><type>INVALID_DATA</type>"
        b"<message>nope</message></error></errors><tasks/></VaultResponse>"
    )
    body = decode_body(text, "application/xml")
    assert body["errors"] == [{"type": "INVALID_DATA", "message": "nope"}]
    assert body["tasks"] == ""


def test_xml_data_items_list() -> None:
    body = {"responseStatus": "SUCCESS", "data": [{"responseStatus": "SUCCESS", "data": {"id": 7}}]}
    assert decode_body(render_xml(body), "application/xml")["data"] == [
        {"responseStatus": "SUCCESS", "data": {"id": "7"}}
    ]


def test_bodies_that_are_neither_json_nor_xml_are_rejected() -> None:
    for content, content_type in (
        (b"<html", "text/html"),
        (b"oops", "text/plain"),
        (b"[1]", "application/json"),
    ):
        with pytest.raises(ValueError):
            decode_body(content, content_type)


def test_a_job_started_outside_a_client_says_how_to_wait() -> None:
    from vaultjobs.client import JobStarted

    started = JobStarted.from_payload({"job_id": 7, "url": "/api/v26.1/services/jobs/7"})
    with pytest.raises(RuntimeError, match=r"client\.wait\(job_id\)"):
        started.wait()
    seen: list[tuple[int, float]] = []
    bound = JobStarted(job_id=7, waiter=lambda job_id, *, timeout, on_update: seen.append((job_id, timeout)))
    bound.wait(timeout=5)
    assert seen == [(7, 5)] and bound == started.__class__(job_id=7)  # the waiter is not part of equality
