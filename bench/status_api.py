"""Retrieve Job Status throughput and latency against a trivial endpoint of the same server.

1. Loads ``--jobs`` finished jobs (default 1,000,000; each SUCCESS, created by ``admin``, with one
   SUCCESS task) into a fresh SQLite store with raw SQL: ``executemany`` in large transactions on
   the store's own connection.
2. Starts a real ``vaultjobs serve`` on it (default settings: the 10 s status window, worker
   threads running; ``VAULTJOBS_LOG_LEVEL=warning`` so that access logging does not dominate) and
   logs in.
3. A load generator in a separate process (``--procs``, default 1: the server keeps a core to
   itself on a 2-core machine) keeps ``--concurrency`` keep-alive connections busy, closed loop,
   with a minimal HTTP/1.1 client on asyncio streams (a general-purpose client such as httpx
   costs more CPU per request than the server and would measure itself). In turn, ``--rounds``
   times: ``GET /_vaultjobs/health`` (the trivial endpoint) for ``--seconds``, then
   ``GET /api/v26.1/services/jobs/{id}`` for ``--seconds``, every status request for a different
   job id (random, never repeated in the run, so none hits the rate limit). A warm-up precedes
   each phase. Every answer is checked: HTTP 200 and ``X-VaultAPI-Status: SUCCESS``.
4. The same two endpoints with one connection (an unloaded server): p50/p99 latency.

Reported: requests/s and p50/p99 latency of each endpoint under load, the throughput ratio
(target ≥ 0.7), the server's CPU time per request (independent of how fast the generator is), and
the unloaded latencies (target p99 < 10 ms). ``--compare N`` repeats the status measurement on a
store of N jobs (flatness target: the big store ≤ 1.3× slower); as N jobs cannot give enough
never-repeated ids at full speed, both stores then run with a short status window (``COMPARE_WINDOW``)
and ids cycle.

    .venv/bin/python bench/status_api.py [--jobs 1000000] [--seconds 10] [--rounds 2]
        [--concurrency 16] [--procs 1] [--compare 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from vaultjobs.accounts import Accounts
from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore
from vaultjobs.testing import ADMIN_PASSWORD, LiveServer, V
from vaultjobs.timeutil import SystemClock

BATCH = 100_000
#: The status window of ``--compare``'s runs, whose ids cycle: a job comes round again after N
#: requests, which must take longer than this even at the fastest rate (10,000 jobs: 40,000 req/s).
COMPARE_WINDOW = 0.25


# -- loading the store ---------------------------------------------------------------------------


def load_store(data_dir: Path, jobs: int) -> float:
    """A fresh store with ``admin`` and ``jobs`` finished jobs; returns the seconds it took."""
    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "vaultjobs.db")
    try:
        store.migrate()
        admin = Accounts(store, Settings(data_dir=data_dir), SystemClock()).add_user(
            "admin", ADMIN_PASSWORD, is_admin=True
        )
        conn = store.dialect.connection()  # raw SQL on the store's own connection, for speed
        conn.execute("PRAGMA synchronous=OFF")
        # Indexes are built faster once, sorted, than row by row: drop them for the load (triggers stay).
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('jobs', 'tasks') "
            "AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        now = int(datetime.now(UTC).timestamp() * 1000)
        first = now - jobs * 2000  # one job every 2 s, ending now
        for start in range(1, jobs + 1, BATCH):
            ids = range(start, min(start + BATCH, jobs + 1))
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO jobs (id, processor, title, parameters, status, method, scheduled, created_by, "
                "created_at, modified_by, modified_at, run_start, run_end, phase, idempotent, timeout_ms, "
                "inactivity_timeout_ms) VALUES (?, 'demo', NULL, '{\"items\":1}', 'SUCCESS', 'POST', 0, ?, ?, ?, "
                "?, ?, ?, NULL, 1, 14400000, 3600000)",
                (
                    (i, admin.id, first + i * 2000, admin.id, first + i * 2000 + 1500, first + i * 2000 + 100,
                     first + i * 2000 + 1500)
                    for i in ids
                ),
            )
            conn.executemany(
                "INSERT INTO tasks (job_id, seq, state, payload, attempts, started_at, finished_at) "
                "VALUES (?, 1, 'SUCCESS', '[{\"n\":1}]', 1, ?, ?)",
                ((i, first + i * 2000 + 200, first + i * 2000 + 1400) for i in ids),
            )
            conn.execute("COMMIT")
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # No ANALYZE: the server never runs it, and with statistics of a store where every job is
        # finished SQLite plans the workers' claim of an orphaned RUNNING job as a full scan.
    finally:
        store.close()
    return time.perf_counter() - started


# -- the load generator (runs in its own processes) ----------------------------------------------


@dataclass
class Phase:
    host: str
    port: int
    token: str
    paths: list[str]  # requested in turn, cycling
    seconds: float
    concurrency: int
    body: bytes = b""  # sent as a JSON POST when not empty
    count: int = 0  # requests in all, shared out among the generator processes (0: as many as fit in ``seconds``)


@dataclass
class Result:
    requests: int
    failures: list[str]
    latencies_ms: list[float]
    elapsed: float
    issued: int = 0


async def _connection(phase: Phase, paths: list[str], proc: int, procs: int, deadline: float,
                      result: Result, quota: int) -> None:
    reader, writer = await asyncio.open_connection(phase.host, phase.port)
    method, payload = ("POST", phase.body) if phase.body else ("GET", b"")
    head = f"Host: {phase.host}:{phase.port}\r\nAuthorization: {phase.token}\r\nAccept: application/json\r\n"
    if payload:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    head += "\r\n"
    try:
        while time.perf_counter() < deadline and (not quota or result.issued < quota):
            # The process's connections take the paths in turn from one count, so that with a quota
            # no path comes twice (a connection with a stride of its own ran past the end and round
            # again while a slower one had not got there: a job polled twice inside its window).
            path = paths[(proc + procs * result.issued) % len(paths)]
            result.issued += 1
            sent = time.perf_counter()
            writer.write(f"{method} {path} HTTP/1.1\r\n{head}".encode() + payload)
            header = await reader.readuntil(b"\r\n\r\n")
            length = 0
            ok = header.startswith(b"HTTP/1.1 200 ")
            for line in header.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"x-vaultapi-status" and value.strip() != b"SUCCESS":
                    ok = False
            body = await reader.readexactly(length)
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            result.requests += 1
            if not ok and len(result.failures) < 5:
                result.failures.append(f"{method} {path}: {header.decode(errors='replace')}{body[:300]!r}")
    finally:
        writer.close()


async def _run_phase(phase: Phase, proc: int, procs: int) -> Result:
    result = Result(0, [], [], 0.0)
    started = time.perf_counter()
    deadline = started + phase.seconds
    quota = phase.count // procs + (1 if proc < phase.count % procs else 0)
    await asyncio.gather(*(
        _connection(phase, phase.paths, proc, procs, deadline, result, quota) for _ in range(phase.concurrency)
    ))
    result.elapsed = time.perf_counter() - started
    return result


def _generator(phase: Phase, proc: int, procs: int) -> Result:
    return asyncio.run(_run_phase(phase, proc, procs))


def run_phase(pool: multiprocessing.pool.Pool, phase: Phase, procs: int) -> Result:
    parts = pool.starmap(_generator, [(phase, p, procs) for p in range(procs)])
    return Result(
        requests=sum(r.requests for r in parts),
        failures=[f for r in parts for f in r.failures],
        latencies_ms=[x for r in parts for x in r.latencies_ms],
        elapsed=max(r.elapsed for r in parts),
    )


# -- measuring ------------------------------------------------------------------------------------


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    return sum(cpu_times(pid))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclass
class Measured:
    rate: float
    p50: float
    p99: float
    cpu_ms: float  # server CPU per request
    requests: int
    system: float = 0.0  # the share of that CPU spent in the kernel (system calls, page faults)


class BareApp:
    """``bench/bare_app.py`` running in a subprocess: a bare Starlette app on the same server stack."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> BareApp:
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_app.py"))],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            raise SystemExit(f"bare_app.py did not start: {line!r}")
        self.url = line.split()[-1]
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)


