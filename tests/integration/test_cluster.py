"""Many nodes on one PostgreSQL database: 2 API servers and 3 worker processes run 500 jobs while
one worker is killed with ``kill -9``. Every job ends exactly once, and no task of a
non-idempotent processor runs twice."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from vaultjobs.store.postgres import PostgresStore
from vaultjobs.testing import LiveServer, PostgresServer, V, execute

HERE = Path(__file__).parent
TERMINAL = ("SUCCESS", "ERRORS_ENCOUNTERED", "COMPLETED_DUE_TO_INACTIVITY", "TIMEOUT", "CANCELLED")
NODE = {
    "status_window": 0.1,
    "heartbeat_interval": 0.3,
    "heartbeat_timeout": 2.0,
    "poll_interval": 0.5,
    "database_pool_size": 4,
}


def test_two_api_servers_three_workers_and_a_kill(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("cluster")
    env = {"PYTHONPATH": str(HERE)}
    api = [
        LiveServer(tmp_path / f"api{n}", database_url=url, workers=0, processors="sample_processors", extra_env=env,
                   **NODE)  # type: ignore[arg-type]
        for n in range(2)
    ]
    for server in api:
        server.start()
    workers = [api[0].start_worker("--concurrency", "3") for _ in range(3)]
    ledger = tmp_path / "ledger.txt"
    try:
        # a session made on one API server works on the other: sessions live in the database
        token = api[0].login()

        def submit(n: int) -> int:
            server = api[n % 2]
            if n % 2:
                body = {"parameters": {"items": 2, "chunk_size": 1, "item_seconds": 0.02}}
                name = "demo"
            else:
                body = {"parameters": {"items": 2, "seconds": 0.02, "ledger": str(ledger)}}
                name = "once_only"
            with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=30) as http:
                response = http.post(f"/api/{V}/services/jobs/processors/{name}/actions/run", json=body).json()
            assert response["responseStatus"] == "SUCCESS", response
            return int(response["job_id"])

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            job_ids = list(pool.map(submit, range(500)))
        assert len(set(job_ids)) == 500

        store = PostgresStore(url, pool_size=2)
        try:
            deadline = time.monotonic() + 60
            while execute(store, "SELECT count(*) FROM jobs WHERE status IN " + str(TERMINAL))[0][0] < 100:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait()
            deadline = time.monotonic() + 120
            while True:
                statuses = dict(execute(store, "SELECT status, count(*) FROM jobs GROUP BY status"))
                if sum(statuses.get(s, 0) for s in TERMINAL) == 500:
                    break
                assert time.monotonic() < deadline, statuses
                time.sleep(0.2)
            ended = execute(store, 
                "SELECT job_id, count(*) FROM job_log WHERE message LIKE 'job ended%' "
                "OR message LIKE '%ends COMPLETED_DUE_TO_INACTIVITY%' GROUP BY job_id"
            )
        finally:
            store.close()
        # every job ended exactly once
        assert len(ended) == 500 and all(count == 1 for _, count in ended)
        assert statuses.get("SUCCESS", 0) >= 400
        # idempotent demo jobs all succeed, even those whose worker was killed
        demo_ids = [job_id for n, job_id in enumerate(job_ids) if n % 2]
        with httpx.Client(base_url=api[1].url, headers={"Authorization": token}, timeout=30) as http:
            for job_id in demo_ids[:20]:
                body = http.get(f"/api/{V}/services/jobs/{job_id}").json()
                assert body["data"]["status"] == "SUCCESS", body
        # no task of the non-idempotent processor ran twice
        runs = Counter(ledger.read_text().split())
        assert runs and max(runs.values()) == 1, runs.most_common(3)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(30)
        for server in api:
            server.stop()


def test_the_status_window_holds_across_two_api_servers(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("window")
    api = [LiveServer(tmp_path / f"api{n}", database_url=url, status_window=2.0, workers=1) for n in range(2)]
    for server in api:
        server.start()
    try:
        token = api[0].login()
        with api[0].client(headers={"Authorization": token}) as http:
            job_id = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                               json={"parameters": {"items": 1, "item_seconds": 0}}).json()["job_id"]
        barrier = threading.Barrier(20)

        def poll(n: int) -> str:
            with api[n % 2].client(headers={"Authorization": token}) as http:
                barrier.wait()
                body = http.get(f"/api/{V}/services/jobs/{job_id}").json()
            return "SUCCESS" if body["responseStatus"] == "SUCCESS" else str(body["errors"][0]["type"])

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            outcomes = Counter(pool.map(poll, range(20)))
        assert outcomes == {"SUCCESS": 1, "API_LIMIT_EXCEEDED": 19}
    finally:
        for server in api:
            server.stop()


def test_another_node_takes_over_scheduling_when_the_scheduler_dies(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database("failover")
    definitions = tmp_path / "jobs.toml"
    definitions.write_text('[[job]]\nname = "tick"\nprocessor = "demo"\ninterval = "1s"\n'
                           'parameters = { items = 1, item_seconds = 0 }\n')
    nodes = [
        LiveServer(tmp_path / f"node{n}", database_url=url, definitions=definitions, poll_interval=0.5,
                   heartbeat_interval=0.3, heartbeat_timeout=2.0, status_window=0.1)
        for n in range(2)
    ]
    for node in nodes:
        node.start()
    store = PostgresStore(url, pool_size=2)
    try:
        def finished() -> int:
            return int(execute(store, "SELECT count(*) FROM jobs WHERE status = 'SUCCESS'")[0][0])

        deadline = time.monotonic() + 30
        while finished() < 2:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        (leader,) = execute(store, "SELECT holder FROM leases WHERE name = 'scheduler'")[0]
        index = next(n for n, node in enumerate(nodes) if f"-{node.process.pid}-" in leader)  # type: ignore[union-attr]
        nodes[index].kill()
        before = finished()
        # the lease runs out (3 s) and the other node schedules; instances keep running
        deadline = time.monotonic() + 20
        while finished() < before + 3:
            assert time.monotonic() < deadline, "no node took over the scheduler"
            time.sleep(0.2)
        (holder,) = execute(store, "SELECT holder FROM leases WHERE name = 'scheduler'")[0]
        assert holder != leader
        # never two SCHEDULED instances of the definition at once
        assert execute(store, "SELECT count(*) FROM jobs WHERE status = 'SCHEDULED'")[0][0] <= 1
    finally:
        store.close()
        for node in nodes:
            node.stop()
