"""Import Submission and Export Submission on a whole node in process: an eCTD-style zip staged through the API,
imported into a binder, exported again, and the round trip compared byte for byte."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from vaultjobs.testing import V
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer

FINISHED = {"SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY"}
SUBMISSION = {
    "0001/index.xml": b"<?xml version='1.0'?><ectd/>",
    "0001/m1/us/cover-letter.pdf": b"%PDF cover letter " * 200,
    "0001/m1/us/1571.pdf": b"%PDF form 1571",
    "0001/m2/23-qos/quality-overall-summary.pdf": b"%PDF QOS " * 1000,
    "0001/m3/32-body-data/32p-drug-prod/description.pdf": b"%PDF description",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    content_server: Callable[..., AbstractContextManager[AppServer]],
) -> Iterator[AppServer]:
    with content_server(tmp_path_factory.mktemp("submissions"), status_window=0.2) as srv:
        yield srv


def client(server: AppServer, name: str, password: str) -> tuple[httpx.Client, str]:
    token = server.login(name, password)
    return server.client(headers={"Authorization": token}), token


@pytest.fixture(scope="module")
def alice(server: AppServer) -> Iterator[tuple[httpx.Client, str]]:
    http, token = client(server, "alice", "alice-password")
    yield http, token
    http.close()


def ok(response: httpx.Response) -> dict[str, Any]:
    env = read(response)
    assert env.response_status == "SUCCESS", response.text
    body: dict[str, Any] = env.body
    return body


def fails(response: httpx.Response, error_type: str) -> None:
    env = read(response)
    assert (env.response_status, env.error_types) == ("FAILURE", [error_type]), response.text


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def stage(http: httpx.Client, path: str, data: bytes) -> None:
    ok(http.post(f"/api/{V}/services/file_staging/items", data={"kind": "file", "path": path, "overwrite": "true"},
                 files={"file": (path.rsplit("/", 1)[-1], data)}))


def link(status: dict[str, Any], rel: str) -> str:
    [href] = [item["href"] for item in status["links"] if item["rel"] == rel]
    return str(href)


def import_submission(server: AppServer, http: httpx.Client, token: str, sid: str, path: str
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    start = ok(http.post(f"/api/{V}/vobjects/submission__v/{sid}/actions/import", data={"file": path}))
    assert isinstance(start["job_id"], int) and start["url"] == f"/api/{V}/services/jobs/{start['job_id']}"
    status = server.wait_for_status(token, start["job_id"], lambda s: s in FINISHED, timeout=60)
    return start, status


def test_import_then_export_submission_round_trip(server: AppServer, alice: tuple[httpx.Client, str]) -> None:
    http, token = alice
    stage(http, "/Submissions Archive Import/nda123456/0001.zip", make_zip(SUBMISSION))
    start, status = import_submission(server, http, token, "0001", "/Submissions Archive Import/nda123456/0001.zip")
    assert "warnings" not in start  # the folder is named like the submission
    assert status["status"] == "SUCCESS" and status["progress"] == [{"status": "SUCCESS", "size": 5}]
    results = ok(http.get(link(status, "artifacts")))
    [binder] = results["data"]
    assert binder["responseStatus"] == "SUCCESS"
    assert (binder["major_version_number__v"], binder["minor_version_number__v"]) == ("0", "1")  # strings
    tree = ok(http.get(f"/api/{V}/objects/binders/{binder['id']}?depth=all"))["binder"]["nodes"]
    [top] = tree
    assert top["properties"]["name__v"] == "0001"
    assert [n["properties"]["name__v"] for n in top["nodes"]] == ["index.xml", "m1", "m2", "m3"]
    log = http.get(link(status, "log")).text
    assert "submission 0001 imported" in log and "5 of 5 files" in log
    # Export Submission: the binder export with ?submission= gives the same tree and bytes back
    export = ok(http.post(f"/api/{V}/objects/binders/{binder['id']}/actions/export?submission=0001"))
    assert export["URL"].endswith(f"/services/jobs/{export['job_id']}")
    done = server.wait_for_status(token, export["job_id"], lambda s: s in FINISHED, timeout=60)
    assert done["status"] == "SUCCESS"
    archive = zipfile.ZipFile(io.BytesIO(http.get(link(done, "content")).content))
    exported = {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    assert exported == SUBMISSION
    result = ok(http.get(link(done, "artifacts")))
    assert result["id"] == binder["id"] and result["file"].endswith(".zip")
    # imported once: a second import of the same submission is refused
    fails(http.post(f"/api/{V}/vobjects/submission__v/0001/actions/import",
                    data={"file": "/Submissions Archive Import/nda123456/0001.zip"}), "OPERATION_NOT_ALLOWED")


def test_import_from_a_folder_warns_on_a_name_mismatch(server: AppServer, alice: tuple[httpx.Client, str]) -> None:
    http, token = alice
    for name, data in SUBMISSION.items():
        stage(http, f"/Submissions Archive Import/nda2/{name}", data)
    start, status = import_submission(server, http, token, "SUB_2", "/Submissions Archive Import/nda2/0001")
    assert start["warnings"] == [{"type": "SUBMISSION_MISMATCH",
                                  "message": "Submission folder name does not match the Submission record name."}]
    assert list(start) == ["responseStatus", "warnings", "job_id", "url"]
    assert status["status"] == "SUCCESS"


def test_import_partial_failures(server: AppServer, alice: tuple[httpx.Client, str]) -> None:
    http, token = alice
    data = make_zip({**SUBMISSION, "0001/../../escape.pdf": b"evil", "0001/m1/corrupt.pdf": b"will be corrupted"})
    # flip a byte of one entry's data, so that it no longer inflates or matches its CRC
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo("0001/m1/corrupt.pdf")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra)
    broken = bytearray(data)
    broken[offset] ^= 0xFF
    stage(http, "/Submissions Archive Import/nda3/0001.zip", bytes(broken))
    _, status = import_submission(server, http, token, "SUB_3", "/Submissions Archive Import/nda3/0001.zip")
    assert status["status"] == "ERRORS_ENCOUNTERED"
    results = ok(http.get(link(status, "artifacts")))
    assert results["data"][0]["responseStatus"] == "SUCCESS"
    heading, files = results["importMessages"]["validationError"]
    assert heading == ["The following files could not be imported:", "Error"]
    assert len(files["validationFileData"]) == 2
    assert any("escape.pdf" in line and "leaves the submission folder" in line
               for line in files["validationFileData"])
    assert any("corrupt.pdf" in line for line in files["validationFileData"])
    # nothing was written outside the user's area
    assert not (server.data_dir / "staging" / "escape.pdf").exists()


def test_bad_import_requests(server: AppServer, alice: tuple[httpx.Client, str]) -> None:
    http, _ = alice
    base = f"/api/{V}/vobjects/submission__v"
    stage(http, "/not-a-zip.zip", b"plain text")
    fails(http.post(f"{base}/S1/actions/import", data={}), "PARAMETER_REQUIRED")
    fails(http.post(f"{base}/S1/actions/import", data={"file": "/missing.zip"}), "INVALID_DATA")
    fails(http.post(f"{base}/S1/actions/import", data={"file": "/not-a-zip.zip"}), "INVALID_DATA")
    fails(http.post(f"{base}/S1/actions/import", data={"file": "/../etc"}), "INVALID_DATA")
    fails(http.post(f"{base}/bad%20id/actions/import", data={"file": "/x.zip"}), "INVALID_DATA")
    fails(http.get(f"{base}/S1/actions/import/abc/results"), "INVALID_DATA")
    fails(http.get(f"{base}/S1/actions/import/424242/results"), "INVALID_DATA")


def test_other_users_cannot_read_import_results(server: AppServer, alice: tuple[httpx.Client, str]) -> None:
    http, token = alice
    stage(http, "/sub4/0004.zip", make_zip({"0004/a.pdf": b"a"}))
    _, status = import_submission(server, http, token, "0004", "/sub4/0004.zip")
    bob, _ = client(server, "bob", "bob-password")
    with bob:
        fails(bob.get(link(status, "artifacts")), "INSUFFICIENT_ACCESS")
        # Bob cannot import from Alice's folder: paths are his own
        fails(bob.post(f"/api/{V}/vobjects/submission__v/0005/actions/import", data={"file": "/sub4/0004.zip"}),
              "INVALID_DATA")
        binder = ok(http.get(link(status, "artifacts")))["data"][0]["id"]
        fails(bob.post(f"/api/{V}/objects/binders/{binder}/actions/export?submission=0004"), "INSUFFICIENT_ACCESS")


def test_concurrent_imports_of_one_submission_accept_exactly_one(
    server: AppServer, alice: tuple[httpx.Client, str]
) -> None:
    """The reservation of a submission and the creation of its import job are one transaction: no
    second import slips in between them, however the requests interleave."""
    http, token = alice
    stage(http, "/race/0042.zip", make_zip({f"0042/{k.split('/', 1)[1]}": v for k, v in SUBMISSION.items()}))
    for round_ in range(5):
        sid = f"0042_{round_}"
        barrier = threading.Barrier(6)

        def attempt(sid: str, barrier: threading.Barrier) -> httpx.Response:
            barrier.wait()
            return http.post(f"/api/{V}/vobjects/submission__v/{sid}/actions/import", data={"file": "/race/0042.zip"})

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(attempt, sid, barrier) for _ in range(6)]
            answers = [read(f.result()) for f in futures]
        accepted = [a for a in answers if a.response_status == "SUCCESS"]
        assert len(accepted) == 1, [(a.response_status, a.error_types) for a in answers]
        assert all(a.error_types == ["OPERATION_NOT_ALLOWED"] for a in answers if a.response_status != "SUCCESS")
        server.wait_for_status(token, accepted[0].body["job_id"], lambda s: s in FINISHED, timeout=60)
