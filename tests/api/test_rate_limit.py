"""The job-status window holds under concurrency: 20 pollers of one job, one success per window."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from vaultjobs.testing import ManualClock, V, run_demo

from .conftest import AppServer, AppServerFactory


def test_twenty_concurrent_pollers_get_one_success_per_window(
    app_server_factory: AppServerFactory, tmp_path: Path
) -> None:
    clock = ManualClock()
    with app_server_factory(tmp_path, clock=clock, status_window=1.5, workers=1) as server:
        twenty_pollers(server, clock)


def twenty_pollers(server: AppServer, clock: ManualClock) -> None:
    tokens = [server.login() for _ in range(4)]  # several sessions share one job's window
    with server.client() as http:
        job_id = run_demo(http, tokens[0], items=1, item_seconds=0)

    for window in range(3):
        barrier = threading.Barrier(20)
        outcomes: list[str] = []
        retry_afters: list[int] = []
        lock = threading.Lock()

        def poll(
            n: int,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
            outcomes: list[str] = outcomes,
            retry_afters: list[int] = retry_afters,
        ) -> None:
            with server.client(headers={"Authorization": tokens[n % len(tokens)]}) as http:
                barrier.wait()
                response = http.get(f"/api/{V}/services/jobs/{job_id}")
                body = response.json()
                with lock:
                    if body["responseStatus"] == "SUCCESS":
                        outcomes.append("SUCCESS")
                    else:
                        outcomes.append(body["errors"][0]["type"])
                        retry_afters.append(int(response.headers["Retry-After"]))

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert Counter(outcomes) == {"SUCCESS": 1, "API_LIMIT_EXCEEDED": 19}, f"window {window}"
        assert all(1 <= r <= 2 for r in retry_afters)
        clock.advance(1.6)


def test_unknown_jobs_are_not_rate_limited(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        for _ in range(3):
            body = http.get(f"/api/{V}/services/jobs/123456789").json()
            assert body["errors"][0]["type"] == "INVALID_DATA"


def test_windows_are_per_job(app_server: AppServer) -> None:
    token = app_server.login()
    with app_server.client(headers={"Authorization": token}) as http:
        jobs = [run_demo(http, token, items=1, item_seconds=0) for _ in range(3)]
        for job_id in jobs:
            assert http.get(f"/api/{V}/services/jobs/{job_id}").json()["responseStatus"] == "SUCCESS"
