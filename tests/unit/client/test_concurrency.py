"""What the blocking test interface cannot show: many threads or asyncio tasks sharing one client,
and async iterators that fetch a page only when it is read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from vaultjobs.client import AsyncVaultClient, Job, JobStatus, VaultClient
from vaultjobs.client.testing import FakeVault, VirtualTime


def test_twenty_jobs_waited_concurrently_do_not_queue(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
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


def test_concurrent_tasks_after_a_session_expiry_log_in_again_once(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    vault = FakeVault(clock=vtime)

    async def main() -> None:
        async with make_async_client(vault) as client:
            await client.login()
            vault.expire_sessions()
            await asyncio.gather(*(client.keep_alive() for _ in range(5)))

    vtime.run(main)
    assert vault.logins == 2


def test_threads_sharing_a_client_log_in_once(vault: FakeVault) -> None:
    entered = threading.Barrier(8)

    def slow_vault(request):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/auth"):
            threading.Event().wait(0.05)  # the other threads arrive while the login is on its way
        return vault.handle(request)

    import httpx

    with VaultClient("https://fake.vault", username="user", password="pass",
                     transport=httpx.MockTransport(slow_vault)) as client:  # fmt: skip

        def call() -> None:
            entered.wait()
            client.keep_alive()

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert vault.logins == 1
    assert len(vault.requests) == 9


def test_async_iterators_fetch_a_page_only_when_it_is_read(
    vtime: VirtualTime, make_async_client: Callable[..., AsyncVaultClient]
) -> None:
    vault = FakeVault(clock=vtime, page_size=2)
    job_id = vault.add_job(["RUNNING"], tasks=[{"id": str(n), "state": "QUEUED"} for n in range(5)])

    async def main() -> list[str]:
        async with make_async_client(vault, session_id=vault.new_session()) as client:
            ids = []
            async for task in client.tasks(job_id):
                ids.append(task.id)
                if len(ids) == 3:
                    break
            return ids

    assert vtime.run(main) == ["0", "1", "2"]
    assert len(vault.requests) == 2  # two pages of two; the third was never asked for
