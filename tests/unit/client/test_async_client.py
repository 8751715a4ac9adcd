from __future__ import annotations

from collections.abc import Callable

import pytest

from vaultjobs.client import AsyncVaultClient, Job, JobFailed, JobStatus, SessionExpired, WaitTimeout
from vaultjobs.client.testing import FakeVault, VirtualTime


def test_async_wait_to_success(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    vault = FakeVault(clock=vtime)
    job_id = vault.add_job(["QUEUED", "RUNNING", "SUCCESS"])

    async def main() -> Job:
        async with make_async_client(vault) as client:
            return await client.wait(job_id)

    assert vtime.run(main).status is JobStatus.SUCCESS
    assert vault.status_calls[job_id] == [1000.0, 1010.0, 1020.0]


@pytest.mark.parametrize("status", ["ERRORS_ENCOUNTERED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"])
def test_async_wait_failure(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient], status: str
) -> None:
    vault = FakeVault(clock=vtime)
    job_id = vault.add_job(["RUNNING", status])

    async def main() -> None:
        async with make_async_client(vault) as client:
            await client.wait(job_id)

    with pytest.raises(JobFailed) as info:
        vtime.run(main)
    assert info.value.job.status == JobStatus(status)


def test_async_wait_timeout(vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]) -> None:
    vault = FakeVault(clock=vtime)
    job_id = vault.add_job(["RUNNING"])

    async def main() -> None:
        async with make_async_client(vault) as client:
            await client.wait(job_id, timeout=25)

    with pytest.raises(WaitTimeout) as info:
        vtime.run(main)
    assert info.value.last is not None and len(vault.status_calls[job_id]) == 3


def test_twenty_jobs_waited_concurrently_do_not_queue(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    import asyncio

    vault = FakeVault(clock=vtime)
    ids = [vault.add_job(["QUEUED", "RUNNING", "RUNNING", "SUCCESS"]) for _ in range(20)]

    async def main() -> list[Job]:
        async with make_async_client(vault) as client:
            return await asyncio.gather(*(client.wait(job_id) for job_id in ids))

    jobs = vtime.run(main)
    assert all(job.status is JobStatus.SUCCESS for job in jobs)
    assert vtime.now == 1030.0  # four polls each, 10 s apart, all jobs side by side
    for job_id in ids:
        assert vault.status_calls[job_id] == [1000.0, 1010.0, 1020.0, 1030.0]
    assert vault.refused_calls == {}
    assert vault.logins == 1  # concurrent first calls share one login


def test_concurrent_waits_on_one_job_share_the_gate(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    import asyncio

    vault = FakeVault(clock=vtime)
    job_id = vault.add_job(["RUNNING"] * 5 + ["SUCCESS"])

    async def main() -> None:
        async with make_async_client(vault) as client:
            await client.login()
            await asyncio.gather(*(client.wait(job_id) for _ in range(3)))

    vtime.run(main)
    calls = vault.status_calls[job_id]
    assert all(b - a >= 10.0 for a, b in zip(calls, calls[1:], strict=False))
    assert vault.refused_calls == {}


def test_async_endpoints(vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]) -> None:
    vault = FakeVault(clock=vtime, page_size=2)
    job_id = vault.add_job(["SCHEDULED"], tasks=[{"id": str(n), "state": "QUEUED"} for n in range(5)])
    done = vault.add_job(["SUCCESS"])

    async def main() -> None:
        async with make_async_client(vault, format="xml") as client:
            assert [t.id for t in [t async for t in client.tasks(job_id)]] == ["0", "1", "2", "3", "4"]
            assert [e.job_id async for e in client.monitors()] == [job_id]
            assert [e.job_id async for e in client.histories()] == [done]
            assert (await client.start_now(job_id)).job_id == job_id
            [outcome] = await client.cancel(done)
            assert not outcome.accepted
            started = await client.run_processor("demo", {"items": 1})
            assert (await client.status(started.job_id)).status is JobStatus.QUEUED
            await client.keep_alive()
            await client.logout()
            assert client.session is None

    vtime.run(main)


def test_async_re_auth_and_session_expired(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    vault = FakeVault(clock=vtime)

    async def main() -> None:
        async with make_async_client(vault) as client:
            await client.login()
            vault.expire_sessions()
            assert [e async for e in client.histories()] == []
        async with make_async_client(vault, session_id="stale") as client:
            with pytest.raises(SessionExpired):
                [e async for e in client.histories()]

    vtime.run(main)
    assert vault.logins == 2
