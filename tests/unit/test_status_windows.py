"""Status windows at the store: exact across connections (two stores on one database stand for two
nodes), and, where one statement reads the job and opens its window, opened only for a current
session epoch and a viewer who may see the job."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.store import NewJob, SqliteStore, Store
from vaultjobs.store.status_windows import Viewer
from vaultjobs.testing import ManualClock


@pytest.fixture
def second(store: Store, tmp_path: Path) -> Iterator[Store]:
    """Another store on the same database, as another node would open it."""
    other: Store
    if isinstance(store, SqliteStore):
        other = SqliteStore(store.path)
    else:
        from vaultjobs.store.postgres import PostgresStore

        other = PostgresStore(store.url, pool_size=12)  # type: ignore[attr-defined]
    yield other
    other.close()


def job_of(store: Store, clock: ManualClock, *, admin: bool = False, name: str = "alice") -> tuple[int, int]:
    user = store.users.create_user(username=name, password_hash="x", timezone="UTC", is_admin=admin, now=clock.now())
    job = store.jobs.create_job(NewJob(processor="demo", parameters={}, created_by=user.id), clock.now())
    return user.id, job.id


def test_pollers_on_two_nodes_get_one_success_per_window(store: Store, second: Store, clock: ManualClock) -> None:
    for window in range(3):
        barrier = threading.Barrier(20)
        results: list[float | None] = []

        def poll(n: int, barrier: threading.Barrier = barrier, results: list[float | None] = results) -> None:
            barrier.wait()
            results.append((store, second)[n % 2].status_windows.open(7, clock.now(), 10))

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(None) == 1, f"window {window}"
        assert all(r is None or 0 < r <= 10 for r in results)
        clock.advance(10)


def test_a_window_opened_on_one_node_refuses_on_the_other(store: Store, second: Store, clock: ManualClock) -> None:
    assert store.status_windows.open(3, clock.now(), 10) is None
    clock.advance(4)
    assert second.status_windows.open(3, clock.now(), 10) == pytest.approx(6)
    clock.advance(6)
    assert second.status_windows.open(3, clock.now(), 10) is None


def fused(store: Store) -> None:
    if store.status_windows.poll(1, ManualClock().now(), 10, Viewer(1, True, 0)) is None:
        pytest.skip("the windows of this store live apart from its jobs: read and window take two statements")


def test_poll_reads_the_job_and_opens_its_window(store: Store, clock: ManualClock) -> None:
    fused(store)
    user, job_id = job_of(store, clock)
    epoch = store.users.session_epoch()
    first = store.status_windows.poll(job_id, clock.now(), 10, Viewer(user, False, epoch))
    assert first is not None and first.wait is None
    assert first.read.job is not None and first.read.job.id == job_id and first.read.session_epoch == epoch
    clock.advance(3)
    again = store.status_windows.poll(job_id, clock.now(), 10, Viewer(user, False, epoch))
    assert again is not None and again.wait == pytest.approx(7)
    # the window did not move: it opens 10 s after the first poll
    assert store.status_windows.open(job_id, clock.now(), 10) == pytest.approx(7)


def test_poll_opens_no_window_for_a_stale_session_epoch(store: Store, clock: ManualClock) -> None:
    fused(store)
    user, job_id = job_of(store, clock)
    epoch = store.users.session_epoch()
    store.users.create_session(b"gone", user, clock.now())
    store.users.delete_session(b"gone")  # moves the epoch
    stale = store.status_windows.poll(job_id, clock.now(), 10, Viewer(user, False, epoch))
    assert stale is not None and stale.read.session_epoch == epoch + 1
    assert store.status_windows.open(job_id, clock.now(), 10) is None  # still unopened


def test_poll_opens_no_window_for_a_job_the_viewer_may_not_see(store: Store, clock: ManualClock) -> None:
    fused(store)
    _, job_id = job_of(store, clock)
    other, _ = job_of(store, clock, name="bob")
    epoch = store.users.session_epoch()
    denied = store.status_windows.poll(job_id, clock.now(), 10, Viewer(other, False, epoch))
    assert denied is not None and denied.read.job is not None
    assert store.status_windows.open(job_id, clock.now(), 10) is None  # still unopened
    clock.advance(10)
    admin, _ = job_of(store, clock, admin=True, name="root")
    seen = store.status_windows.poll(job_id, clock.now(), 10, Viewer(admin, True, epoch))
    assert seen is not None and seen.wait is None


def test_poll_of_an_unknown_job_opens_nothing(store: Store, clock: ManualClock) -> None:
    fused(store)
    polled = store.status_windows.poll(999, clock.now(), 10, Viewer(1, True, store.users.session_epoch()))
    assert polled is not None and polled.read.job is None
    assert store.status_windows.open(999, clock.now(), 10) is None


def test_polls_awaited_together_share_round_trips_and_get_one_success_per_window(
    store: Store, second: Store, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fused(store)
    user, job_id = job_of(store, clock)
    stranger, other_job = job_of(store, clock, name="bob")
    epoch = store.users.session_epoch()
    batches: list[int] = []
    for windows in (store.status_windows, second.status_windows):
        run = windows._poll_many  # type: ignore[attr-defined]
        monkeypatch.setattr(windows, "_poll_many", lambda polls, run=run: batches.append(len(polls)) or run(polls))

    async def at_once() -> list[Any]:
        asks = [(w, job_id, user) for w in (store, second) for _ in range(10)]
        asks += [(store, other_job, stranger)] * 5 + [(second, job_id, stranger)]  # bob may not see job_id
        return await asyncio.gather(*(
            w.status_windows.poll_async(job, clock.now(), 10, Viewer(who, False, epoch)) for w, job, who in asks
        ))

    results = asyncio.run(at_once())
    mine, bobs, denied = results[:20], results[20:25], results[25]
    assert [r.wait is None for r in mine].count(True) == 1
    assert all(r.wait == pytest.approx(10) for r in mine if r.wait is not None)
    assert [r.wait is None for r in bobs].count(True) == 1
    assert denied.read.job is not None and denied.read.job.created_by == user  # read, for the access check
    assert sum(batches) == 26 and len(batches) < 26  # several polls went in one round trip
