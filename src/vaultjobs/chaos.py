"""Chaos runs: a real vaultjobs under ``kill -9``, a PostgreSQL crash and dropped connections, and the
checks that nothing was lost. Shared by ``tests/chaos`` (small) and ``bench/chaos.py`` (long).

A run starts real processes — on PostgreSQL, API servers without workers and separate
``vaultjobs worker`` processes; on SQLite, one server with its workers — submits a mix of idempotent
(``demo``) and non-idempotent (:mod:`~vaultjobs.processors.chaos_ledger`) jobs through the API while a driver kills a
random process every few seconds and starts it again, restarts PostgreSQL once, and a poller follows
the jobs through random servers, dropping its connections now and then. At the end it reads the
store: every acknowledged job reached exactly one terminal status, none is stuck, no task of the
non-idempotent processor ran twice (its ledger file says), the first session still works, and every
answer a server gave was a Vault envelope.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.settings import Settings
from vaultjobs.testing import LiveServer, PostgresServer, V

TERMINAL = frozenset({"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY",
                      "MISSED_SCHEDULE", "FAILED_TO_RUN"})


@dataclasses.dataclass
class ChaosReport:
    backend: str
    jobs_submitted: int = 0
    acknowledged: int = 0
    kills: int = 0
    database_restarts: int = 0
    lost: int = 0
    stuck: int = 0
    duplicated: int = 0
    not_envelopes: int = 0
    unreachable: int = 0
    session_lost: bool = False
    max_recover_seconds: float = 0.0
    statuses: dict[str, int] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.stuck or self.duplicated or self.not_envelopes or self.session_lost)

    def lines(self) -> list[str]:
        return [
            f"{self.backend}: {self.acknowledged} of {self.jobs_submitted} jobs acknowledged, {self.kills} kills, "
            f"{self.database_restarts} database restarts",
            f"  lost {self.lost}, stuck {self.stuck}, ran twice {self.duplicated}, non-envelope answers "
            f"{self.not_envelopes}, unreachable calls {self.unreachable}, session lost {self.session_lost}",
            f"  max time to recover {self.max_recover_seconds:.1f} s; end states {dict(sorted(self.statuses.items()))}",
            *(f"  problem: {p}" for p in self.problems[:10]),
        ]


class _Cluster:
    def __init__(self, folder: Path, backend: str, api_servers: int, workers: int, seed: int) -> None:
        self.folder = folder
        self.backend = backend
        self.random = random.Random(seed)
        self.pg: PostgresServer | None = None
        self.pg_folder: Path | None = None
        url = ""
        if backend == "postgres":
            # Not under a private temporary folder: as root, PostgreSQL runs as ``postgres``.
            self.pg_folder = Path(tempfile.mkdtemp(prefix="vaultjobs-chaos-"))
            self.pg = PostgresServer(self.pg_folder, durable_commits=True).start()
            url = self.pg.create_database("chaos")
        common: dict[str, Any] = dict(database_url=url, status_window=0.1, heartbeat_interval=0.5,
                                      heartbeat_timeout=3, poll_interval=0.2,
                                      processors="vaultjobs.processors.chaos_ledger")
        if backend == "postgres":
            self.apis = [LiveServer(folder / f"api{n}", workers=0, **common) for n in range(api_servers)]
        else:
            self.apis = [LiveServer(folder / "node", workers=workers, **common)]
        for server in self.apis:
            server.start()
        self.database_url = url or Settings(data_dir=self.apis[0].data_dir).resolved_database_url
        self.workers: list[subprocess.Popen[str]] = []
        if backend == "postgres":
            self.workers = [self.apis[0].start_worker("--workers", "2") for _ in range(workers)]

    def live_urls(self) -> list[str]:
        return [s.url for s in self.apis if s.process is not None and s.process.poll() is None]

    def kill_one(self) -> str:
        """SIGKILL a random process and start it again; what was killed."""
        targets: list[tuple[str, int]] = [("api", n) for n in range(len(self.apis))]
        targets += [("worker", n) for n in range(len(self.workers))]
        kind, n = self.random.choice(targets)
        if kind == "api":
            self.apis[n].kill()
            self.apis[n].start()
        else:
            self.workers[n].kill()
            self.workers[n].wait(10)
            self.workers[n] = self.apis[0].start_worker("--workers", "2")
        return f"{kind} {n}"

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(10)
        for server in self.apis:
            server.stop()
        if self.pg is not None:
            self.pg.stop()
        if self.pg_folder is not None:
            shutil.rmtree(self.pg_folder, ignore_errors=True)


def _progress(database_url: str) -> tuple[int, int]:
    """Tasks finished, and jobs not ended, in the store now."""
    from vaultjobs.store import open_store
    from vaultjobs.testing import execute

    store = open_store(database_url, pool_size=1)
    try:
        finished = execute(store, "SELECT count(*) FROM tasks WHERE state <> 'QUEUED' AND state <> 'RUNNING'")
        ended = "', '".join(TERMINAL)
        open_jobs = execute(store, f"SELECT count(*) FROM jobs WHERE status NOT IN ('{ended}')")
        return int(finished[0][0]), int(open_jobs[0][0])
    finally:
        store.close()


def run(folder: Path, *, backend: str, jobs: int, api_servers: int = 2, workers: int = 3, kills: int = 10,
        kill_every: float = 3.0, restart_database: bool = True, seed: int = 7, settle: float = 240.0) -> ChaosReport:
    """One chaos run; the report says what, if anything, went wrong."""
    report = ChaosReport(backend=backend)
    ledger = folder / "ledger.txt"
    ledger.touch()
    cluster = _Cluster(folder, backend, api_servers, workers, seed)
    acknowledged: list[int] = []
    lock = threading.Lock()
    done = threading.Event()
    try:
        token = cluster.apis[0].login()

        def answer(response: httpx.Response) -> dict[str, Any] | None:
            """The envelope, or None (and counted) when the answer was not one."""
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or "responseStatus" not in body or not response.headers.get(
                    "X-VaultAPI-Status"):
                with lock:
                    report.not_envelopes += 1
                    report.problems.append(f"{response.request.url.path}: {response.status_code} {response.text[:200]}")
                return None
            return body

        def call(method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
            urls = cluster.live_urls()
            if not urls:
                with lock:
                    report.unreachable += 1
                return None
            try:
                with httpx.Client(base_url=cluster.random.choice(urls), timeout=30) as http:
                    return answer(http.request(method, path, headers={"Authorization": token}, **kwargs))
            except httpx.HTTPError:
                with lock:
                    report.unreachable += 1
                return None

        def submit() -> None:
            for n in range(jobs):
                report.jobs_submitted += 1
                parameters: dict[str, Any]
                if n % 2:
                    name, parameters = "demo", {"items": 4, "chunk_size": 1, "item_seconds": 0.05}
                else:
                    name, parameters = "chaos_ledger", {"items": 3, "seconds": 0.05, "ledger": str(ledger)}
                for _ in range(10):  # as a client would: try again while no server answers
                    body = call("POST", f"/api/{V}/services/jobs/processors/{name}/actions/run",
                                json={"parameters": parameters})
                    if body is not None:
                        break
                    time.sleep(0.3)
                if body is not None and body["responseStatus"] == "SUCCESS":
                    with lock:
                        acknowledged.append(int(body["job_id"]))
                time.sleep(max(0.0, kill_every * kills / max(jobs, 1) * 0.8))

        def poll() -> None:
            while not done.is_set():
                with lock:
                    known = list(acknowledged)
                if known:
                    call("GET", f"/api/{V}/services/jobs/{cluster.random.choice(known)}")
                time.sleep(0.05)

        threads = [threading.Thread(target=submit, daemon=True), threading.Thread(target=poll, daemon=True)]
        for thread in threads:
            thread.start()
        for k in range(kills):
            time.sleep(kill_every)
            before, waiting = _progress(cluster.database_url)
            killed_at = time.monotonic()
            cluster.kill_one()
            report.kills += 1
            if restart_database and cluster.pg is not None and k == kills // 2:
                cluster.pg.restart(down_for=1.0)
                report.database_restarts += 1
            if not waiting:
                continue  # nothing was left to run: no recovery to time
            # Recovered: a task finished after the kill (the time includes restarting what was killed).
            deadline = killed_at + 60
            while time.monotonic() < deadline:
                try:
                    if _progress(cluster.database_url)[0] > before:
                        break
                except Exception:  # noqa: BLE001 - the database restarting
                    pass
                time.sleep(0.1)
            report.max_recover_seconds = max(report.max_recover_seconds, time.monotonic() - killed_at)
        threads[0].join()
        report.acknowledged = len(acknowledged)
        _settle(cluster, acknowledged, settle, report)
        done.set()
        threads[1].join(10)
        final = call("GET", f"/api/{V}/objects/users/me")
        report.session_lost = final is None or final.get("responseStatus") != "SUCCESS"
        lines = ledger.read_text().splitlines()
        report.duplicated = sum(c - 1 for c in Counter(lines).values() if c > 1)
    finally:
        done.set()
        cluster.close()
    return report


def _settle(cluster: _Cluster, acknowledged: list[int], settle: float, report: ChaosReport) -> None:
    from vaultjobs.store import open_store
    from vaultjobs.testing import execute

    store = open_store(cluster.database_url, pool_size=1)
    try:
        deadline = time.monotonic() + settle
        statuses: dict[int, str] = {}
        while True:
            rows = execute(store, "SELECT id, status FROM jobs")
            statuses = {int(r[0]): str(r[1]) for r in rows}
            open_jobs = [j for j in acknowledged if statuses.get(j) not in TERMINAL]
            if not open_jobs or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        report.lost = sum(1 for j in acknowledged if j not in statuses)
        stuck = [j for j in acknowledged if j in statuses and statuses[j] not in TERMINAL]
        report.stuck = len(stuck)
        for job_id in stuck[:5]:
            report.problems.extend(_describe(store, job_id))
        report.statuses = dict(Counter(statuses[j] for j in acknowledged if j in statuses))
        running = execute(store, "SELECT count(*) FROM tasks WHERE state IN ('RUNNING', 'QUEUED')")[0][0]
        if running and not report.stuck:
            report.problems.append(f"{running} tasks still RUNNING or QUEUED after every job ended")
    finally:
        store.close()


def _describe(store: Any, job_id: int) -> list[str]:
    """What a stuck job's rows say: the job, its tasks, its holders' heartbeats and its last log lines."""
    from vaultjobs.testing import execute

    job = execute(store, f"SELECT status, phase, worker_id, moved_by FROM jobs WHERE id = {int(job_id)}")
    tasks = execute(store, f"SELECT seq, state, worker_id, attempts FROM tasks WHERE job_id = {int(job_id)} "
                           "ORDER BY seq")
    workers = execute(store, "SELECT id, heartbeat_at, stopped_at FROM workers")
    log = execute(store, f"SELECT message FROM job_log WHERE job_id = {int(job_id)} ORDER BY at DESC, id DESC LIMIT 6")
    return [f"job {job_id}: (status, phase, worker, moved by) {tuple(job[0]) if job else None}",
            f"  tasks (seq, state, worker, attempts): {[tuple(t) for t in tasks]}",
            f"  workers (id, heartbeat, stopped): {[tuple(w) for w in workers]}",
            *(f"  log: {row[0]}" for row in reversed(log))]
