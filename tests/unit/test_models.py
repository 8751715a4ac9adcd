"""The records hold timezone-aware datetimes only, in UTC or any other zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from vaultjobs.models import Job
from vaultjobs.status import JobStatus


def a_job(created_at: datetime) -> Job:
    return Job(id=1, processor="demo", title=None, parameters={}, status=JobStatus.QUEUED, method="POST",
               scheduled=False, created_by=1, created_at=created_at, modified_by=1,
               modified_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_record_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="Job.created_at must be timezone-aware"):
        a_job(datetime(2026, 1, 1))


def test_a_record_takes_a_datetime_of_any_zone() -> None:
    berlin = datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert a_job(berlin).created_at == berlin
    assert a_job(datetime(2026, 1, 1, tzinfo=UTC)).created_at.tzinfo is UTC
