"""vaultjobs.client against a real ``vaultjobs serve`` (status window 0.5 s)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from vaultjobs.client import (
    AsyncVaultClient,
    AuthenticationFailed,
    InvalidRequest,
    Job,
    JobFailed,
    JobStatus,
    SessionExpired,
    TaskState,
    VaultClient,
)
from vaultjobs.testing import LiveServer

# The server's status window is 0.5 s, so the client may poll that fast (never the default for Vault).
FAST = {"poll_interval": 0.5, "min_poll_interval": 0.5}


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[VaultClient]:
    with VaultClient(
        live_server.url, username="admin", password=live_server.admin_password, **FAST
    ) as client:
        yield client


def demo(client: VaultClient, **parameters: object) -> int:
    return client.run_processor("demo", parameters).job_id


def test_login(client: VaultClient) -> None:
    session = client.login()
    assert session.user_id is not None
    assert client.session == session


def test_wrong_password(live_server: LiveServer) -> None:
    with VaultClient(live_server.url, username="admin", password="not-it") as client:
        with pytest.raises(AuthenticationFailed) as info:
            client.login()
    assert info.value.type == "USERNAME_OR_PASSWORD_INCORRECT"


def test_bad_session_id_alone_is_session_expired(live_server: LiveServer) -> None:
    with VaultClient(live_server.url, session_id="0" * 32, **FAST) as client:
        with pytest.raises(SessionExpired):
            client.status(1)


def test_bad_session_id_with_credentials_logs_in_again(live_server: LiveServer) -> None:
    with VaultClient(
        live_server.url, session_id="0" * 32, username="admin", password=live_server.admin_password, **FAST
    ) as client:
        job_id = demo(client, items=1, item_seconds=0.01)
        assert client.wait(job_id, timeout=30).status is JobStatus.SUCCESS
        assert client.session is not None and client.session.session_id != "0" * 32


def test_demo_waits_to_success_with_progress_and_tasks(client: VaultClient) -> None:
    job_id = demo(client, items=6, chunk_size=2, item_seconds=0.1)
    updates: list[Job] = []
    job = client.wait(job_id, timeout=60, on_update=updates.append)
    assert job.status is JobStatus.SUCCESS and job.id == job_id
    assert job.progress is not None and job.progress.count(TaskState.SUCCESS) == 3
    assert job.run_end_date is not None and job.run_end_date.tzinfo is not None
    self_link = job.link("self")
    assert self_link is not None and self_link.href.endswith(f"/services/jobs/{job_id}")
    assert updates[-1] == job
    tasks = list(client.tasks(job_id, page_size=2))
    assert len(tasks) == 3 and all(task.state is TaskState.SUCCESS for task in tasks)
    assert job.rate_limit is not None and job.rate_limit.execution_id


def test_demo_with_failing_items_ends_errors_encountered(client: VaultClient) -> None:
    job_id = demo(client, items=4, chunk_size=2, item_seconds=0.01, fail_items=[3])
    with pytest.raises(JobFailed) as info:
        client.wait(job_id, timeout=60)
    assert info.value.job.status is JobStatus.ERRORS_ENCOUNTERED
    assert info.value.exit_code == 10
    states = sorted(task.state.value for task in client.tasks(job_id))
    assert states == ["ERRORS_ENCOUNTERED", "SUCCESS"]


def test_xml_reads_the_same_job(live_server: LiveServer, client: VaultClient) -> None:
    job_id = demo(client, items=2, chunk_size=1, item_seconds=0.01)
    as_json = client.wait(job_id, timeout=30)
    with VaultClient(
        live_server.url, username="admin", password=live_server.admin_password, format="xml", **FAST
    ) as xml_client:
        as_xml = xml_client.wait(job_id, timeout=30)
        assert [t.id for t in xml_client.tasks(job_id)] == [t.id for t in client.tasks(job_id)]
    assert as_xml == as_json


def test_unknown_job(client: VaultClient) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.status(987654321)
    assert info.value.type == "INVALID_DATA"


def test_status_calls_keep_to_the_window_without_refusals(client: VaultClient) -> None:
    job_id = demo(client, items=1, item_seconds=0.01)
    client.login()
    answered = []
    for _ in range(4):
        client.status(job_id)  # waits for its slot; would raise RateLimited if the server refused it
        answered.append(time.monotonic())
    gaps = [b - a for a, b in zip(answered, answered[1:], strict=False)]
    assert all(gap >= 0.45 for gap in gaps), gaps


def test_another_pollers_window_is_waited_out_transparently(
    live_server: LiveServer, client: VaultClient
) -> None:
    job_id = demo(client, items=2, chunk_size=1, item_seconds=0.3)
    token = live_server.login()
    with live_server.client(headers={"Authorization": token}) as http:
        assert http.get(f"/api/v26.1/services/jobs/{job_id}").json()["responseStatus"] == "SUCCESS"
    # The client knows nothing of that call; the server refuses its first one, with Retry-After.
    assert client.wait(job_id, timeout=30).status is JobStatus.SUCCESS


def test_twenty_jobs_waited_on_concurrently_from_threads(client: VaultClient) -> None:
    ids = [demo(client, items=2, chunk_size=1, item_seconds=0.3) for _ in range(20)]
    first_seen: dict[int, float] = {}
    lock = threading.Lock()

    def wait(job_id: int) -> Job:
        def seen(job: Job) -> None:
            with lock:
                first_seen.setdefault(job.id, time.monotonic())

        return client.wait(job_id, timeout=120, on_update=seen)

    with ThreadPoolExecutor(max_workers=20) as pool:
        jobs = list(pool.map(wait, ids))
    assert [job.status for job in jobs] == [JobStatus.SUCCESS] * 20
    # No queueing behind each other: all 20 first statuses came within about one window, where a
    # client-wide limiter would have spread them over 20 windows (10 s).
    assert max(first_seen.values()) - min(first_seen.values()) < 2.0


def test_twenty_jobs_waited_on_concurrently_with_asyncio(live_server: LiveServer) -> None:
    async def main() -> list[Job]:
        async with AsyncVaultClient(
            live_server.url, username="admin", password=live_server.admin_password, **FAST
        ) as client:
            started = [
                await client.run_processor("demo", {"items": 2, "chunk_size": 1, "item_seconds": 0.3})
                for _ in range(20)
            ]
            return await asyncio.gather(*(client.wait(s.job_id, timeout=120) for s in started))

    jobs = asyncio.run(main())
    assert all(job.status is JobStatus.SUCCESS for job in jobs)


def test_timeouts_are_short_by_default(live_server: LiveServer) -> None:
    with VaultClient(live_server.url, username="admin", password=live_server.admin_password) as client:
        assert client._http.timeout == httpx.Timeout(30.0, connect=5.0)
