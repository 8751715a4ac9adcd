"""Document files on a cluster: two nodes on one PostgreSQL database, each with its own data folder.
A document uploaded through node A is downloaded through node B and exported by node B's worker,
because its bytes are in the database, not in A's folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V, failed_with
from vaultjobs.testing import read_envelope as read

from .conftest import CONTENT_PROCESSORS, AppServer, AppServerFactory

FIELDS = {"name__v": "Shared", "type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle"}
FINISHED = {"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"}
NodePair = tuple[AppServer, AppServer]


@contextmanager
def two_nodes(app_server_factory: AppServerFactory, folder: Path, backend: str, **settings: Any) -> Iterator[NodePair]:
    """Node A only answers; node B answers and runs a worker. Separate folders, one database."""
    if backend != "postgres":
        pytest.skip("a cluster of nodes with separate data folders needs PostgreSQL")
    a = app_server_factory(folder / "a", processors=CONTENT_PROCESSORS, status_window=0, workers=0, **settings)
    b = AppServer(folder / "b", database_url=a.settings.database_url, processors=CONTENT_PROCESSORS,
                  status_window=0, workers=1, poll_interval=0.05, **settings)
    with a, b:
        a.add_user("alice", "alice-password")  # not an admin: export paths are relative to her own folder
        yield a, b


@pytest.fixture
def nodes(app_server_factory: AppServerFactory, tmp_path: Path, backend: str) -> Iterator[NodePair]:
    with two_nodes(app_server_factory, tmp_path, backend) as pair:
        yield pair


def ok(response: httpx.Response) -> dict[str, object]:
    env = read(response)
    assert env.response_status == "SUCCESS", response.text
    body: dict[str, object] = env.body
    return body


def test_a_document_uploaded_on_one_node_is_downloaded_and_exported_on_another(nodes: NodePair) -> None:
    a, b = nodes
    content = b"%PDF uploaded through node A " * 100_000  # ~3 MB: several database chunks
    rendition = b"%PDF viewable rendition"
    with a.client(headers={"Authorization": a.login("alice", "alice-password")}) as on_a:
        doc_id = int(str(ok(on_a.post(f"/api/{V}/objects/documents", data=FIELDS,
                                      files={"file": ("shared.pdf", content)}))["id"]))
        ok(on_a.post(f"/api/{V}/objects/documents/{doc_id}/renditions/viewable_rendition__v",
                     files={"file": ("view.pdf", rendition)}))
    assert not (a.data_dir / "files").exists() and not (b.data_dir / "files").exists()

    token = b.login("alice", "alice-password")
    with b.client(headers={"Authorization": token}) as on_b:
        got = on_b.get(f"/api/{V}/objects/documents/{doc_id}/file")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(content).digest()
        assert got.headers["content-length"] == str(len(content))
        assert got.headers["content-disposition"] == 'attachment; filename="shared.pdf"'
        assert on_b.get(f"/api/{V}/objects/documents/{doc_id}/renditions/viewable_rendition__v").content \
            == rendition

        start = ok(on_b.post(f"/api/{V}/objects/documents/batch/actions/fileextract?renditions=true",
                             json=[{"id": str(doc_id)}]))
        job_id = int(str(start["job_id"]))
        status = b.wait_for_status(token, job_id, lambda s: s in FINISHED, timeout=60)
        assert status["status"] == "SUCCESS"
        results = ok(on_b.get(f"/api/{V}/objects/documents/batch/actions/fileextract/{job_id}/results"))["data"]
        assert isinstance(results, list) and len(results) == 1
        row = results[0]
        assert row["responseStatus"] == "SUCCESS", row
        staged = on_b.get(f"/api/{V}/services/file_staging/items/content{row['file']}")
        assert staged.status_code == 200 and staged.content == content
        rendition_path = row["renditions"][0]["file"]
        assert on_b.get(f"/api/{V}/services/file_staging/items/content{rendition_path}").content == rendition


def test_with_local_document_files_another_node_says_the_file_is_not_there(
    app_server_factory: AppServerFactory, tmp_path: Path, backend: str
) -> None:
    """``content_blobs=local`` is for one node: on two, B answers a clear error, not a broken download."""
    with two_nodes(app_server_factory, tmp_path, backend, content_blobs="local") as (a, b):
        with a.client(headers={"Authorization": a.login("alice", "alice-password")}) as on_a:
            doc_id = int(str(ok(on_a.post(f"/api/{V}/objects/documents", data=FIELDS,
                                          files={"file": ("local.pdf", b"only on A")}))["id"]))
            assert on_a.get(f"/api/{V}/objects/documents/{doc_id}/file").content == b"only on A"
        with b.client(headers={"Authorization": b.login("alice", "alice-password")}) as on_b:
            message = failed_with(on_b.get(f"/api/{V}/objects/documents/{doc_id}/file"), "INVALID_DATA")
        assert "not stored on this server" in message and "content_blobs=auto" in message
