"""Document files across real processes: two API servers and a worker process on one PostgreSQL
database, each with its own data folder; only file staging is shared (a symlink stands in for the
shared mount the cluster docs ask for). A document uploaded through one server is downloaded through
the other and exported by the worker, and the export is read back through the first server."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.testing import LiveServer, PostgresServer, V

PROCESSORS = "vaultjobs.processors.export_documents"
FIELDS = {"name__v": "Shared", "type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle"}
FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY")


def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["responseStatus"] == "SUCCESS", response.text
    return body


def test_a_document_crosses_api_servers_and_a_worker_with_their_own_folders(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database("cluster_content")
    shared_staging = tmp_path / "shared-staging"
    shared_staging.mkdir()
    folders = [tmp_path / name for name in ("api0", "api1", "worker")]
    for folder in folders:
        folder.mkdir()
        (folder / "staging").symlink_to(shared_staging, target_is_directory=True)
    api = [LiveServer(folder, database_url=url, workers=0, processors=PROCESSORS, status_window=0)
           for folder in folders[:2]]
    for server in api:
        server.start()
    worker = api[0].start_worker("--data-dir", str(folders[2]), "--concurrency", "1")
    try:
        api[0].add_user("alice", "alice-password")
        content = os.urandom(3 * 1024 * 1024 + 17)  # several database chunks
        with api[0].client(headers={"Authorization": api[0].login("alice", "alice-password")}) as on_0:
            doc_id = int(ok(on_0.post(f"/api/{V}/objects/documents", data=FIELDS,
                                      files={"file": ("shared.bin", content)}))["id"])

        token = api[1].login("alice", "alice-password")
        with api[1].client(headers={"Authorization": token}) as on_1:
            got = on_1.get(f"/api/{V}/objects/documents/{doc_id}/file")
            assert got.status_code == 200
            assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(content).hexdigest()
            job_id = int(ok(on_1.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                                      json=[{"id": str(doc_id)}]))["job_id"])
        status = api[1].wait_for_status(token, job_id, lambda s: s in FINISHED, timeout=60)
        assert status["status"] == "SUCCESS", status

        with api[0].client(headers={"Authorization": token}) as on_0:
            rows = ok(on_0.get(f"/api/{V}/objects/documents/batch/actions/fileextract/{job_id}/results"))["data"]
            assert [row["responseStatus"] for row in rows] == ["SUCCESS"]
            staged = on_0.get(f"/api/{V}/services/file_staging/items/content{rows[0]['file']}")
            assert staged.status_code == 200 and staged.content == content
        for folder in folders:  # the bytes went through the database, not any node's folder
            assert not (folder / "files").exists() or not any((folder / "files").rglob("*"))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        for server in api:
            server.stop()
