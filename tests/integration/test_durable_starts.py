"""Every job start the API acknowledged survives ``kill -9`` of the server right after: starts arrive
from many connections at once (so they are inserted in shared batches) while the server is killed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from vaultjobs.settings import Settings
from vaultjobs.store import open_store
from vaultjobs.testing import LiveServer, V

CONNECTIONS = 12


def test_every_acknowledged_start_survives_a_kill(tmp_path: Path, vaultjobs_new_database: Callable[[], str]) -> None:
    server = LiveServer(tmp_path / "data", database_url=vaultjobs_new_database(), workers=0)
    server.start()
    acknowledged: list[int] = []
    lock = threading.Lock()
    enough = threading.Event()

    def submit() -> None:
        body = {"parameters": {"items": 1, "item_seconds": 0}}
        with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=10) as http:
            while True:
                try:
                    answer = http.post(f"/api/{V}/services/jobs/processors/demo/actions/run", json=body).json()
                except httpx.HTTPError:
                    return  # the server is gone: this start was never acknowledged
                assert answer["responseStatus"] == "SUCCESS", answer
                with lock:
                    acknowledged.append(int(answer["job_id"]))
                    if len(acknowledged) >= 300:
                        enough.set()

    try:
        token = server.login()
        threads = [threading.Thread(target=submit) for _ in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        assert enough.wait(60)
        server.kill()
        for thread in threads:
            thread.join(30)
        assert len(set(acknowledged)) == len(acknowledged)
        settings = Settings(data_dir=server.data_dir, database_url=server.settings["database_url"])
        store = open_store(settings.resolved_database_url)
        try:
            ids = set(store.jobs.get_jobs(sorted(acknowledged)))
        finally:
            store.close()
        missing = set(acknowledged) - ids
        assert not missing, f"{len(missing)} acknowledged jobs lost, e.g. {sorted(missing)[:5]}"
    finally:
        server.stop()
