"""Retrieve Job Status throughput with two API replicas on one PostgreSQL database.

Why: replicas of ``vaultjobs serve`` share nothing but the database (sessions and status windows
live there), so a second replica should add status throughput, and status should stay ≥ 0.7× the
trivial endpoint (DESIGN.md) when the store is PostgreSQL rather than SQLite.

1. Starts a throwaway PostgreSQL server (``vaultjobs.testing.PostgresServer``), or uses the
   database of ``--database-url postgresql://…`` (empty, or loaded by an earlier run of this script
   with at least ``--jobs`` jobs, which is then reused).
2. Migrates the schema, creates ``admin`` and loads ``--jobs`` finished jobs (default 200,000; each
   SUCCESS, created by ``admin``, with one SUCCESS task) with ``INSERT … SELECT … FROM
   generate_series``, then ``VACUUM (ANALYZE)`` so that autovacuum does not start mid-measurement.
3. Starts two ``vaultjobs serve`` replicas on that database with no worker threads (``workers=0``,
   ``VAULTJOBS_LOG_LEVEL=warning``) and logs in once, on replica A: replica B accepts the session
   (checked), since sessions are in the database.
4. Drives them with the minimal HTTP/1.1 load generator of ``bench/status_api.py`` (imported, not
   copied): ``--procs`` processes keep ``--concurrency`` keep-alive connections in total busy, closed
   loop, spread evenly over the targets. After a ``--warmup`` each, for ``--seconds`` each:
   a. ``GET /_vaultjobs/health`` on both replicas (no database, no session);
   b. ``GET /api/v26.1/services/jobs/{id}`` on both replicas, every request a different job
      (random ids, never repeated, so none is refused by the 10 s status window);
   c. the same status requests on replica A only, same concurrency, for comparison.
   The status windows (table ``status_polls``, nothing else holds them) are cleared before b and c,
   so both start alike and each can use every job once. Every answer must be HTTP 200 with
   ``X-VaultAPI-Status: SUCCESS``.

Reported per phase: requests/s, p50/p99 latency, the replicas' CPU time per request (both processes,
from ``/proc``), PostgreSQL's CPU time per request (throwaway server only) and how busy the machine's
CPUs were; then status/health on two replicas (target ≥ 0.7) and the scale-out ratio status on two
replicas / status on one. On a 2-core machine the replicas, PostgreSQL and the generator share the
two cores: a second replica can only add what the cores have to spare (the "CPUs busy" column shows
when they have none), so the scale-out ratio there cannot say what more cores would give.

    .venv/bin/python bench/status_replicas.py [--jobs 200000] [--seconds 10] [--warmup 2]
        [--concurrency 16] [--procs 1] [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.pool
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import status_api  # noqa: E402 - the load generator, from this folder

from vaultjobs.accounts import Accounts  # noqa: E402
from vaultjobs.settings import Settings  # noqa: E402
from vaultjobs.store import open_store  # noqa: E402
from vaultjobs.testing import ADMIN_PASSWORD, LiveServer, PostgresServer, V, execute  # noqa: E402
from vaultjobs.timeutil import SystemClock  # noqa: E402

# -- loading the database ------------------------------------------------------------------------

# One job every 2 s, ending now; the same columns as status_api.load_store writes on SQLite.
JOBS_SQL = """
INSERT INTO jobs (id, processor, title, parameters, status, method, scheduled, created_by, created_at,
                  modified_by, modified_at, run_start, run_end, phase, idempotent, timeout_ms,
                  inactivity_timeout_ms)
SELECT i, 'demo', NULL, '{"items":1}', 'SUCCESS', 'POST', 0, %(admin)s, %(first)s + i * 2000,
       %(admin)s, %(first)s + i * 2000 + 1500, %(first)s + i * 2000 + 100, %(first)s + i * 2000 + 1500,
       NULL, 1, 14400000, 3600000
