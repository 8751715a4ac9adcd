"""Test helpers shipped with vaultjobs, registered as a pytest plugin.

:class:`LiveServer` runs a real ``vaultjobs serve`` in a subprocess on a free port, against its own
data folder, so tests speak real HTTP to a real SQLite-backed server. Fixtures:

* ``live_server_factory`` — ``start(**settings)`` starts servers that are stopped after the test;
  settings are :class:`~vaultjobs.settings.Settings` field names (``status_window=0.5`` …).
* ``live_server`` — one server per test module, status window 0.5 s.

For testing a Vault integration (a user's own suite), :mod:`vaultjobs.pytest_plugin` adds
``vault_server`` and ``vault`` and the markers ``vault_seed`` and ``vault_clock``; they are
registered here, with this module's entry point.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.models import Job, Task
from vaultjobs.pytest_plugin import (  # noqa: F401 (the plugin's hooks and fixtures, registered with this module)
    Vault,
    VaultServer,
    pytest_addoption,
    pytest_configure,
    vault,
    vault_server,
)
from vaultjobs.status import JobStatus, TaskState
from vaultjobs.store import FinishedTask, JobEnd, Started, Store, StoreError, TaskOutcome, TaskPlan
from vaultjobs.timeutil import require_aware

ADMIN_PASSWORD = "admin-password-for-tests"
V = "v26.1"
_LISTENING = "vaultjobs listening on "


@dataclass
class Envelope:
    """A Vault response read the same way from JSON or XML, with its envelope checked."""

    http_status: int
    response_status: str
    error_types: list[str]
    headers: httpx.Headers
    body: Any

    @property
    def error_type(self) -> str:
        return self.error_types[0]


def read_envelope(response: httpx.Response) -> Envelope:
    content_type = response.headers.get("content-type", "")
    if "xml" in content_type:
        root = ET.fromstring(response.content)
        assert root.tag == "VaultResponse"
        status = root.findtext("responseStatus") or ""
        types = [e.findtext("type") or "" for e in root.findall("errors/error")]
        body: Any = root
    else:
        assert "application/json" in content_type, content_type
        body = response.json()
        status = body["responseStatus"]
        types = [e["type"] for e in body.get("errors", [])]
    assert response.headers["X-VaultAPI-Status"] == status
    assert response.headers.get("X-VaultAPI-ExecutionId")
    return Envelope(response.status_code, status, types, response.headers, body)


def succeeded(response: httpx.Response) -> dict[str, Any]:
    """The body of a SUCCESS envelope (JSON); fails the test on anything else."""
    env = read_envelope(response)
    assert env.response_status == "SUCCESS", response.text
    body: dict[str, Any] = env.body
    return body


def failed_with(response: httpx.Response, error_type: str) -> str:
    """The message of a FAILURE envelope with exactly ``error_type``; fails the test on anything else."""
    env = read_envelope(response)
    assert env.response_status == "FAILURE", response.text
    assert env.error_types == [error_type], response.text
    return str(env.body["errors"][0]["message"])


def all_records(http: httpx.Client, object_name: str, fields: str) -> list[dict[str, Any]]:
    """Every record of ``object_name`` (``fields`` as the collection takes them), following ``next_page``."""
    out: list[dict[str, Any]] = []
    url: str | None = f"/api/{V}/vobjects/{object_name}?fields={fields}&limit=200"
    while url:
        body = succeeded(http.get(url))
        out.extend(body["data"])
        url = body["responseDetails"].get("next_page")
    return out


def run_demo(http: httpx.Client, token: str, **parameters: Any) -> int:
    """Run the ``demo`` processor with ``parameters``; return the job id."""
    response = http.post(
        f"/api/{V}/services/jobs/processors/demo/actions/run",
        headers={"Authorization": token, "Accept": "application/json"},
        json={"parameters": parameters},
    )
    body = response.json()
    assert body["responseStatus"] == "SUCCESS", body
    assert body["url"] == f"/api/{V}/services/jobs/{body['job_id']}"
    return int(body["job_id"])


class ManualClock:
    """A clock that moves only when told to, for tests of expiry, windows and schedules."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = require_aware(start or datetime(2026, 1, 1, tzinfo=UTC))
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds


# -- store conveniences: one unit of work at a time, as tests drive a store step by step ---------


