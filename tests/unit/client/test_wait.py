from __future__ import annotations

from collections.abc import Callable

import pytest

from vaultjobs.client import Job, JobFailed, JobStatus, VaultClient, WaitTimeout
from vaultjobs.client.testing import FakeClock, FakeVault

# Every failing terminal status ends the wait with JobFailed and a distinct CLI exit code.
FAILURES = [
    ("ERRORS_ENCOUNTERED", 10),
    ("CANCELLED", 11),
    ("TIMEOUT", 12),  # the status existing pollers loop on forever
    ("COMPLETED_DUE_TO_INACTIVITY", 13),  # likewise
    ("MISSED_SCHEDULE", 14),
    ("FAILED_TO_RUN", 15),
]


def test_wait_returns_the_job_on_success(client: VaultClient, vault: FakeVault, clock: FakeClock) -> None:
    job_id = vault.add_job(["QUEUED", "RUNNING", "RUNNING", "SUCCESS"])
    job = client.wait(job_id)
    assert job.status is JobStatus.SUCCESS and job.id == job_id
    assert vault.status_calls[job_id] == [1000.0, 1010.0, 1020.0, 1030.0]
    assert clock.sleeps == [10.0, 10.0, 10.0]


@pytest.mark.parametrize(("status", "exit_code"), FAILURES)
def test_wait_ends_on_every_failing_terminal_status(
    client: VaultClient, vault: FakeVault, status: str, exit_code: int
) -> None:
    job_id = vault.add_job(["QUEUED", "RUNNING", status, "RUNNING"])
    with pytest.raises(JobFailed) as info:
        client.wait(job_id)
    assert info.value.job.status == JobStatus(status)
    assert info.value.exit_code == exit_code
    assert len(vault.status_calls[job_id]) == 3  # stopped at the terminal status


def test_wait_ends_at_once_on_an_already_terminal_job(
    client: VaultClient, vault: FakeVault, clock: FakeClock
) -> None:
    job_id = vault.add_job(["CANCELLED"])
    with pytest.raises(JobFailed):
        client.wait(job_id)
    assert clock.sleeps == []


def test_wait_times_out_on_the_deadline_with_the_last_status(
    client: VaultClient, vault: FakeVault, clock: FakeClock
) -> None:
    job_id = vault.add_job(["QUEUED", "RUNNING"])
    with pytest.raises(WaitTimeout) as info:
        client.wait(job_id, timeout=35)
    assert info.value.last is not None and info.value.last.status is JobStatus.RUNNING
    assert vault.status_calls[job_id] == [1000.0, 1010.0, 1020.0, 1030.0]
    assert clock() == 1030.0  # does not sleep past the deadline for a call it will not make
    assert info.value.exit_code == 3