FROM generate_series(1::bigint, %(jobs)s) AS i
"""
TASKS_SQL = """
INSERT INTO tasks (job_id, seq, state, payload, attempts, started_at, finished_at)
SELECT i, 1, 'SUCCESS', '[{"n":1}]', 1, %(first)s + i * 2000 + 200, %(first)s + i * 2000 + 1400
FROM generate_series(1::bigint, %(jobs)s) AS i
"""


def load_database(url: str, jobs: int, scratch: Path) -> str:
    """Migrate, create ``admin`` and load ``jobs`` finished jobs (or reuse an earlier load); say what was done."""
    started = time.perf_counter()
    store = open_store(url, pool_size=2)
    try:
        store.migrate()
        if store.users.count_users():
            (ready,) = execute(store, 
                "SELECT count(*) FROM jobs JOIN users ON users.id = jobs.created_by "
                "WHERE users.username = 'admin' AND jobs.status = 'SUCCESS' AND jobs.id <= ?",
                (jobs,),
            )[0]
            if ready < jobs:
                raise SystemExit(f"the database has users but not {jobs:,} jobs loaded by this script: "
                                 "give an empty database")
            return f"reusing {jobs:,} finished jobs already loaded"
        admin = Accounts(store, Settings(data_dir=scratch), SystemClock()).add_user(
            "admin", ADMIN_PASSWORD, is_admin=True
        )
    finally:
        store.close()
    first = int(datetime.now(UTC).timestamp() * 1000) - jobs * 2000
    params = {"admin": admin.id, "first": first, "jobs": jobs}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        with conn.transaction():
            conn.execute(JOBS_SQL, params)
            conn.execute(TASKS_SQL, params)
            # Explicit ids: move the identity on, as if the jobs had been inserted one by one.
            conn.execute("SELECT setval(pg_get_serial_sequence('jobs', 'id'), %s)", (jobs,))
        conn.execute("VACUUM (ANALYZE) jobs")
        conn.execute("VACUUM (ANALYZE) tasks")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    took = time.perf_counter() - started
    mb = (size[0] if size else 0) / 1e6
    return f"loaded {jobs:,} finished jobs in {took:.1f} s ({jobs / took:,.0f} jobs/s; database {mb:,.0f} MB)"


def clear_status_windows(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE status_polls")


# -- the load generator over several replicas (runs in its own processes) -------------------------


@dataclass
class Load:
    """One phase: paths requested in turn over ``concurrency`` connections spread over ``targets``."""

    targets: list[tuple[str, int]]
    token: str
    paths: list[str]
    seconds: float
    concurrency: int


async def _spread(load: Load, proc: int, procs: int) -> status_api.Result:
    # Connection k goes to target k % len(targets) and to process (k // len(targets)) % procs, so
    # every process loads every target evenly; a process's connections take paths proc, proc + procs, …
    # in turn (disjoint across processes).
    result = status_api.Result(0, [], [], 0.0)
    started = time.perf_counter()
    deadline = started + load.seconds
    n = len(load.targets)
    await asyncio.gather(*(
        status_api._connection(
            status_api.Phase(*load.targets[k % n], load.token, load.paths, load.seconds, load.concurrency),
            load.paths, proc, procs, deadline, result, 0,  # 0: no quota, as many as fit in the time
        )
        for k in range(load.concurrency)
        if (k // n) % procs == proc
    ))
    result.elapsed = time.perf_counter() - started
    return result


def _generator(load: Load, proc: int, procs: int) -> status_api.Result:
    return asyncio.run(_spread(load, proc, procs))


def run_load(pool: multiprocessing.pool.Pool, load: Load, procs: int) -> status_api.Result:
    parts = pool.starmap(_generator, [(load, p, procs) for p in range(procs)])
    return status_api.Result(
        requests=sum(r.requests for r in parts),
        failures=[f for r in parts for f in r.failures],
        latencies_ms=[x for r in parts for x in r.latencies_ms],
        elapsed=max(r.elapsed for r in parts),
    )


# -- measuring ------------------------------------------------------------------------------------


def machine_cpu() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process, its reaped children and its live children (PostgreSQL's backends)."""
    if pid is None:
        return 0.0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if stat.parent.name == str(pid) or int(fields[1]) == pid:
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    rate: float
    p50: float
    p99: float
    server_ms: float  # both replicas' CPU per request
    pg_ms: float | None  # PostgreSQL's CPU per request (throwaway server only)
    busy: float  # share of all the machine's CPUs in use, %
    requests: int


def check(result: status_api.Result, paths: list[str]) -> status_api.Result:
    """Stop on any failed answer, and say so when the job ids ran out (they cycle, then are refused)."""
    if result.requests > len(paths) > 1:
        raise SystemExit(f"ran out of never-repeated job ids ({result.requests:,} requests, {len(paths):,} ids): "
                         "raise --jobs or lower --seconds/--warmup")
    if result.failures:
        raise SystemExit("requests failed:\n" + "\n".join(result.failures))
    return result


def measure(pool: multiprocessing.pool.Pool, replicas: list[LiveServer], postmaster: int | None, load: Load,
            procs: int) -> Figures:
    pids = [r.process.pid for r in replicas if r.process is not None]
    server0, pg0, (busy0, all0) = sum(map(status_api.cpu_seconds, pids)), tree_cpu(postmaster), machine_cpu()
    result = check(run_load(pool, load, procs), load.paths)
    server1, pg1, (busy1, all1) = sum(map(status_api.cpu_seconds, pids)), tree_cpu(postmaster), machine_cpu()
    per = 1000 / max(1, result.requests)
    return Figures(
        rate=result.requests / result.elapsed,
        p50=statistics.median(result.latencies_ms),
        p99=status_api.pct(result.latencies_ms, 0.99),
        server_ms=(server1 - server0) * per,
        pg_ms=(pg1 - pg0) * per if postmaster is not None else None,
        busy=100 * (busy1 - busy0) / max(1, all1 - all0),
        requests=result.requests,
    )


