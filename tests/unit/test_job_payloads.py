"""Retrieve Job Status's ``data``: its dates to the millisecond in the right zone, and the whole job read
only for the result links of its job type. (That the API's facts from a store row are the page's facts
of the whole job: ``test_the_status_read_shows_what_the_whole_job_holds`` in test_store_batches.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vaultjobs.api.job_payloads import job_status_data, status_data
from vaultjobs.api.routes import result_links
from vaultjobs.models import Job, StatusFacts, User
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.timeutil import render_datetime

CREATED = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)  # a summer-time change in Europe
STARTED = datetime(2026, 3, 29, 1, 0, 0, 123_456, tzinfo=UTC)


def a_job(**changes: object) -> Job:
    job = Job(id=7, processor="demo", title=None, parameters={}, status=JobStatus.SUCCESS, method="POST",
              scheduled=False, created_by=3, created_at=CREATED, modified_by=3, modified_at=STARTED,
              run_start=STARTED, run_end=STARTED)
    return job.evolve(**changes)


def viewer(timezone: str) -> User:
    return User(id=3, username="ann", timezone=timezone, is_admin=False, active=True, created_at=CREATED,
                password_changed_at=CREATED)


@pytest.mark.parametrize("scheduled", [False, True])
def test_dates_render_as_the_datetimes_do_to_the_millisecond(scheduled: bool) -> None:
    """Below a millisecond is dropped, not rounded; a scheduled job's dates are in the viewer's zone."""
    job, user = a_job(scheduled=scheduled), viewer("Europe/Berlin")
    data = job_status_data(job, {TaskState.SUCCESS: 2}, "v26.1", user)
    zone = "Europe/Berlin" if scheduled else None
    assert data["created_date"] == render_datetime(CREATED, zone)
    assert data["run_start_date"] == data["run_end_date"] == render_datetime(STARTED, zone)
    assert data["created_date"] == ("2026-03-29T01:59:59.999+01:00" if scheduled else "2026-03-29T00:59:59.999Z")
    assert data["run_start_date"] == ("2026-03-29T03:00:00.123+02:00" if scheduled else "2026-03-29T01:00:00.123Z")


def test_the_whole_job_is_read_only_for_the_result_links_of_its_job_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(result_links._LINKS, "exporter", lambda job, version: [
        result_links.link("artifacts", f"/api/{version}/artifacts/{job.parameters['name']}")])
    asked: list[Job] = []

    def status_of(job: Job) -> list[str]:
        def whole() -> Job:
            asked.append(job)
            return job
        data = status_data(StatusFacts.of(job), {}, "v26.1", viewer("UTC"), whole)
        return [link["href"] for link in data["links"]]

    assert status_of(a_job(status=JobStatus.RUNNING, run_end=None)) == ["/api/v26.1/services/jobs/7"]
    assert len(status_of(a_job())) == 2  # self and log: demo has no result links
    assert status_of(a_job(processor="exporter", status=JobStatus.CANCELLED)) == [
        "/api/v26.1/services/jobs/7", "/api/v26.1/services/jobs/7/log"]
    assert asked == []
    exported = a_job(processor="exporter", parameters={"name": "q3"})
    assert status_of(exported) == [
        "/api/v26.1/services/jobs/7", "/api/v26.1/artifacts/q3", "/api/v26.1/services/jobs/7/log"]
    assert asked == [exported]