def execute(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run raw SQL on the store's database (``?`` placeholders); its rows."""
    return [tuple(row) for row in store.dialect.connection().execute(sql, params).fetchall()]


def claim_job(store: Store, worker_id: str, now: datetime) -> Job | None:
    claimed = store.work.claim_jobs(worker_id, now, 1)
    return claimed[0] if claimed else None


def claim_task(store: Store, worker_id: str, now: datetime) -> Task | None:
    claimed = store.work.claim_tasks(worker_id, now, 1)
    return claimed[0] if claimed else None


def start_tasks(
    store: Store,
    job_id: int,
    worker_id: str,
    chunks: list[str],
    now: datetime,
    *,
    claim_first: bool = False,
    logs: Sequence[tuple[datetime, str]] = (),
) -> Started:
    """``store.work.start_tasks_of`` for one job; raises when the worker no longer initialises it."""
    plan = TaskPlan(job_id=job_id, chunks=chunks, logs=logs, claim_first=claim_first)
    (started,) = store.work.start_tasks_of(worker_id, [plan], now)
    if started is None:
        raise StoreError(f"job {job_id} is no longer being initialised by this worker")
    return started


def finish_tasks(store: Store, worker_id: str, finished: Sequence[FinishedTask], now: datetime) -> set[int]:
    """The jobs whose last task this was (which ``worker_id`` now holds in their complete phase)."""
    return set(store.work.finish_tasks_counted(worker_id, finished, now))


def finish_task(
    store: Store,
    job_id: int,
    seq: int,
    worker_id: str,
    outcome: TaskOutcome,
    now: datetime,
    *,
    logs: Sequence[tuple[datetime, str]] = (),
) -> bool:
    """:func:`finish_tasks` for one task: True when this worker now completes its job."""
    finished = FinishedTask(job_id=job_id, seq=seq, outcome=outcome, logs=logs)
    return job_id in finish_tasks(store, worker_id, [finished], now)


def finish_job(
    store: Store,
    job_id: int,
    worker_id: str,
    status: JobStatus,
    now: datetime,
    result: dict[str, Any] | None = None,
    log: str | None = None,
    *,
    logs: Sequence[tuple[datetime, str]] = (),
) -> bool:
    """``store.work.finish_jobs`` for one job, with an optional last log line."""
    end = JobEnd(job_id=job_id, status=status, result=result, logs=[*logs, *([(now, log)] if log else [])])
    return job_id in store.work.finish_jobs(worker_id, [end], now)


def task_counts(store: Store, job_id: int) -> dict[TaskState, int]:
    found = store.jobs.statuses_and_task_counts([job_id])
    return found[job_id][1] if job_id in found else {}


class PostgresServer:
    """A throwaway PostgreSQL server: ``initdb`` in a temporary folder, listening on loopback.

    Runs the server binaries found on PATH or under ``/usr/lib/postgresql/*/bin``; as root they run
    as the ``postgres`` user, since PostgreSQL refuses to run as root.
    """

    def __init__(self, folder: Path, *, durable_commits: bool = False) -> None:
        self.folder = folder
        self.port = 0
        self.url = ""
        #: Off (the default, fast) a crash of the server may lose the last commits it acknowledged;
        #: tests that crash it on purpose want it on, as in production.
        self.durable_commits = durable_commits

    @staticmethod
    def binaries() -> Path | None:
        found = shutil.which("pg_ctl")
        if found:
            return Path(found).resolve().parent
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        return candidates[-1].parent if candidates else None

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        bin_dir = self.binaries()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries (pg_ctl, initdb) are not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "pgdata"
        self._run(str(bin_dir / "initdb"), "-D", str(data), "-U", "vaultjobs", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._pg_ctl_start()
        self.url = f"postgresql://vaultjobs@127.0.0.1:{self.port}/postgres"
        return self

    def _pg_ctl_start(self) -> None:
        bin_dir = self.binaries()
        assert bin_dir is not None
        commits = "on" if self.durable_commits else "off"
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.folder} "
                   f"-c fsync=off -c synchronous_commit={commits} -c full_page_writes=off -c max_connections=300")
        self._run(str(bin_dir / "pg_ctl"), "-D", str(self.folder / "pgdata"), "-o", options, "-l",
                  str(self.folder / "pg.log"), "-w", "start")

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server at once (as a crash would), stay down ``down_for`` s, and start it again on
        the same port and data: every client connection is cut."""
        self.stop()
        time.sleep(down_for)
        self._pg_ctl_start()

    def create_database(self, name: str) -> str:
        """A fresh database on this server; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://vaultjobs@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        bin_dir = self.binaries()
        if bin_dir is not None and (self.folder / "pgdata").exists():
            self._run(str(bin_dir / "pg_ctl"), "-D", str(self.folder / "pgdata"), "-m", "immediate", "stop")