def show(name: str, f: Figures) -> None:
    pg = f"   PostgreSQL CPU {f.pg_ms:5.3f} ms/req" if f.pg_ms is not None else ""
    print(f"  {name:<20} {f.rate:8,.0f} req/s   p50 {f.p50:6.2f} ms   p99 {f.p99:6.2f} ms   "
          f"replicas CPU {f.server_ms:5.3f} ms/req{pg}   CPUs busy {f.busy:3.0f}%   ({f.requests:,} requests)",
          flush=True)


def address(server: LiveServer) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def server_errors(replicas: list[LiveServer]) -> list[str]:
    """Warnings and worse that the replicas logged (the log level is ``warning``)."""
    return [f"{name}: {line}" for name, r in zip("AB", replicas, strict=True)
            for line in r.log_text().splitlines() if line.strip()]


def bench(args: argparse.Namespace, url: str, root: Path, postmaster: int | None,
          pool: multiprocessing.pool.Pool) -> None:
    env = {"VAULTJOBS_LOG_LEVEL": "warning"}
    replicas = [LiveServer(root / f"replica-{name}", extra_env=env, database_url=url, workers=0) for name in "ab"]
    try:
        for replica in replicas:
            replica.start()
        token = replicas[0].login()
        with httpx.Client(base_url=replicas[1].url, timeout=30) as http:
            answer = http.get(f"/api/{V}/services/jobs/processors", headers={"Authorization": token})
            if answer.headers.get("X-VaultAPI-Status") != "SUCCESS":
                raise SystemExit(f"replica B refused replica A's session: {answer.text[:300]}")
        print(f"replicas A {replicas[0].url} and B {replicas[1].url} (no worker threads); "
              "B accepts A's session", flush=True)
        both, one = [address(r) for r in replicas], [address(replicas[0])]
        ids = status_api.IdSource(args.jobs, cycle=False).take(args.jobs)
        split = int(len(ids) * args.warmup / (args.warmup + args.seconds))
        health, warm_ids, timed_ids = ["/_vaultjobs/health"], ids[:split], ids[split:]

        def phase(targets: list[tuple[str, int]], warm: list[str], timed: list[str]) -> Figures:
            if timed is not health:
                clear_status_windows(url)  # both status phases start alike and may use every job
            check(run_load(pool, Load(targets, token, warm, args.warmup, args.concurrency), args.procs), warm)
            return measure(pool, replicas, postmaster, Load(targets, token, timed, args.seconds, args.concurrency),
                           args.procs)

        print(f"\n{args.jobs:,} jobs, status window 10 s, {args.concurrency} connections in total:", flush=True)
        health2 = phase(both, health, health)
        show("health, 2 replicas", health2)
        status2 = phase(both, warm_ids, timed_ids)
        show("status, 2 replicas", status2)
        status1 = phase(one, warm_ids, timed_ids)
        show("status, 1 replica", status1)
        print(f"  status/health on 2 replicas: {status2.rate / health2.rate:.2f}  (target ≥ 0.7)")
        print(f"  scale-out, status on 2 replicas / on 1: {status2.rate / status1.rate:.2f}  ({os.cpu_count()} CPUs "
              "shared by the replicas, PostgreSQL and the generator)", flush=True)
    finally:
        for replica in replicas:
            replica.stop()
    logged = server_errors(replicas)
    print(f"replica logs: {len(logged)} lines at warning or above" + "".join(f"\n  {x}" for x in logged[:10]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200_000, help="finished jobs in the database")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="connections in total, over all processes")
    parser.add_argument("--procs", type=int, default=1, help="generator processes")
    parser.add_argument("--database-url", help="use this (empty) PostgreSQL database instead of a throwaway server")
    args = parser.parse_args()
    if args.concurrency < 2 or args.procs < 1:
        parser.error("--concurrency must be at least 2 (one connection per replica) and --procs at least 1")

    root = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-replicas-"))
    pg: PostgresServer | None = None
    print(f"vaultjobs status bench, 2 replicas on PostgreSQL: {os.cpu_count()} CPUs, {args.procs} generator "
          f"process(es), {args.concurrency} connections in total, {args.seconds:g} s per phase", flush=True)
    try:
        if args.database_url:
            url, postmaster = args.database_url, None
        else:
            # Not under root: as root the server runs as ``postgres``, who must own its folder.
            pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-pg-"))).start()
            url = pg.create_database("status_replicas")
            postmaster = int((pg.folder / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0])
            print(f"throwaway PostgreSQL server on port {pg.port}", flush=True)
        print(load_database(url, args.jobs, root), flush=True)
        with multiprocessing.get_context("spawn").Pool(args.procs) as pool:
            bench(args, url, root, postmaster, pool)
    finally:
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.folder, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