def measure(pool: multiprocessing.pool.Pool, server: LiveServer | BareApp, phase: Phase, procs: int) -> Measured:
    assert server.process is not None
    user0, system0 = cpu_times(server.process.pid)
    result = run_phase(pool, phase, procs)
    user1, system1 = cpu_times(server.process.pid)
    cpu0, cpu1 = user0 + system0, user1 + system1
    if result.failures:
        raise SystemExit("requests failed:\n" + "\n".join(result.failures))
    return Measured(
        rate=result.requests / result.elapsed,
        p50=statistics.median(result.latencies_ms),
        p99=pct(result.latencies_ms, 0.99),
        cpu_ms=(cpu1 - cpu0) * 1000 / max(1, result.requests),
        requests=result.requests,
        system=(system1 - system0) / max(1e-9, cpu1 - cpu0),
    )


def combine(runs: list[Measured]) -> Measured:
    return Measured(
        rate=statistics.mean(m.rate for m in runs),
        p50=statistics.mean(m.p50 for m in runs),
        p99=statistics.mean(m.p99 for m in runs),
        cpu_ms=statistics.mean(m.cpu_ms for m in runs),
        requests=sum(m.requests for m in runs),
        system=statistics.mean(m.system for m in runs),
    )


class IdSource:
    """Job ids for status requests: random, each used once (or cycling, for small stores)."""

    def __init__(self, jobs: int, cycle: bool) -> None:
        self.ids = random.Random(7).sample(range(1, jobs + 1), jobs)
        self.cycle = cycle
        self.used = 0

    def take(self, count: int) -> list[str]:
        if self.cycle:
            taken = [self.ids[(self.used + i) % len(self.ids)] for i in range(count)]
        else:
            if self.used + count > len(self.ids):
                raise SystemExit("not enough jobs for never-repeated ids: raise --jobs or lower --seconds/--rounds")
            taken = self.ids[self.used:self.used + count]
        self.used += count
        return [f"/api/{V}/services/jobs/{i}" for i in taken]


