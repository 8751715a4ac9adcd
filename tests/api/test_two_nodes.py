"""Two nodes on one store (one SQLite file, or one PostgreSQL database), each keeping the sessions it
checked in memory: what one node does to a session, a user, a job or a status window holds at once
on the other."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.status import JobStatus
from vaultjobs.store import NewJob
from vaultjobs.testing import ManualClock, V

from .conftest import AppServer, AppServerFactory

WINDOW = 1.5
NodePair = tuple[AppServer, AppServer, ManualClock]


@pytest.fixture
def nodes(app_server_factory: AppServerFactory, tmp_path: Path) -> Iterator[NodePair]:
    """Node A runs workers; node B only answers. On SQLite both use A's folder (one database file)."""
    clock = ManualClock()
    a = app_server_factory(tmp_path / "a", clock=clock, status_window=WINDOW, workers=0)
    url = a.settings.database_url
    b = AppServer(tmp_path / ("a" if not url else "b"), clock=clock, database_url=url, status_window=WINDOW,
                  workers=0)
    with a, b:
        yield a, b, clock


def get(node: AppServer, token: str, path: str) -> dict[str, Any]:
    with node.client(headers={"Authorization": token, "Accept": "application/json"}) as http:
        body: dict[str, Any] = http.get(f"/api/{V}{path}").json()
    return body


def outcome(body: dict[str, Any]) -> str:
    return "SUCCESS" if body["responseStatus"] == "SUCCESS" else str(body["errors"][0]["type"])


def queued_job(node: AppServer, clock: ManualClock, username: str = "admin") -> int:
    """A job that stays QUEUED: neither node runs workers."""
    store = node.running.store
    user = store.users.get_user_by_name(username)
    assert user is not None
    return store.jobs.create_job(NewJob(processor="demo", parameters={"items": 1}, created_by=user.id),
                                 clock.now()).id


def start(node: AppServer, token: str, items: int = 1) -> dict[str, Any]:
    with node.client(headers={"Authorization": token, "Accept": "application/json"}) as http:
        body: dict[str, Any] = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                                         json={"parameters": {"items": items}}).json()
    return body


def cached_on(node: AppServer, token: str) -> bool:
    return node.running.accounts.cached_session(token) is not None


def refused_at_once(
    a: AppServer, b: AppServer, clock: ManualClock, token: str, end: Callable[[], None]
) -> None:
    """``token`` works on B (status, a job start and another endpoint) and B has it in its cache; after
    ``end`` runs on A, B refuses it on the very next request of any kind, and starts no job."""
    job_id = queued_job(a, clock)
    assert outcome(get(b, token, f"/services/jobs/{job_id}")) == "SUCCESS"
    assert outcome(start(b, token)) == "SUCCESS"
    assert outcome(get(b, token, "/objects/users/me")) == "SUCCESS"
    assert cached_on(b, token)
    jobs_before = len(a.running.store.jobs.get_jobs(list(range(1, job_id + 10))))
    end()
    assert outcome(start(b, token)) == "INVALID_SESSION_ID"  # before B's cache would have let it go
    assert outcome(start(b, token, items=-1)) == "INVALID_SESSION_ID"  # the session first, then the body
    clock.advance(WINDOW + 0.1)  # the job's window is open again: only the session can refuse
    assert outcome(get(b, token, f"/services/jobs/{job_id}")) == "INVALID_SESSION_ID"
    assert outcome(get(b, token, "/objects/users/me")) == "INVALID_SESSION_ID"
    assert len(a.running.store.jobs.get_jobs(list(range(1, job_id + 10)))) == jobs_before


def test_a_logout_on_one_node_is_refused_at_once_on_the_other(nodes: NodePair) -> None:
    a, b, clock = nodes
    token = a.login()

    def logout() -> None:
        with a.client(headers={"Authorization": token}) as http:
            assert http.delete(f"/api/{V}/session").json()["responseStatus"] == "SUCCESS"

    refused_at_once(a, b, clock, token, logout)


def test_a_deactivation_on_one_node_is_refused_at_once_on_the_other(nodes: NodePair) -> None:
    a, b, clock = nodes
    a.add_user("ann", "ann-password-1", admin=True)
    token = a.login("ann", "ann-password-1")
    refused_at_once(a, b, clock, token, lambda: a.deactivate_user("ann"))


