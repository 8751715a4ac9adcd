"""Export Documents and Binder Export on a whole node in process: content built through the API, each job polled
to its end, its links followed, and the exported bytes compared with what was uploaded."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer

FIELDS = {"type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle"}
FINISHED = {"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    content_server: Callable[..., AbstractContextManager[AppServer]],
) -> Iterator[AppServer]:
    with content_server(tmp_path_factory.mktemp("export"), status_window=0.2) as srv:
        yield srv


class User:
    def __init__(self, server: AppServer, name: str, password: str | None = None) -> None:
        self.server = server
        self.token = server.login(name, password)
        self.http = server.client(headers={"Authorization": self.token})
        self.id = int(self.ok(self.http.get(f"/api/{V}/objects/users/me"))["users"][0]["user"]["id"])

    @staticmethod
    def ok(response: httpx.Response) -> dict[str, Any]:
        env = read(response)
        assert env.response_status == "SUCCESS", response.text
        body: dict[str, Any] = env.body
        return body

    def fails(self, response: httpx.Response, error_type: str) -> None:
        env = read(response)
        assert (env.response_status, env.error_types) == ("FAILURE", [error_type]), response.text

    def document(self, name: str, content: bytes | None, filename: str = "file.pdf") -> int:
        files = None if content is None else {"file": (filename, content)}
        body = self.ok(self.http.post(f"/api/{V}/objects/documents", data={"name__v": name, **FIELDS}, files=files))
        return int(body["id"])

    def new_version(self, doc_id: int, content: bytes, filename: str = "file.pdf") -> None:
        self.ok(self.http.post(f"/api/{V}/objects/documents/{doc_id}", data={"createDraft": "uploadedContent"},
                               files={"file": (filename, content)}))

    def rendition(self, doc_id: int, content: bytes, version: str = "") -> None:
        self.ok(self.http.post(f"/api/{V}/objects/documents/{doc_id}{version}/renditions/viewable_rendition__v",
                               files={"file": ("view.pdf", content)}))

    def wait(self, job_id: int) -> dict[str, Any]:
        return self.server.wait_for_status(self.token, job_id, lambda s: s in FINISHED, timeout=60)

    def link(self, status: dict[str, Any], rel: str) -> str:
        found = [link["href"] for link in status["links"] if link["rel"] == rel]
        assert len(found) == 1, status["links"]
        return found[0]

    def staged(self, path: str) -> bytes:
        response = self.http.get(f"/api/{V}/services/file_staging/items/content{path}")
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture(scope="module")
def alice(server: AppServer) -> Iterator[User]:
    user = User(server, "alice", "alice-password")
    yield user
    user.http.close()


@pytest.fixture(scope="module")
def bob(server: AppServer) -> Iterator[User]:
    user = User(server, "bob", "bob-password")
    yield user
    user.http.close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- Export Documents -------------------------------------------------------------------------


def test_export_documents_end_to_end(alice: User) -> None:
    contents = {alice.document(f"Doc {n}", f"content {n} ".encode() * (n + 1) * 1000, f"doc{n}.pdf"): n
                for n in range(5)}
    ids = list(contents)
    start = alice.ok(alice.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                                     json=[{"id": str(i)} for i in ids]))
    assert isinstance(start["job_id"], str)  # Vault's quirk
    job_id = int(start["job_id"])
    assert start["url"] == f"/api/{V}/services/jobs/{job_id}"
    status = alice.wait(job_id)
    assert status["status"] == "SUCCESS"
    assert status["progress"] == [{"status": "SUCCESS", "size": 5}]
    tasks = alice.ok(alice.http.get(f"/api/{V}/services/jobs/{job_id}/tasks"))
    assert {t["state"] for t in tasks["tasks"]} == {"SUCCESS"} and tasks["responseDetails"]["total"] == 5
    results = alice.ok(alice.http.get(alice.link(status, "artifacts")))["data"]
    assert [r["id"] for r in results] == ids
    for row in results:
        n = contents[row["id"]]
        assert row == {"responseStatus": "SUCCESS", "id": row["id"], "major_version_number__v": 0,
                       "minor_version_number__v": 1, "file": f"/{job_id}/{row['id']}/0_1/doc{n}.pdf",
                       "user_id__v": alice.id}
        assert sha(alice.staged(row["file"])) == sha(f"content {n} ".encode() * (n + 1) * 1000)
    log = alice.http.get(alice.link(status, "log")).text
    assert "export of 5 documents requested" in log and "5 of 5 versions exported" in log


def test_export_all_versions_with_renditions(alice: User) -> None:
    doc_id = alice.document("Versioned", b"v1", "v.txt")
    alice.rendition(doc_id, b"%PDF r1")
    alice.new_version(doc_id, b"v2", "v.txt")
    alice.rendition(doc_id, b"%PDF r2")
    start = alice.ok(alice.http.post(
        f"/api/{V}/objects/documents/batch/actions/fileextract?allversions=true&renditions=true",
        json=[{"id": doc_id}]))
    status = alice.wait(int(start["job_id"]))
    assert status["status"] == "SUCCESS"
    results = alice.ok(alice.http.get(alice.link(status, "artifacts")))["data"]
    assert [(r["major_version_number__v"], r["minor_version_number__v"]) for r in results] == [(0, 1), (0, 2)]
    for row, (source, rendition) in zip(results, [(b"v1", b"%PDF r1"), (b"v2", b"%PDF r2")], strict=True):
        assert alice.staged(row["file"]) == source
        assert [r["rendition_type"] for r in row["renditions"]] == ["viewable_rendition__v"]
        assert alice.staged(row["renditions"][0]["file"]) == rendition


def test_export_document_versions_form(alice: User) -> None:
    doc_id = alice.document("Two versions", b"one")
    alice.new_version(doc_id, b"two")
    start = alice.ok(alice.http.post(f"/api/{V}/objects/documents/versions/batch/actions/fileextract?source=true",
                                     json=[{"id": str(doc_id), "major_version_number__v": "0",
                                            "minor_version_number__v": "1"}]))
    status = alice.wait(int(start["job_id"]))
    [row] = alice.ok(alice.http.get(alice.link(status, "artifacts")))["data"]
    assert (row["minor_version_number__v"], alice.staged(row["file"])) == (1, b"one")


def test_export_partial_failures(alice: User, bob: User) -> None:
    good = alice.document("Good", b"good bytes")
    placeholder = alice.document("No file", None)
    bobs = bob.document("Bob's", b"bob only")
    missing = 987654
    ids = [good, missing, placeholder, bobs]
    start = alice.ok(alice.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                                     json=[{"id": i} for i in ids]))
    job_id = int(start["job_id"])
    status = alice.wait(job_id)
    assert status["status"] == "ERRORS_ENCOUNTERED"
    assert status["progress"] == [{"status": "SUCCESS", "size": 1}, {"status": "ERRORS_ENCOUNTERED", "size": 3}]
    results = alice.ok(alice.http.get(alice.link(status, "artifacts")))["data"]
    assert [r["id"] for r in results] == ids
    assert [r["responseStatus"] for r in results] == ["SUCCESS", "FAILURE", "FAILURE", "FAILURE"]
    assert [r["errors"][0]["type"] for r in results[1:]] == ["INVALID_DATA", "INVALID_DATA", "INSUFFICIENT_ACCESS"]
    assert alice.staged(results[0]["file"]) == b"good bytes"
    # nothing of Bob's document reached Alice's file staging
    listing = alice.ok(alice.http.get(f"/api/{V}/services/file_staging/items/{job_id}?recursive=true"))["data"]
    assert {i["path"].split("/")[2] for i in listing if i["kind"] == "file"} == {str(good)}
    log = alice.http.get(alice.link(status, "log")).text
    assert f"document {missing} not exported" in log and "has no source file" in log


def test_export_missing_rendition_fails_that_document(alice: User) -> None:
    with_rendition = alice.document("With", b"w")
    alice.rendition(with_rendition, b"%PDF w")
    without = alice.document("Without", b"wo")
    start = alice.ok(alice.http.post(
        f"/api/{V}/objects/documents/batch/actions/fileextract?renditions=true&source=false",
        json=[{"id": with_rendition}, {"id": without}]))
    status = alice.wait(int(start["job_id"]))
    assert status["status"] == "ERRORS_ENCOUNTERED"
    first, second = alice.ok(alice.http.get(alice.link(status, "artifacts")))["data"]
    assert first["responseStatus"] == "SUCCESS" and "file" not in first
    assert alice.staged(first["renditions"][0]["file"]) == b"%PDF w"
    assert second["responseStatus"] == "FAILURE" and "no renditions" in second["errors"][0]["message"]


def test_admin_exports_anyones_documents(server: AppServer, bob: User) -> None:
    doc_id = bob.document("Bob's report", b"report")
    admin = User(server, "admin")
    start = admin.ok(admin.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract", json=[{"id": doc_id}]))
    status = admin.wait(int(start["job_id"]))
    [row] = admin.ok(admin.http.get(admin.link(status, "artifacts")))["data"]
    assert admin.staged(f"/u{admin.id}{row['file']}") == b"report"
    # results belong to the job's creator (and admins)
    bob.fails(bob.http.get(admin.link(status, "artifacts")), "INSUFFICIENT_ACCESS")
    admin.http.close()


@pytest.mark.parametrize(
    ("query", "body", "error_type"),
    [
        ("", b"", "INVALID_DATA"),
        ("", b"not json", "INVALID_DATA"),
        ("", b"[]", "INVALID_DATA"),
        ("", b'{"id": "1"}', "INVALID_DATA"),
        ("", b'[{"name": "x"}]', "PARAMETER_REQUIRED"),
        ("", b'[{"id": "abc"}]', "INVALID_DATA"),
        ("", b'[{"id": true}]', "INVALID_DATA"),
        ("?source=maybe", b'[{"id": "1"}]', "INVALID_DATA"),
        ("?source=false&renditions=false", b'[{"id": "1"}]', "INVALID_DATA"),
        ("?text=true", b'[{"id": "1"}]', "INVALID_DATA"),
    ],
)
def test_bad_export_requests(alice: User, query: str, body: bytes, error_type: str) -> None:
    alice.fails(alice.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract{query}", content=body,
                                headers={"Content-Type": "application/json"}), error_type)


def test_bad_version_export_and_results_requests(alice: User) -> None:
    alice.fails(alice.http.post(f"/api/{V}/objects/documents/versions/batch/actions/fileextract",
                                json=[{"id": "1", "major_version_number__v": "0"}]), "PARAMETER_REQUIRED")
    alice.fails(alice.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                                json=[{"id": str(n)} for n in range(1, 10_002)]), "INVALID_DATA")
    base = f"/api/{V}/objects/documents/batch/actions/fileextract"
    alice.fails(alice.http.get(f"{base}/abc/results"), "INVALID_DATA")
    alice.fails(alice.http.get(f"{base}/99999/results"), "INVALID_DATA")
    demo = alice.ok(alice.http.post(f"/api/{V}/services/jobs/processors/demo/actions/run",
                                    json={"parameters": {"items": 1, "item_seconds": 0}}))
    alice.fails(alice.http.get(f"{base}/{demo['job_id']}/results"), "INVALID_DATA")  # not an export job


def test_results_wait_for_the_end(alice: User) -> None:
    ids = [alice.document(f"Slow {n}", b"x" * 10) for n in range(3)]
    start = alice.ok(alice.http.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                                     json=[{"id": i} for i in ids]))
    response = alice.http.get(f"/api/{V}/objects/documents/batch/actions/fileextract/{start['job_id']}/results")
    env = read(response)
    if env.response_status == "FAILURE":  # still queued or running: not available yet
        assert env.error_types == ["OPERATION_NOT_ALLOWED"]
    status = alice.wait(int(start["job_id"]))
    assert status["status"] == "SUCCESS"


# -- Binder Export ----------------------------------------------------------------------------


def build_binder(user: User) -> tuple[int, dict[str, bytes], dict[str, str]]:
    """A binder with two sections (one nested) and three documents; returns (id, zip path → bytes, node ids)."""
    files = {"a": b"%PDF overview " * 500, "b": b"label text " * 300, "c": b"nested bytes"}
    docs = {k: user.document(f"Doc {k.upper()}", v, f"{k}.pdf") for k, v in files.items()}
    user.rendition(docs["a"], b"%PDF rendition of a")
    binder = user.ok(user.http.post(f"/api/{V}/objects/binders", data={"name__v": "Nyaxa Package", **FIELDS}))["id"]
    base = f"/api/{V}/objects/binders/{binder}"
    s1 = user.ok(user.http.post(f"{base}/sections", data={"name__v": "Labeling", "section_number__v": "1"}))["id"]
    s2 = user.ok(user.http.post(f"{base}/sections", data={"name__v": "US", "parent_id__v": s1}))["id"]
    user.ok(user.http.post(f"{base}/documents", data={"document_id__v": str(docs["a"])}))
    user.ok(user.http.post(f"{base}/documents", data={"document_id__v": str(docs["b"]), "parent_id__v": s1}))
    user.ok(user.http.post(f"{base}/documents", data={"document_id__v": str(docs["c"]), "parent_id__v": s2}))
    expected = {"a.pdf": files["a"], "1 Labeling/b.pdf": files["b"], "1 Labeling/US/c.pdf": files["c"]}
    return binder, expected, {"s1": s1, "s2": s2, **{k: str(v) for k, v in docs.items()}}


def export_zip(user: User, url: str, body: Any = None) -> tuple[dict[str, Any], zipfile.ZipFile]:
    start = user.ok(user.http.post(url, json=body) if body is not None else user.http.post(url))
    assert start["responseMessage"] == "Job for Binder Export Started"
    assert isinstance(start["job_id"], int)
    assert start["URL"] == f"{user.http.base_url}/api/{V}/services/jobs/{start['job_id']}"  # absolute, upper-case
    status = user.wait(start["job_id"])
    content = user.http.get(user.link(status, "content"))
    assert content.status_code == 200
    listing = user.ok(user.http.get(user.link(status, "file")))["data"]
    assert listing[0]["size"] == len(content.content)
    return status, zipfile.ZipFile(io.BytesIO(content.content))


def test_binder_export_end_to_end(alice: User) -> None:
    binder, expected, _ = build_binder(alice)
    status, archive = export_zip(alice, f"/api/{V}/objects/binders/{binder}/actions/export")
    assert status["status"] == "SUCCESS" and status["progress"] == [{"status": "SUCCESS", "size": 3}]
    names = archive.namelist()
    assert {"1 Labeling/", "1 Labeling/US/"} <= set(names)
    for name, data in expected.items():
        assert sha(archive.read(name)) == sha(data)
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert {r["file"]: r["name__v"] for r in rows} == {
        "a.pdf": "Doc A", "1 Labeling/b.pdf": "Doc B", "1 Labeling/US/c.pdf": "Doc C"}
    result = alice.ok(alice.http.get(alice.link(status, "artifacts")))
    assert result == {"responseStatus": "SUCCESS", "job_id": status["id"], "id": binder,
                      "major_version_number__v": 0, "minor_version_number__v": 1,
                      "file": f"/{status['id']}/{binder}/0_1/Nyaxa Package.zip", "user_id__v": alice.id}
    assert alice.staged(result["file"]) == alice.staged(f"/u{alice.id}{result['file']}")


def test_binder_export_sections_renditions_and_versions(alice: User) -> None:
    binder, expected, nodes = build_binder(alice)
    # only the nested section, by node id (Export Binder Sections)
    _, archive = export_zip(alice, f"/api/{V}/objects/binders/{binder}/actions/export?docfield=false",
                            [{"id": nodes["s2"]}])
    assert [n for n in archive.namelist() if not n.endswith("/")] == ["1 Labeling/US/c.pdf"]
    # renditions, no source: documents without that rendition are reported and left out
    status, archive = export_zip(
        alice, f"/api/{V}/objects/binders/{binder}/actions/export?source=false&renditiontype=viewable_rendition__v")
    assert status["status"] == "ERRORS_ENCOUNTERED"
    assert archive.read("a.viewable_rendition__v.pdf") == b"%PDF rendition of a"
    result = alice.ok(alice.http.get(alice.link(status, "artifacts")))
    assert len(result["warnings"]) == 2 and "has no rendition" in result["warnings"][0]["message"]
    # a version of the binder: later changes are not in it
    alice.ok(alice.http.post(f"/api/{V}/objects/binders/{binder}"))
    extra = alice.document("Later", b"later")
    alice.ok(alice.http.post(f"/api/{V}/objects/binders/{binder}/documents", data={"document_id__v": str(extra)}))
    _, archive = export_zip(alice, f"/api/{V}/objects/binders/{binder}/versions/0/1/actions/export")
    assert sorted(n for n in archive.namelist() if not n.endswith("/")) == sorted([*expected, "metadata.csv"])
    # all versions of each document
    alice.new_version(int(nodes["a"]), b"a second", "a.pdf")
    _, archive = export_zip(alice, f"/api/{V}/objects/binders/{binder}/actions/export?docversion=major_minor")
    assert archive.read("a_v0_1.pdf") == expected["a.pdf"] and archive.read("a_v0_2.pdf") == b"a second"


def test_binder_export_leaves_out_unreadable_documents(alice: User, bob: User) -> None:
    binder, _, nodes = build_binder(alice)
    bobs = bob.document("Bob's", b"bob")
    # Bob shares his document with Alice, who files it in her binder
    bob.ok(bob.http.post(f"/api/{V}/objects/documents/{bobs}/roles", data={"viewer__v.users": str(alice.id)}))
    alice.ok(alice.http.post(f"/api/{V}/objects/binders/{binder}/documents", data={"document_id__v": str(bobs)}))
    alice.ok(alice.http.post(f"/api/{V}/objects/documents/{nodes['a']}/roles",
                             data={"viewer__v.users": str(bob.id)}))
    # binders are documents: the same roles endpoint shares them
    alice.ok(alice.http.post(f"/api/{V}/objects/documents/{binder}/roles", data={"viewer__v.users": str(bob.id)}))
    # Bob may read the binder and document a, not b and c: his export has a, and his own document
    status, archive = export_zip(bob, f"/api/{V}/objects/binders/{binder}/actions/export?docfield=false")
    assert status["status"] == "ERRORS_ENCOUNTERED"
    files = sorted(n for n in archive.namelist() if not n.endswith("/"))
    assert files == ["a.pdf", "file.pdf"]
    result = bob.ok(bob.http.get(bob.link(status, "artifacts")))
    assert {w["type"] for w in result["warnings"]} == {"INSUFFICIENT_ACCESS"}


@pytest.mark.parametrize(
    ("suffix", "error_type"),
    [
        ("?source=perhaps", "INVALID_DATA"),
        ("?docversion=all", "INVALID_DATA"),
        ("?renditiontype=Not A Type", "INVALID_DATA"),
        ("?attachments=some", "INVALID_DATA"),
        ("?submission=nope", "INVALID_DATA"),
        ("?source=false&docfield=false", "INVALID_DATA"),
    ],
)
def test_bad_binder_export_parameters(alice: User, suffix: str, error_type: str) -> None:
    binder = alice.ok(alice.http.post(f"/api/{V}/objects/binders", data={"name__v": "B", **FIELDS}))["id"]
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/{binder}/actions/export{suffix}"), error_type)


def test_bad_binder_export_targets(alice: User, bob: User) -> None:
    binder = alice.ok(alice.http.post(f"/api/{V}/objects/binders", data={"name__v": "B", **FIELDS}))["id"]
    doc = alice.document("D", b"d")
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/424242/actions/export"), "INVALID_DATA")
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/{doc}/actions/export"), "INVALID_DATA")
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/{binder}/versions/3/0/actions/export"), "INVALID_DATA")
    bob.fails(bob.http.post(f"/api/{V}/objects/binders/{binder}/actions/export"), "INSUFFICIENT_ACCESS")
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/{binder}/actions/export", content=b"{",
                                headers={"Content-Type": "application/json"}), "INVALID_DATA")
    alice.fails(alice.http.post(f"/api/{V}/objects/binders/{binder}/actions/export", content=b"name\nx\n",
                                headers={"Content-Type": "text/csv"}), "INVALID_DATA")
    alice.fails(alice.http.get(f"/api/{V}/objects/binders/actions/export/0/results"), "INVALID_DATA")