class LiveServer:
    """A ``vaultjobs serve`` subprocess: start, stop (SIGTERM), kill (SIGKILL), restart."""

    def __init__(
        self,
        data_dir: Path,
        *,
        admin_password: str = ADMIN_PASSWORD,
        extra_args: tuple[str, ...] = (),
        extra_env: dict[str, str] | None = None,
        **settings: Any,
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.admin_password = admin_password
        self.extra_args = extra_args
        self.settings = settings
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.stderr_path = data_dir / "server.log"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTJOBS_")}
        env["VAULTJOBS_DATA_DIR"] = str(self.data_dir)
        env["VAULTJOBS_ADMIN_PASSWORD"] = self.admin_password
        env["VAULTJOBS_PORT"] = "0"
        env.update(self.extra_env)
        for name, value in self.settings.items():
            if value is None or value == "":
                continue
            if isinstance(value, list | tuple):
                value = " ".join(str(v) for v in value)  # how click splits multiple-value variables
            env[f"VAULTJOBS_{name.upper()}"] = str(value)
        return env

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.output = []
        stderr = open(self.stderr_path, "a")  # handed to the child process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vaultjobs", "serve", *self.extra_args],
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stderr.close()
        ready = threading.Event()
        self._reader = threading.Thread(target=self._read_output, args=(ready,), daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or not self.url:
            self.kill()
            raise RuntimeError(f"vaultjobs serve did not start; its log:\n{self.log_text()}")
        return self

    def _read_output(self, ready: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith(_LISTENING):
                self.url = line[len(_LISTENING):].strip()
                ready.set()
        ready.set()

    def log_text(self) -> str:
        try:
            return self.stderr_path.read_text()
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._release()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._release()

    def _release(self) -> None:
        assert self.process is not None
        self._reader.join(5.0)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def start_worker(self, *args: str) -> subprocess.Popen[str]:
        """A ``vaultjobs worker`` process on this server's store (the caller stops or kills it)."""
        log = open(self.data_dir / "worker.log", "a")  # handed to the child process
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "vaultjobs", "worker", *args],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        finally:
            log.close()

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    # -- conveniences for tests ------------------------------------------------------------

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def login(self, username: str = "admin", password: str | None = None, version: str = "v26.1") -> str:
        with self.client() as http:
            body = http.post(
                f"/api/{version}/auth",
                data={"username": username, "password": password or self.admin_password},
            ).json()
        if body.get("responseStatus") != "SUCCESS":
            raise RuntimeError(f"login as {username} failed: {body}")
        return str(body["sessionId"])

    def add_user(self, name: str, password: str, *, timezone: str = "UTC", admin: bool = False) -> None:
        args = [sys.executable, "-m", "vaultjobs", "users", "add", name, "--password", password,
                "--timezone", timezone]
        if admin:
            args.append("--admin")
        subprocess.run(args, env=self.environment(), check=True, capture_output=True, text=True)

    def wait_for_status(
        self, token: str, job_id: int, predicate: Callable[[str], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll the status endpoint (honouring Retry-After) until ``predicate(status)``; return ``data``.

        A job that does not exist yet (a schedule's next instance, say) is waited for too.
        """
        deadline = time.monotonic() + timeout
        with self.client(headers={"Authorization": token}) as http:
            while True:
                response = http.get(f"/api/v26.1/services/jobs/{job_id}")
                body = response.json()
                if body["responseStatus"] == "SUCCESS":
                    data: dict[str, Any] = body["data"]
                    if predicate(data["status"]):
                        return data
                    delay = 0.05
                elif body["errors"][0]["type"] == "API_LIMIT_EXCEEDED":
                    delay = 0.05
                elif body["errors"][0]["type"] == "INVALID_DATA" and "does not exist" in body["errors"][0]["message"]:
                    delay = 0.1
                else:
                    raise RuntimeError(f"status of job {job_id} failed: {body}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} did not reach the wanted status; last: {body}")
                time.sleep(delay)

    def __enter__(self) -> LiveServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server for the test session (skipped when PostgreSQL is not installed)."""
    if PostgresServer.binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    # Not under pytest's temporary folder: as root, the server runs as ``postgres``, who cannot enter it.
    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-postgres-"))
    server = PostgresServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test."""
    import re
    import uuid

    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return postgres_server.create_database(name)


@pytest.fixture(scope="session")
def vaultjobs_new_database() -> Callable[[], str]:
    """Makes the database URL for each live server: ``""`` means SQLite in the server's data folder.

    Override it (session scope) to run live servers on PostgreSQL, e.g. with ``postgres_server``.
    """
    return lambda: ""


@pytest.fixture
def live_server_factory(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(*, name: str = "server", **settings: Any) -> LiveServer:
        settings.setdefault("database_url", vaultjobs_new_database())
        server = LiveServer(tmp_path / f"{name}-{len(started)}", **settings)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]
) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("vaultjobs"), status_window=0.5, database_url=vaultjobs_new_database())
    server.start()
    yield server
    server.stop()
