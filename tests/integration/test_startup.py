"""N nodes starting at the same moment on one empty store, as the replicas of a Kubernetes
Deployment do on their first start: every one migrates, bootstraps ``admin`` and serves, and
exactly one ``admin`` exists afterwards."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore, Store, open_store
from vaultjobs.testing import ADMIN_PASSWORD, LiveServer, run_demo

NODES = 3
APPLIED = re.compile(r"applied schema migrations \[([0-9, ]*)\]")


def versions(backend: str) -> list[int]:
    folder = resources.files(f"vaultjobs.store.migrations.{backend}")
    return sorted(int(p.name.split("_", 1)[0]) for p in folder.iterdir() if p.name.endswith(".sql"))

HOURLY = """
[[job]]
name = "hourly"
processor = "demo"
title = "Every hour"
owner = "admin"
interval = "1h"
parameters = { items = 1, item_seconds = 0 }
"""


@pytest.fixture
def nodes(
    tmp_path: Path, backend: str, vaultjobs_new_database: Callable[[], str]
) -> Iterator[Callable[..., list[LiveServer]]]:
    """``start(admin_password, **settings)``: NODES servers started together on one new database.

    On SQLite they share one data folder (and so one database file); on PostgreSQL each has its
    own folder, as each pod has its own disk.
    """
    started: list[LiveServer] = []

    def start(admin_password: str, **settings: Any) -> list[LiveServer]:
        url = vaultjobs_new_database()
        servers = [
            LiveServer(tmp_path / ("shared" if backend == "sqlite" else f"node{n}"), database_url=url,
                       admin_password=admin_password, workers=1, status_window=0.1, **settings)
            for n in range(NODES)
        ]
        started.extend(servers)
        failures: list[BaseException] = []
        go = threading.Barrier(NODES)

        def launch(server: LiveServer) -> None:
            go.wait()
            try:
                server.start(timeout=60)
            except BaseException as exc:  # reported below, with every node's outcome
                failures.append(exc)

        threads = [threading.Thread(target=launch, args=(server,)) for server in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, "\n".join(str(f) for f in failures)
        # every migration was applied once, by whichever node came first to it
        logs = {server.stderr_path: server.log_text() for server in servers}
        applied = [int(v) for text in logs.values() for found in APPLIED.finditer(text)
                   for v in found.group(1).split(",")]
        assert sorted(applied) == versions(backend), logs
        return servers

    yield start
    for server in started:
        server.stop()


@contextlib.contextmanager
def store_of(server: LiveServer) -> Iterator[Store]:
    settings = Settings(data_dir=server.data_dir, database_url=server.settings["database_url"])
    store = open_store(settings.resolved_database_url)
    try:
        yield store
    finally:
        store.close()


def every_node_serves(servers: list[LiveServer], password: str) -> None:
    for server in servers:
        token = server.login("admin", password)
        with server.client() as http:
            job_id = run_demo(http, token, items=2, item_seconds=0)
        assert server.wait_for_status(token, job_id, lambda s: s == "SUCCESS")["status"] == "SUCCESS"
    with store_of(servers[0]) as store:
        assert [u.username for u in store.users.list_users()] == ["admin"]


def test_nodes_started_together_with_one_admin_password(
    nodes: Callable[..., list[LiveServer]], tmp_path: Path
) -> None:
    definitions = tmp_path / "definitions.toml"
    definitions.write_text(HOURLY)
    servers = nodes(ADMIN_PASSWORD, definitions=definitions)
    every_node_serves(servers, ADMIN_PASSWORD)
    assert not any("Created user" in "".join(s.output) for s in servers)
    with store_of(servers[0]) as store:
        assert [d.name for d in store.schedules.list_definitions()] == ["hourly"]


def test_nodes_started_together_generate_one_admin_password(nodes: Callable[..., list[LiveServer]]) -> None:
    servers = nodes("")  # no VAULTJOBS_ADMIN_PASSWORD: the node that creates admin makes one up
    announced = [s for s in servers if any(line.startswith("Created user 'admin'") for line in s.output)]
    assert len(announced) == 1, [s.output for s in servers]
    password = (announced[0].data_dir / "admin-password").read_text().strip()
    assert password in "".join(announced[0].output)
    every_node_serves(servers, password)


MIGRATE = """
import json, sys, time
from pathlib import Path
from vaultjobs.settings import Settings
from vaultjobs.store import SqliteStore, Store, open_store
store = SqliteStore(Path(sys.argv[1]))
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    print(json.dumps(store.migrate()))
except Exception as exc:
    print(json.dumps(f"{type(exc).__name__}: {exc}"))
"""


def test_processes_migrating_one_sqlite_file_at_once(tmp_path: Path) -> None:
    """Each version is applied exactly once, and no process fails, however they interleave."""
    for round_ in range(3):
        path, go = tmp_path / f"round{round_}.db", tmp_path / f"go{round_}"
        processes = [
            subprocess.Popen([sys.executable, "-c", MIGRATE, str(path), str(go)], stdout=subprocess.PIPE, text=True)
            for _ in range(NODES)
        ]
        go.touch()
        outcomes = [json.loads(process.communicate(timeout=60)[0]) for process in processes]
        assert all(isinstance(o, list) for o in outcomes), outcomes
        assert sorted(v for o in outcomes for v in o) == versions("sqlite"), outcomes
        store = SqliteStore(path)
        assert store.migrate() == []
        store.close()
