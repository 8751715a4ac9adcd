"""Vault's burst limit: its headers on every API answer, answers delayed past it (not refused), a new
window starting afresh, and one count shared by every node of a cluster."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from vaultjobs.api.burst import BurstLimit
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock, V, execute

from .conftest import AppServerFactory


def test_past_the_limit_answers_are_delayed_until_the_window_ends(
    app_server_factory: AppServerFactory, tmp_path: Path
) -> None:
    clock = ManualClock()
    with app_server_factory(tmp_path, clock=clock, burst_limit=5, burst_window=300, burst_delay=0.2) as server:
        token = server.login()  # the first request of the window
        with server.client(headers={"Authorization": token}) as http:
            remaining = []
            for _ in range(4):
                response = http.get(f"/api/{V}/objects/users/me")
                assert response.headers["X-VaultAPI-BurstLimit"] == "5"
                assert "X-VaultAPI-ResponseDelay" not in response.headers
                remaining.append(int(response.headers["X-VaultAPI-BurstLimitRemaining"]))
            assert remaining == [3, 2, 1, 0]
            started = time.monotonic()
            late = http.get(f"/api/{V}/objects/users/me")
            assert time.monotonic() - started >= 0.2  # held back, not refused
            assert late.json()["responseStatus"] == "SUCCESS"
            assert (late.headers["X-VaultAPI-BurstLimitRemaining"], late.headers["X-VaultAPI-ResponseDelay"]) == (
                "0", "200")
            failed = http.get(f"/api/{V}/services/jobs/999999")  # a failure counts and carries them too
            assert failed.headers["X-VaultAPI-BurstLimitRemaining"] == "0"
            clock.advance(300)
            fresh = http.get(f"/api/{V}/objects/users/me")
            assert fresh.headers["X-VaultAPI-BurstLimitRemaining"] == "4"
            assert "X-VaultAPI-ResponseDelay" not in fresh.headers


def test_every_node_counts_against_one_limit(store: Store, clock: ManualClock) -> None:
    a = BurstLimit(store, clock, limit=10, window=300, delay=0.1, sync_interval=3600)
    b = BurstLimit(store, clock, limit=10, window=300, delay=0.1, sync_interval=3600)
    for _ in range(6):
        a.count()
    a.sync()
    assert b.count().remaining == 9  # B has not heard of A yet
    b.sync()  # adds its one, reads A's six back
    assert b.count().remaining == 2
    for _ in range(2):
        b.count()
    assert b.count().delay == 0.1  # eleventh of the cluster: past the limit
    a.close()
    b.close()


def test_a_reset_forgets_the_counts_and_no_share_under_way_lands_after_it(store: Store, clock: ManualClock) -> None:
    """The control plane's reset empties the shared counts: what a node counted before or during it
    must not come back, neither unshared nor from a share that was being written when it came."""
    burst = BurstLimit(store, clock, limit=10, window=300, delay=0.1, sync_interval=3600)
    adding, release = threading.Event(), threading.Event()
    add = store.bursts.add

    def slow_add(*args: Any) -> int:
        adding.set()
        release.wait(10)
        return add(*args)

    store.bursts.add = slow_add  # type: ignore[method-assign]
    for _ in range(3):
        burst.count()
    sharing = threading.Thread(target=burst.sync)
    sharing.start()
    assert adding.wait(10)
    entered = threading.Event()
    leave = threading.Event()

    def reset() -> None:
        with burst.forgetting():
            entered.set()
            execute(store, "DELETE FROM burst_windows")  # the reset's wipe
            leave.wait(10)

    resetting = threading.Thread(target=reset)
    resetting.start()
    assert not entered.wait(0.2)  # the reset waits for the share under way …
    release.set()
    assert entered.wait(10)
    sharing.join(10)
    burst.count()  # a request during the reset …
    waiting = threading.Thread(target=burst.sync)
    waiting.start()
    waiting.join(0.2)
    assert waiting.is_alive()  # … is not shared while it runs …
    leave.set()
    resetting.join(10)
    waiting.join(10)
    burst.sync()
    assert execute(store, "SELECT count(*) FROM burst_windows") == [(0,)]  # … nor after: forgotten with the rest
    burst.count()  # a request after the reset counts from nothing
    burst.sync()
    assert execute(store, "SELECT requests FROM burst_windows") == [(1,)]
    assert burst.count().remaining == 8
    burst.close()