def prepare(root: Path, jobs: int) -> Path:
    data_dir = root / f"store-{jobs}"
    if (data_dir / "vaultjobs.db").exists():
        return data_dir
    took = load_store(data_dir, jobs)
    size_mb = (data_dir / "vaultjobs.db").stat().st_size / 1e6
    print(f"loaded {jobs:,} finished jobs in {took:.1f} s ({jobs / took:,.0f} jobs/s; database {size_mb:,.0f} MB)",
          flush=True)
    return data_dir


def bench_store(args: argparse.Namespace, data_dir: Path, jobs: int, *, cycle: bool, window: float | None,
                pool: multiprocessing.pool.Pool, status_only: bool = False) -> dict[str, Measured]:
    settings: dict[str, object] = {}
    if window is not None:
        settings["status_window"] = window
    server = LiveServer(data_dir, extra_env={"VAULTJOBS_LOG_LEVEL": "warning"}, **settings)
    server.start()
    try:
        token = server.login()
        address = urlsplit(server.url)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        ids = IdSource(jobs, cycle)
        # Enough never-repeated ids for a phase at up to this rate.
        budget = int(args.max_rate * (args.seconds + args.warmup))

        def phase(paths: list[str], seconds: float, concurrency: int) -> Phase:
            # Status ids never repeat within a phase: one that runs out of them ends early (its rate
            # stands) rather than poll a job again inside its window.
            return Phase(host, port, token, paths, seconds, concurrency, count=0 if paths == health_paths or cycle
                         else len(paths))

        health_paths = ["/_vaultjobs/health"]
        health_runs: list[Measured] = []
        status_runs: list[Measured] = []
        for _ in range(args.rounds):
            if not status_only:
                run_phase(pool, phase(health_paths, args.warmup, args.concurrency), args.procs)
                health_runs.append(measure(pool, server, phase(health_paths, args.seconds, args.concurrency),
                                           args.procs))
            paths = ids.take(budget)
            warm, timed = paths[: budget // 4], paths[budget // 4:]
            run_phase(pool, phase(warm, args.warmup, args.concurrency), args.procs)
            status_runs.append(measure(pool, server, phase(timed, args.seconds, args.concurrency), args.procs))
        out = {"status": combine(status_runs)}
        if not status_only:
            out["health"] = combine(health_runs)
            # Unloaded: one connection.
            out["health idle"] = measure(pool, server, phase(health_paths, args.seconds / 2, 1), 1)
            out["status idle"] = measure(pool, server, phase(ids.take(budget), args.seconds / 2, 1), 1)
        return out
    finally:
        server.stop()


def bench_bare_app(args: argparse.Namespace, pool: multiprocessing.pool.Pool) -> Measured:
    """``GET /health`` of bench/bare_app.py, as health is measured: warm-up, then ``--rounds`` phases."""
    with BareApp() as bare:
        address = urlsplit(bare.url)
        phase = Phase(address.hostname or "127.0.0.1", address.port or 80, "-", ["/health"], args.warmup,
                      args.concurrency)
        run_phase(pool, phase, args.procs)
        phase.seconds = args.seconds
        return combine([measure(pool, bare, phase, args.procs) for _ in range(args.rounds)])


def show(name: str, m: Measured) -> None:
    print(f"  {name:<28} {m.rate:9,.0f} req/s   p50 {m.p50:6.2f} ms   p99 {m.p99:6.2f} ms   "
          f"server CPU {m.cpu_ms:5.3f} ms/req ({m.system:.0%} system)   ({m.requests:,} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in the store")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="health/status phase pairs, averaged")
    parser.add_argument("--concurrency", type=int, default=16, help="connections per generator process")
    parser.add_argument("--procs", type=int, default=1, help="generator processes")
    parser.add_argument("--max-rate", type=float, default=6000.0,
                        help="status requests/s the id budget allows for (ids are never repeated)")
    parser.add_argument("--compare", type=int, metavar="N",
                        help="also measure status on a store of N jobs (both with a short window)")
    parser.add_argument("--keep", type=Path, help="build the stores in this folder and keep them")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="vaultjobs-bench-status-"))
    ctx = multiprocessing.get_context("spawn")
    print(f"vaultjobs status bench: {os.cpu_count()} CPUs, {args.procs} generator process(es) x "
          f"{args.concurrency} connections, {args.rounds} x {args.seconds:g} s per endpoint", flush=True)
    try:
        with ctx.Pool(args.procs) as pool:
            big = prepare(root, args.jobs)
            results = bench_store(args, big, args.jobs, cycle=False, window=None, pool=pool)
            print(f"\n{args.jobs:,} jobs, status window 10 s, {args.concurrency * args.procs} concurrent connections:")
            show("GET /_vaultjobs/health", results["health"])
            show("GET …/services/jobs/{id}", results["status"])
            ratio = results["status"].rate / results["health"].rate
            cpu_ratio = results["health"].cpu_ms / results["status"].cpu_ms
            print(f"  throughput ratio status/health: {ratio:.2f}  (target ≥ 0.7)")
            print(f"  status p99 {results['status'].p99:.2f} ms at {args.concurrency * args.procs} connections  "
                  "(target < 10 ms)")
            print(f"  server CPU ratio health/status: {cpu_ratio:.2f}  (the same ratio, free of the generator)")
            print("one connection (unloaded):")
            show("GET /_vaultjobs/health", results["health idle"])
            show("GET …/services/jobs/{id}", results["status idle"])
            print(f"  status p99 {results['status idle'].p99:.2f} ms on one connection  (target < 1 ms)", flush=True)
            bare = bench_bare_app(args, pool)
            print("the trivial endpoint against a bare Starlette app on the same server stack (16 connections):")
            show("GET /health, bare app", bare)
            print(f"  ratio health/bare app (server CPU per request): {results['health'].cpu_ms / bare.cpu_ms:.2f}  "
                  "(target ≤ 1.5)", flush=True)
            if args.compare:
                print(f"\nflatness: status on {args.compare:,} and {args.jobs:,} jobs, {COMPARE_WINDOW:g} s window, "
                      "ids cycling",
                      flush=True)
                small = bench_store(args, prepare(root, args.compare), args.compare, cycle=True, window=COMPARE_WINDOW,
                                    pool=pool, status_only=True)["status"]
                large = bench_store(args, big, args.jobs, cycle=True, window=COMPARE_WINDOW, pool=pool,
                                    status_only=True)["status"]
                show(f"{args.compare:,} jobs", small)
                show(f"{args.jobs:,} jobs", large)
                print(f"  slowdown, {args.jobs:,} jobs against {args.compare:,}: {small.rate / large.rate:.2f}  "
                      "(target ≤ 1.3)")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