def test_wait_timeout_before_any_status(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING"])
    client.status(job_id)
    with pytest.raises(WaitTimeout) as info:
        client.wait(job_id, timeout=5)
    assert info.value.last is None
    assert "no status seen" in str(info.value)


def test_unknown_status_is_waited_through_until_the_deadline(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["BRAND_NEW_STATUS"])
    with pytest.raises(WaitTimeout) as info:
        client.wait(job_id, timeout=100)
    assert info.value.last is not None and info.value.last.status.raw == "BRAND_NEW_STATUS"


@pytest.mark.parametrize(
    ("request_seconds", "sleeps", "arrivals"),
    [
        # Quicker than the margin: the cadence counts from each call's start, calls arrive 10.1 s apart.
        (0.05, [10.05, 10.05], [1000.1, 1010.2, 1020.3]),
        # Slower: the server may open its window at the answer's very end, so the wait counts from there.
        (0.3, [10.0, 10.0], [1000.6, 1010.9, 1021.2]),
    ],
)
def test_wait_cadence_subtracts_request_time_within_the_margin(
    make_client: Callable[..., VaultClient], vault: FakeVault, clock: FakeClock,
    request_seconds: float, sleeps: list[float], arrivals: list[float],
) -> None:
    def timed(request):  # type: ignore[no-untyped-def]
        clock.advance(request_seconds)
        return vault.handle(request)

    import httpx

    client = make_client(transport=httpx.MockTransport(timed), poll_margin=0.1)
    job_id = vault.add_job(["RUNNING", "RUNNING", "SUCCESS"])
    client.wait(job_id)  # logs in first, then polls
    assert clock.sleeps == pytest.approx(sleeps)
    assert vault.status_calls[job_id] == pytest.approx(arrivals)
    assert job_id not in vault.refused_calls


def test_wait_calls_on_update_with_every_status(client: VaultClient, vault: FakeVault) -> None:
    progress = [
        [{"status": "QUEUED", "size": 4}],
        [{"status": "SUCCESS", "size": 1}, {"status": "RUNNING", "size": 1}, {"status": "QUEUED", "size": 2}],
        [{"status": "SUCCESS", "size": 4}],
    ]
    job_id = vault.add_job(["QUEUED", "RUNNING", "SUCCESS"], progress=progress)
    seen: list[Job] = []
    client.wait(job_id, on_update=seen.append)
    assert [j.status for j in seen] == [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCESS]
    assert [(j.progress.done, j.progress.total) for j in seen if j.progress] == [(0, 4), (1, 4), (4, 4)]


def test_wait_retries_api_limit_exceeded_without_retry_after_after_a_full_window(
    client: VaultClient, vault: FakeVault
) -> None:
    client.login()
    job_id = vault.add_job(["RUNNING", "SUCCESS"])
    vault.fail_next("API_LIMIT_EXCEEDED")  # as Vault does: HTTP 200, no Retry-After
    assert client.wait(job_id).status is JobStatus.SUCCESS
    assert vault.status_calls[job_id] == [1010.0, 1020.0]


def test_wait_honours_retry_after(make_client: Callable[..., VaultClient], clock: FakeClock) -> None:
    vault = FakeVault(clock=clock, send_retry_after=True)
    other = make_client(transport=vault.transport())
    client = make_client(transport=vault.transport())  # its own gate: it does not know about `other`
    job_id = vault.add_job(["RUNNING", "RUNNING", "SUCCESS"])
    other.status(job_id)
    clock.advance(6.2)
    assert client.wait(job_id).status is JobStatus.SUCCESS
    assert vault.refused_calls[job_id] == [1006.2]
    assert vault.status_calls[job_id] == [1000.0, 1010.2, 1020.2]  # Retry-After: 4 (ceil of 3.8)


def test_wait_retries_a_429(client: VaultClient, vault: FakeVault) -> None:
    client.login()
    job_id = vault.add_job(["SUCCESS"])
    vault.fail_next("API_LIMIT_EXCEEDED", http_status=429, headers={"Retry-After": "2"})
    assert client.wait(job_id).status is JobStatus.SUCCESS
    assert vault.status_calls[job_id] == [1002.0]


def test_wait_never_exceeds_one_call_per_window_under_refusals(
    make_client: Callable[..., VaultClient], clock: FakeClock
) -> None:
    vault = FakeVault(clock=clock)
    client = make_client(transport=vault.transport())
    client.login()
    job_id = vault.add_job(["RUNNING"] * 5 + ["SUCCESS"])
    for _ in range(3):
        vault.fail_next("API_LIMIT_EXCEEDED")
    client.wait(job_id)
    calls = sorted(vault.status_calls[job_id])
    assert all(b - a >= 10.0 for a, b in zip(calls, calls[1:], strict=False))


def test_wait_survives_session_expiry(client: VaultClient, vault: FakeVault) -> None:
    job_id = vault.add_job(["RUNNING", "RUNNING", "SUCCESS"])
    seen: list[Job] = []

    def expire(job: Job) -> None:
        seen.append(job)
        vault.expire_sessions()

    assert client.wait(job_id, on_update=expire).status is JobStatus.SUCCESS
    assert vault.logins == 3


def test_wait_rejects_bad_job_ids(client: VaultClient) -> None:
    for bad in (0, -3, True):
        with pytest.raises(ValueError):
            client.wait(bad)


def test_wait_with_a_short_window_for_vaultjobs(
    make_client: Callable[..., VaultClient], clock: FakeClock
) -> None:
    vault = FakeVault(clock=clock, status_window=0.5)
    client = make_client(transport=vault.transport(), poll_interval=0.5, min_poll_interval=0.5)
    job_id = vault.add_job(["RUNNING", "SUCCESS"])
    client.wait(job_id)
    assert vault.status_calls[job_id] == [1000.0, 1000.5]
