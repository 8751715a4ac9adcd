from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson
import pytest

from vaultjobs.client import (
    InvalidRequest,
    JobStatus,
    OperationNotAllowed,
    TaskState,
    VaultClient,
)
from vaultjobs.client.testing import FakeVault


@pytest.fixture(params=["json", "xml"])
def any_format_client(request: pytest.FixtureRequest, make_client: Callable[..., VaultClient]) -> VaultClient:
    return make_client(format=request.param)


def test_tasks_iterator_follows_next_page(any_format_client: VaultClient, vault: FakeVault) -> None:
    tasks = [{"id": f"Task{n}", "state": "SUCCESS" if n % 2 else "ERRORS_ENCOUNTERED"} for n in range(7)]
    job_id = vault.add_job(["SUCCESS"], tasks=tasks)
    got = list(any_format_client.tasks(job_id, page_size=3))
    assert [t.id for t in got] == [f"Task{n}" for n in range(7)]
    assert got[1].state is TaskState.SUCCESS and got[0].state is TaskState.ERRORS_ENCOUNTERED
    task_calls = [r for r in vault.requests if r.url.path.endswith("/tasks")]
    assert [dict(r.url.params) for r in task_calls] == [
        {"limit": "3", "offset": "0"},
        {"limit": "3", "offset": "3"},
        {"limit": "3", "offset": "6"},
    ]


def test_task_pages_carry_response_details(any_format_client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"], tasks=[{"id": "a", "state": "RUNNING"}])
    [page] = list(any_format_client.task_pages(job_id))
    assert (page.total, page.limit, page.offset, page.next_page) == (1, 50, 0, None)


def test_tasks_are_not_rate_limited_like_status(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"], tasks=[{"id": "a", "state": "RUNNING"}])
    for _ in range(3):
        assert len(list(client.tasks(job_id))) == 1
    assert vault.clock() == 1000.0


def test_histories_with_filters_and_paging(any_format_client: VaultClient, vault: FakeVault) -> None:
    for status in ("SUCCESS", "ERRORS_ENCOUNTERED", "SUCCESS", "RUNNING"):
        vault.add_job([status])
    since = dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    entries = list(any_format_client.histories(start_date=since, status=JobStatus.SUCCESS, page_size=1))
    assert [e.status for e in entries] == [JobStatus.SUCCESS, JobStatus.SUCCESS]
    first = next(r for r in vault.requests if r.url.path.endswith("/histories"))
    assert dict(first.url.params) == {
        "start_date": "2026-01-01T00:00:00Z",
        "status": "success",
        "limit": "1",
        "offset": "0",
    }


def test_monitors_list_jobs_in_flight(any_format_client: VaultClient, vault: FakeVault) -> None:
    running = vault.add_job(["RUNNING"])
    vault.add_job(["SUCCESS"])
    entries = list(any_format_client.monitors())
    assert [(e.job_id, e.status) for e in entries] == [(running, JobStatus.RUNNING)]
    assert entries[0].run_start_date is not None


def test_list_parameters_are_validated(client: VaultClient) -> None:
    with pytest.raises(ValueError):
        list(client.histories(page_size=201))
    with pytest.raises(ValueError):
        list(client.histories(start_date=dt.datetime(2026, 1, 1)))  # naive


def test_start_now(any_format_client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["SCHEDULED"])
    started = any_format_client.start_now(job_id)
    assert started.job_id == job_id and started.url is not None and started.url.endswith(f"/jobs/{job_id}")
    assert vault.requests[-1].method == "POST"
    assert vault.requests[-1].url.path.endswith(f"/services/jobs/start_now/{job_id}")
    with pytest.raises(OperationNotAllowed):
        any_format_client.start_now(job_id)


def test_cancel_reports_each_job_in_order(any_format_client: VaultClient, vault: FakeVault) -> None:
    queued = vault.add_job(["QUEUED"])
    done = vault.add_job(["SUCCESS"])
    outcomes = any_format_client.cancel(queued, done)
    assert [(o.job_id, o.accepted) for o in outcomes] == [(queued, True), (done, False)]
    assert outcomes[1].errors[0].type == "INVALID_DATA"  # Vault sends this one as an object, not a list
    request = vault.requests[-1]
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == [{"job_id": queued}, {"job_id": done}]


def test_cancel_sends_batches_of_500(client: VaultClient, vault: FakeVault) -> None:
    ids = [vault.add_job(["SCHEDULED"]) for _ in range(1201)]
    outcomes = client.cancel(ids)
    assert len(outcomes) == 1201 and all(o.accepted for o in outcomes)
    sizes = [len(orjson.loads(r.content)) for r in vault.requests if r.url.path.endswith("/actions/cancel")]
    assert sizes == [500, 500, 201]


def test_cancel_needs_ids(client: VaultClient) -> None:
    with pytest.raises(ValueError):
        client.cancel()


def test_run_processor_is_the_vaultjobs_extension(client: VaultClient, vault: FakeVault) -> None:
    started = client.run_processor("demo", {"items": 3}, title="try it")
    assert started.job_id in vault.jobs
    request = vault.requests[-1]
    assert request.url.path == "/api/v25.3/services/jobs/processors/demo/actions/run"
    assert orjson.loads(request.content) == {"parameters": {"items": 3}, "title": "try it"}


def test_unknown_job_is_invalid_data(client: VaultClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.status(999999)
    assert info.value.type == "INVALID_DATA"


def test_status_in_xml_matches_json(make_client, vault: FakeVault) -> None:  # type: ignore[no-untyped-def]
    job_id = vault.add_job(["RUNNING"], progress=[[{"status": "RUNNING", "size": 3}]])
    as_json = make_client().status(job_id)
    vault.clock.advance(10)  # type: ignore[attr-defined]  # a second client: its own gate
    as_xml = make_client(format="xml").status(job_id)
    assert as_json == as_xml
    assert vault.requests[-1].headers["accept"] == "application/xml"
