"""End-to-end no-op job throughput and submit → RUNNING latency, against a raw-SQL baseline.

1. Baseline: a raw-SQL claim/complete loop (one transaction to claim, one to complete) over N
   queued rows in a table of the same SQLite file, on one connection.
2. vaultjobs: N ``demo`` jobs (items=1, item_seconds=0) are enqueued through the API of a real
   ``vaultjobs serve --no-workers`` (status_api.py's minimal HTTP/1.1 load generator in a process of
   its own, 16 keep-alive connections), then one ``vaultjobs worker`` process drains them; jobs/s is
   N / (time from the worker's start to the last job's end, as the store recorded them).
3. Latency: on an idle ``vaultjobs serve`` with workers, submit jobs one at a time and measure the
   time from sending the request to the job's ``run_start`` (both on this machine's clock).

With ``--postgres`` (a throwaway server) or ``--database-url postgresql://…`` the same runs on
PostgreSQL, with 1, 2 and 4 worker processes, against a raw-SQL ``FOR UPDATE SKIP LOCKED`` loop
that claims and completes rows in batches of 10. ``--claim-batch N`` sets the workers'
``VAULTJOBS_CLAIM_BATCH`` (most units a worker thread claims at once; default 128).

Targets (DESIGN.md): throughput ≥ 0.5× the baseline; submit → RUNNING p50 < 20 ms.

    python bench/throughput.py [--jobs 50000] [--workers 4] [--latency-samples 200]
    python bench/throughput.py --postgres [--jobs 20000] [--processes 1,2,4] [--claim-batch 128]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from vaultjobs.testing import LiveServer, V, execute

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status_api import Phase, run_phase  # noqa: E402 - the load generator

RUN_BODY = b'{"parameters": {"items": 1, "item_seconds": 0}}'


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_sql_baseline(db_path: Path, jobs: int) -> float:
    """Jobs/s of a bare claim/complete loop on the same kind of database file."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE bench_queue (id INTEGER PRIMARY KEY, status TEXT NOT NULL, worker TEXT, ended INTEGER)")
    conn.execute("CREATE INDEX bench_queue_status ON bench_queue(status, id)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO bench_queue (status) VALUES ('QUEUED')", [()] * jobs)
    conn.execute("COMMIT")
    started = time.perf_counter()
    while True:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(
            "UPDATE bench_queue SET status = 'RUNNING', worker = 'w' WHERE id = "
            "(SELECT id FROM bench_queue WHERE status = 'QUEUED' ORDER BY id LIMIT 1) RETURNING id"
        ).fetchone()
        conn.execute("COMMIT")
        if row is None:
            break
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE bench_queue SET status = 'SUCCESS', ended = 1 WHERE id = ? AND status = 'RUNNING'", row)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.execute("DROP TABLE bench_queue")
    conn.close()
    return jobs / elapsed


def raw_skip_locked_baseline(url: str, jobs: int, batch: int = 10) -> float:
    """Jobs/s of a bare SKIP LOCKED claim/complete loop on PostgreSQL, batches of ``batch``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_queue")
        conn.execute("CREATE TABLE bench_queue (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, worker TEXT)")
        conn.execute("CREATE INDEX bench_queue_status ON bench_queue(status, id)")
        conn.execute("INSERT INTO bench_queue (status) SELECT 'QUEUED' FROM generate_series(1, %s)", (jobs,))
        started = time.perf_counter()
        while True:
            with conn.transaction():
                ids = [r[0] for r in conn.execute(
                    "UPDATE bench_queue SET status = 'RUNNING', worker = 'w' WHERE id IN (SELECT id FROM bench_queue "
                    "WHERE status = 'QUEUED' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id", (batch,)
                )]
            if not ids:
                break
            with conn.transaction():
                conn.execute("UPDATE bench_queue SET status = 'SUCCESS' WHERE id = ANY(%s) AND status = 'RUNNING'",
                             (ids,))
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_queue")
    return jobs / elapsed


def enqueue(server: LiveServer, token: str, jobs: int, concurrency: int = 16) -> float:
    """Start ``jobs`` no-op demo jobs through the API; the seconds it took.

    The requests come from status_api.py's load generator (imported), in a process of its own, over
    ``concurrency`` keep-alive connections: a general-purpose client such as httpx spends more CPU per
    request than the server and would measure itself. Every start must be acknowledged SUCCESS."""
    address = urlsplit(server.url)
    phase = Phase(address.hostname or "127.0.0.1", address.port or 80, token,
                  [f"/api/{V}/services/jobs/processors/demo/actions/run"], seconds=3600.0,
                  concurrency=concurrency, body=RUN_BODY, count=jobs)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result = run_phase(pool, phase, 1)
    if result.failures or result.requests != jobs:
        raise RuntimeError(f"{result.requests} of {jobs} starts answered; failures: {result.failures}")
    return result.elapsed


def drain_rate(server: LiveServer, jobs: int, workers: int, processes: int = 1) -> float:
    """Jobs/s from the worker processes' start to the last job's end.

    The clock starts when the first of the ``processes`` registered with the store, its imports and
    connections made, as the peers' drains start in a process that has imported them (Huey's consumer
    started, Procrastinate's worker run); what the processes took before that is printed apart."""
    from vaultjobs.store import open_store

    url = server.settings.get("database_url") or f"sqlite:///{server.data_dir / 'vaultjobs.db'}"
    store = open_store(url, pool_size=2)
    spawned = time.time()
    procs = [server.start_worker("--concurrency", str(workers), "--log-level", "warning") for _ in range(processes)]
    try:
        while True:
            (left,) = execute(store, "SELECT count(*) FROM jobs WHERE status != 'SUCCESS'")[0]
            if left == 0:
                break
            time.sleep(0.5)
        (last_end,) = execute(store, "SELECT max(run_end) FROM jobs")[0]
        (registered,) = execute(store, "SELECT min(started_at) FROM workers WHERE started_at >= ?",
                                (int(spawned * 1000),))[0]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        store.close()
    print(f"  (the worker process{'es' if processes > 1 else ''} took {registered / 1000.0 - spawned:.2f} s to start; "
          f"counting that, {jobs / (last_end / 1000.0 - spawned):,.0f} jobs/s)", flush=True)
    return jobs / (last_end / 1000.0 - registered / 1000.0)