def test_a_password_change_on_one_node_is_refused_at_once_on_the_other(nodes: NodePair) -> None:
    a, b, clock = nodes
    a.add_user("bob", "bob-password-1", admin=True)
    token = a.login("bob", "bob-password-1")

    def change_password() -> None:
        user = a.running.store.users.get_user_by_name("bob")
        assert user is not None
        a.running.accounts.set_password(user, "bob-password-2")

    refused_at_once(a, b, clock, token, change_password)


def test_a_cached_session_still_follows_other_sessions_ending(nodes: NodePair) -> None:
    """Another session's logout moves the epoch too: B checks its own session again, which stays valid."""
    a, b, clock = nodes
    mine, other = a.login(), a.login()
    job_id = queued_job(a, clock)
    assert outcome(get(b, mine, f"/services/jobs/{job_id}")) == "SUCCESS"
    with a.client(headers={"Authorization": other}) as http:
        http.delete(f"/api/{V}/session")
    clock.advance(WINDOW + 0.1)
    assert outcome(get(b, mine, f"/services/jobs/{job_id}")) == "SUCCESS"
    assert outcome(get(b, other, f"/services/jobs/{job_id}")) == "INVALID_SESSION_ID"


def test_a_job_started_on_one_node_wakes_the_other_at_once(nodes: NodePair, backend: str) -> None:
    """The start's own transaction sends the NOTIFY (PostgreSQL): every node hears of it on commit."""
    if backend == "sqlite":
        pytest.skip("SQLite has no NOTIFY: other processes on the file poll")
    a, b, _ = nodes
    token = b.login()
    assert outcome(get(b, token, "/objects/users/me")) == "SUCCESS"  # B has the session cached
    heard = False
    deadline = time.monotonic() + 15
    while not heard and time.monotonic() < deadline:  # A's listener connects in a thread of its own
        seen = a.running.engine.wakeup.generation()
        assert outcome(start(b, token)) == "SUCCESS"
        waited = time.monotonic() + 0.5
        while not (heard := a.running.engine.wakeup.generation() != seen) and time.monotonic() < waited:
            time.sleep(0.01)
    assert heard


def test_a_status_is_never_older_than_its_last_committed_change(nodes: NodePair) -> None:
    a, b, clock = nodes
    token = a.login()
    job_id = queued_job(a, clock)
    assert get(b, token, f"/services/jobs/{job_id}")["data"]["status"] == "QUEUED"
    with a.client(headers={"Authorization": token}) as http:
        cancelled = http.post(f"/api/{V}/services/jobs/actions/cancel", json=[{"job_id": job_id}]).json()
    assert cancelled["data"][0]["responseStatus"] == "SUCCESS", cancelled
    clock.advance(WINDOW + 0.1)
    assert get(b, token, f"/services/jobs/{job_id}")["data"]["status"] == JobStatus.CANCELLED.value


def test_a_window_opened_on_one_node_refuses_on_the_other(nodes: NodePair) -> None:
    a, b, clock = nodes
    token = a.login()
    job_id = queued_job(a, clock)
    assert outcome(get(a, token, f"/services/jobs/{job_id}")) == "SUCCESS"
    assert outcome(get(b, token, f"/services/jobs/{job_id}")) == "API_LIMIT_EXCEEDED"
    clock.advance(WINDOW + 0.1)
    assert outcome(get(b, token, f"/services/jobs/{job_id}")) == "SUCCESS"
    assert outcome(get(a, token, f"/services/jobs/{job_id}")) == "API_LIMIT_EXCEEDED"


def test_concurrent_pollers_on_both_nodes_get_one_success_per_window(nodes: NodePair) -> None:
    a, b, clock = nodes
    tokens = [a.login(), b.login()]
    job_id = queued_job(a, clock)
    for tok, node in zip(tokens, (a, b), strict=True):  # warm each node's session cache
        assert outcome(get(node, tok, "/objects/users/me")) == "SUCCESS"
    for window in range(3):
        barrier = threading.Barrier(20)
        outcomes: list[str] = []

        def poll(n: int, barrier: threading.Barrier = barrier, outcomes: list[str] = outcomes) -> None:
            node = (a, b)[n % 2]
            with node.client(headers={"Authorization": tokens[n % 2]}) as http:
                barrier.wait()
                response: httpx.Response = http.get(f"/api/{V}/services/jobs/{job_id}")
            outcomes.append(outcome(response.json()))

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Counter(outcomes) == {"SUCCESS": 1, "API_LIMIT_EXCEEDED": 19}, f"window {window}"
        clock.advance(WINDOW + 0.1)