def submit_latency(server: LiveServer, token: str, samples: int) -> list[float]:
    latencies = []
    with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=30) as http:
        for _ in range(samples):
            sent = time.time()
            job_id = http.post(
                f"/api/{V}/services/jobs/processors/demo/actions/run",
                json={"parameters": {"items": 1, "item_seconds": 0}},
            ).json()["job_id"]
            while True:
                data = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]
                if "run_start_date" in data:
                    break
                time.sleep(0.005)
            run_start = datetime.fromisoformat(data["run_start_date"]).timestamp()
            latencies.append((run_start - sent) * 1000)
            time.sleep(0.05)  # idle between samples
    return latencies


def worker_env(args: argparse.Namespace) -> dict[str, str]:
    env = {"VAULTJOBS_LOG_LEVEL": "warning"}
    if args.claim_batch:
        env["VAULTJOBS_CLAIM_BATCH"] = str(args.claim_batch)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=4, help="worker threads in the worker process")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--database-url", help="run on this PostgreSQL server instead of SQLite")
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL server")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts to try on PostgreSQL")
    parser.add_argument("--claim-batch", type=int, help="VAULTJOBS_CLAIM_BATCH for the workers")
    args = parser.parse_args()
    if args.postgres or args.database_url:
        postgres_main(args)
        return

    with tempfile.TemporaryDirectory(prefix="vaultjobs-bench-") as tmp:
        root = Path(tmp)
        env = worker_env(args)
        server = LiveServer(root / "throughput", extra_env=env, workers=0, status_window=0)
        server.start()
        try:
            token = server.login()
            enqueue_s = enqueue(server, token, args.jobs)
            print(f"enqueued {args.jobs} jobs through the API in {enqueue_s:.1f} s ({args.jobs / enqueue_s:.0f}/s)")
            rate = drain_rate(server, args.jobs, args.workers)
        finally:
            server.stop()
        baseline = raw_sql_baseline(server.data_dir / "vaultjobs.db", args.jobs)
        print(f"raw-SQL claim/complete loop:   {baseline:10.0f} jobs/s")
        print(f"vaultjobs enqueue → SUCCESS:   {rate:10.0f} jobs/s  (1 worker process, {args.workers} threads)")
        print(f"ratio: {rate / baseline:.2f}  (target ≥ 0.5)")

        idle = LiveServer(root / "latency", extra_env=env, workers=4, status_window=0)
        idle.start()
        try:
            token = idle.login()
            latencies = submit_latency(idle, token, args.latency_samples)
        finally:
            idle.stop()
        print(
            f"submit → RUNNING on an idle server: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {percentile(latencies, 0.99):.1f} ms  (target p50 < 20 ms; {len(latencies)} samples)"
        )
    sys.stdout.flush()


def postgres_main(args: argparse.Namespace) -> None:
    from vaultjobs.testing import PostgresServer

    with tempfile.TemporaryDirectory(prefix="vaultjobs-bench-") as tmp:
        root = Path(tmp)
        pg = None
        if args.database_url:
            new_database = lambda name: args.database_url  # noqa: E731 - one database, reused
        else:
            pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-pg-"))).start()
            new_database = pg.create_database
        try:
            baseline = raw_skip_locked_baseline(new_database("baseline"), args.jobs)
            print(f"raw-SQL SKIP LOCKED loop (batch 10): {baseline:10.0f} jobs/s")
            env = worker_env(args)
            for processes in [int(p) for p in args.processes.split(",")]:
                url = new_database(f"run_{processes}")
                server = LiveServer(root / f"pg{processes}", extra_env=env, workers=0, status_window=0,
                                    database_url=url)
                server.start()
                try:
                    enqueue(server, server.login(), args.jobs)
                    rate = drain_rate(server, args.jobs, args.workers, processes)
                finally:
                    server.stop()
                print(f"vaultjobs, {processes} worker process(es) × {args.workers} threads: {rate:8.0f} jobs/s  "
                      f"ratio {rate / baseline:.2f}  (target ≥ 0.5)")
        finally:
            if pg is not None:
                pg.stop()
                shutil.rmtree(pg.folder, ignore_errors=True)


if __name__ == "__main__":
    main()
