"""The content repository through the whole app in process: documents, versions, renditions, roles, binders and file
staging, with the bytes checked on the way back, and Vault errors for bad input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from vaultjobs.content.blobs import blob_store_for
from vaultjobs.testing import V
from vaultjobs.testing import read_envelope as read

from .conftest import AppServer

FIELDS = {"name__v": "Cholecap Brochure", "type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle"}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    content_server: Callable[..., AbstractContextManager[AppServer]],
) -> Iterator[AppServer]:
    with content_server(tmp_path_factory.mktemp("documents"), status_window=0.5) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: AppServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login()}) as client:
        yield client


@pytest.fixture(scope="module")
def alice(server: AppServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login("alice", "alice-password")}) as client:
        yield client


@pytest.fixture(scope="module")
def bob(server: AppServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login("bob", "bob-password")}) as client:
        yield client


def ok(response: httpx.Response) -> dict[str, Any]:
    env = read(response)
    assert env.response_status == "SUCCESS", response.text
    body: dict[str, Any] = env.body
    return body


def fails(response: httpx.Response, error_type: str) -> None:
    env = read(response)
    assert env.http_status == 200
    assert env.response_status == "FAILURE", response.text
    assert env.error_types == [error_type], response.text
    assert "Traceback" not in response.text


def create(client: httpx.Client, content: bytes | None, name: str = "brochure.pdf", **fields: str) -> int:
    files = None if content is None else {"file": (name, content, "application/pdf")}
    body = ok(client.post(f"/api/{V}/objects/documents", data={**FIELDS, **fields}, files=files))
    assert body["responseMessage"] == "successfully created document"
    return int(body["id"])


def test_create_document_and_download_its_file(alice: httpx.Client) -> None:
    content = b"%PDF-1.7 brochure " * 1000
    doc_id = create(alice, content)
    body = ok(alice.get(f"/api/{V}/objects/documents/{doc_id}"))
    doc = body["document"]
    assert doc["id"] == doc_id and doc["name__v"] == "Cholecap Brochure" and doc["status__v"] == "Draft"
    assert (doc["major_version_number__v"], doc["minor_version_number__v"]) == (0, 1)
    assert doc["binder__v"] is False and doc["filename__v"] == "brochure.pdf"
    assert body["versions"] == [
        {"number": "0.1", "value": f"{alice.base_url}/api/{V}/objects/documents/{doc_id}/versions/0/1"}
    ]
    download = alice.get(f"/api/{V}/objects/documents/{doc_id}/file")
    assert download.status_code == 200 and download.content == content
    assert download.headers["content-type"].startswith("application/octet-stream")
    assert "brochure.pdf" in download.headers["content-disposition"]


def test_versions_keep_their_own_files(alice: httpx.Client) -> None:
    doc_id = create(alice, b"first")
    body = ok(alice.post(f"/api/{V}/objects/documents/{doc_id}", data={"createDraft": "uploadedContent"},
                         files={"file": ("second.txt", b"second")}))
    assert (body["major_version_number__v"], body["minor_version_number__v"]) == (0, 2)
    body = ok(alice.post(f"/api/{V}/objects/documents/{doc_id}",
                         data={"createDraft": "latestContent", "status__v": "Approved",
                               "major_version_number__v": "1", "minor_version_number__v": "0"}))
    assert (body["major_version_number__v"], body["minor_version_number__v"]) == (1, 0)
    versions = ok(alice.get(f"/api/{V}/objects/documents/{doc_id}/versions"))["versions"]
    assert [v["number"] for v in versions] == ["0.1", "0.2", "1.0"]
    assert alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/0/1/file").content == b"first"
    assert alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/0/2/file").content == b"second"
    assert alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/1/0/file").content == b"second"
    old = ok(alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/0/1"))["document"]
    assert old["latest_version__v"] is False and old["status__v"] == "Draft"
    latest = ok(alice.get(f"/api/{V}/objects/documents/{doc_id}"))["document"]
    assert latest["status__v"] == "Approved" and latest["latest_version__v"] is True


def test_renditions(alice: httpx.Client) -> None:
    doc_id = create(alice, b"source")
    ok(alice.post(f"/api/{V}/objects/documents/{doc_id}/renditions/viewable_rendition__v",
                  files={"file": ("view.pdf", b"%PDF viewable")}))
    body = ok(alice.get(f"/api/{V}/objects/documents/{doc_id}"))
    assert list(body["renditions"]) == ["viewable_rendition__v"]
    got = alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/0/1/renditions/viewable_rendition__v")
    assert got.content == b"%PDF viewable"
    fails(alice.get(f"/api/{V}/objects/documents/{doc_id}/renditions/other_rendition__c"), "INVALID_DATA")


def test_identical_files_are_stored_once(server: AppServer, alice: httpx.Client) -> None:
    content = b"the same bytes in two documents"
    create(alice, content)
    create(alice, content)
    digest = hashlib.sha256(content).hexdigest()
    blobs = blob_store_for(server.running.store, server.data_dir)
    with blobs.open(digest) as stream:
        assert stream.read() == content
    local = blobs.local_path(digest)
    if local is not None:  # SQLite: one file named by its digest
        assert local == server.data_dir / "files" / digest[:2] / digest[2:]
    else:  # PostgreSQL: one blob row, nothing in the node's folder
        assert not (server.data_dir / "files").exists()
    assert not any(server.data_dir.glob("tmp/*"))


def test_placeholder_has_no_file(alice: httpx.Client) -> None:
    doc_id = create(alice, None)
    assert "filename__v" not in ok(alice.get(f"/api/{V}/objects/documents/{doc_id}"))["document"]
    fails(alice.get(f"/api/{V}/objects/documents/{doc_id}/file"), "INVALID_DATA")


def test_other_users_documents_need_a_role(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client) -> None:
    doc_id = create(alice, b"private")
    fails(bob.get(f"/api/{V}/objects/documents/{doc_id}"), "INSUFFICIENT_ACCESS")
    fails(bob.get(f"/api/{V}/objects/documents/{doc_id}/file"), "INSUFFICIENT_ACCESS")
    assert admin.get(f"/api/{V}/objects/documents/{doc_id}/file").content == b"private"
    bob_id = ok(bob.get(f"/api/{V}/objects/users/me"))["users"][0]["user"]["id"]
    fails(bob.post(f"/api/{V}/objects/documents/{doc_id}/roles", data={"viewer__v.users": str(bob_id)}),
          "INSUFFICIENT_ACCESS")
    body = ok(alice.post(f"/api/{V}/objects/documents/{doc_id}/roles", data={"viewer__v.users": str(bob_id)}))
    assert body["updatedRoles"] == {"viewer__v": {"users": [bob_id]}}
    assert bob.get(f"/api/{V}/objects/documents/{doc_id}/file").content == b"private"
    # a viewer may read, not edit
    fails(bob.post(f"/api/{V}/objects/documents/{doc_id}", data={"createDraft": "latestContent"}),
          "INSUFFICIENT_ACCESS")


@pytest.mark.parametrize(
    ("fields", "error_type"),
    [
        ({"type__v": "x", "lifecycle__v": "y"}, "PARAMETER_REQUIRED"),  # no name__v
        ({**FIELDS, "bogus": "1"}, "INVALID_DATA"),  # not a field name
        ({**FIELDS, "id": "5"}, "INVALID_DATA"),  # system field
        ({**FIELDS, "major_version_number__v": "1"}, "PARAMETER_REQUIRED"),  # half a version number
        ({**FIELDS, "major_version_number__v": "x", "minor_version_number__v": "1"}, "INVALID_DATA"),
        ({**FIELDS, "name__v": "n" * 101}, "INVALID_DATA"),
        ({**FIELDS, "viewer__v.users": "999999"}, "INVALID_DATA"),  # unknown user
    ],
)
def test_bad_document_fields(alice: httpx.Client, fields: dict[str, str], error_type: str) -> None:
    fails(alice.post(f"/api/{V}/objects/documents", data=fields, files={"file": ("a.txt", b"a")}), error_type)


def test_bad_document_requests(alice: httpx.Client) -> None:
    doc_id = create(alice, b"x")
    for path in ("abc", "0", "-1", "99999999"):
        response = alice.get(f"/api/{V}/objects/documents/{path}")
        fails(response, "INVALID_DATA")
    fails(alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/7/7"), "INVALID_DATA")
    fails(alice.get(f"/api/{V}/objects/documents/{doc_id}/versions/a/1/file"), "INVALID_DATA")
    fails(alice.post(f"/api/{V}/objects/documents/{doc_id}", data={}), "PARAMETER_REQUIRED")
    fails(alice.post(f"/api/{V}/objects/documents/{doc_id}", data={"createDraft": "uploadedContent"}),
          "PARAMETER_REQUIRED")
    fails(alice.post(f"/api/{V}/objects/documents/{doc_id}", data={"createDraft": "nope"}), "INVALID_DATA")
    fails(alice.post(f"/api/{V}/objects/documents/{doc_id}",
                     data={"createDraft": "latestContent", "major_version_number__v": "0",
                           "minor_version_number__v": "1"}), "INVALID_DATA")  # not after the latest
    two = {"file": ("a.txt", b"a"), "other": ("b.txt", b"b")}
    fails(alice.post(f"/api/{V}/objects/documents", data=FIELDS, files=two), "INVALID_DATA")
    # a truncated multipart body carries no fields
    fails(alice.post(f"/api/{V}/objects/documents", content=b"--x\r\nbroken", headers={
        "content-type": "multipart/form-data; boundary=x"}), "PARAMETER_REQUIRED")
    fails(alice.delete(f"/api/{V}/objects/documents/{doc_id}"), "METHOD_NOT_SUPPORTED")
    fails(alice.get(f"/api/{V}/objects/documents/{doc_id}/nothing"), "MALFORMED_URL")


def test_binder_structure(alice: httpx.Client) -> None:
    doc_a = create(alice, b"a", name="a.pdf", name__v="Doc A")
    doc_b = create(alice, b"b", name="b.pdf", name__v="Doc B")
    body = ok(alice.post(f"/api/{V}/objects/binders", data={**FIELDS, "name__v": "Compliance Package"}))
    assert body["responseMessage"] == "Successfully created binder."
    binder_id = body["id"]
    section = ok(alice.post(f"/api/{V}/objects/binders/{binder_id}/sections",
                            data={"name__v": "Labeling", "section_number__v": "1.3"}))["id"]
    sub = ok(alice.post(f"/api/{V}/objects/binders/{binder_id}/sections",
                        data={"name__v": "US", "parent_id__v": section}))["id"]
    node_a = ok(alice.post(f"/api/{V}/objects/binders/{binder_id}/documents", data={"document_id__v": str(doc_a)}))
    ok(alice.post(f"/api/{V}/objects/binders/{binder_id}/documents",
                  data={"document_id__v": str(doc_b), "parent_id__v": sub, "binding_rule__v": "specific",
                        "major_version_number__v": "0", "minor_version_number__v": "1"}))
    shallow = ok(alice.get(f"/api/{V}/objects/binders/{binder_id}"))
    assert shallow["document"]["binder__v"] is True
    top = shallow["binder"]["nodes"]
    assert [n["properties"]["type__v"] for n in top] == ["section", "document"]
    assert "nodes" not in top[0]
    assert top[1]["properties"]["id"] == node_a["id"] and top[1]["properties"]["document_id__v"] == doc_a
    deep = ok(alice.get(f"/api/{V}/objects/binders/{binder_id}?depth=all"))["binder"]["nodes"]
    leaf = deep[0]["nodes"][0]["nodes"][0]["properties"]
    assert leaf["document_id__v"] == doc_b and leaf["parent_id__v"] == sub
    assert (leaf["major_version_number__v"], leaf["minor_version_number__v"]) == (0, 1)
    # a new version starts with a copy of the structure; the old version keeps its own
    body = ok(alice.post(f"/api/{V}/objects/binders/{binder_id}"))
    assert (body["major_version_number__v"], body["minor_version_number__v"]) == (0, 2)
    ok(alice.post(f"/api/{V}/objects/binders/{binder_id}/sections", data={"name__v": "Added in 0.2"}))
    assert len(ok(alice.get(f"/api/{V}/objects/binders/{binder_id}"))["binder"]["nodes"]) == 3
    assert len(ok(alice.get(f"/api/{V}/objects/binders/{binder_id}/versions/0/1"))["binder"]["nodes"]) == 2
    versions = ok(alice.get(f"/api/{V}/objects/binders/{binder_id}/versions"))["versions"]
    assert [v["number"] for v in versions] == ["0.1", "0.2"]


def test_bad_binder_requests(alice: httpx.Client, bob: httpx.Client) -> None:
    doc_id = create(alice, b"x")
    binder_id = ok(alice.post(f"/api/{V}/objects/binders", data=FIELDS))["id"]
    fails(alice.post(f"/api/{V}/objects/binders", data={"name__v": "x"}), "PARAMETER_REQUIRED")
    fails(alice.get(f"/api/{V}/objects/binders/{doc_id}"), "INVALID_DATA")  # a document, not a binder
    fails(bob.get(f"/api/{V}/objects/binders/{binder_id}"), "INSUFFICIENT_ACCESS")
    base = f"/api/{V}/objects/binders/{binder_id}"
    fails(alice.post(f"{base}/sections", data={}), "PARAMETER_REQUIRED")
    fails(alice.post(f"{base}/sections", data={"name__v": "a/b"}), "INVALID_DATA")
    fails(alice.post(f"{base}/sections", data={"name__v": "x", "parent_id__v": "nope"}), "INVALID_DATA")
    fails(alice.post(f"{base}/documents", data={}), "PARAMETER_REQUIRED")
    fails(alice.post(f"{base}/documents", data={"document_id__v": "424242"}), "INVALID_DATA")
    fails(alice.post(f"{base}/documents", data={"document_id__v": str(doc_id), "binding_rule__v": "x"}),
          "INVALID_DATA")
    fails(alice.post(f"{base}/documents", data={"document_id__v": str(doc_id), "binding_rule__v": "specific"}),
          "PARAMETER_REQUIRED")
    fails(alice.get(f"{base}?depth=2"), "INVALID_DATA")
    fails(bob.post(f"{base}/sections", data={"name__v": "x"}), "INSUFFICIENT_ACCESS")


def test_file_staging_upload_list_download(alice: httpx.Client, bob: httpx.Client, admin: httpx.Client) -> None:
    content = bytes(range(256)) * 100
    body = ok(alice.post(f"/api/{V}/services/file_staging/items",
                         data={"kind": "file", "path": "/inbox/data.bin"}, files={"file": ("data.bin", content)}))
    assert body["data"] == {"kind": "file", "path": "/inbox/data.bin", "name": "data.bin", "size": len(content),
                            "file_content_md5": hashlib.md5(content).hexdigest()}
    listing = ok(alice.get(f"/api/{V}/services/file_staging/items/inbox"))["data"]
    assert [(i["kind"], i["path"], i.get("size")) for i in listing] == [("file", "/inbox/data.bin", len(content))]
    assert alice.get(f"/api/{V}/services/file_staging/items/content/inbox/data.bin").content == content
    ranged = alice.get(f"/api/{V}/services/file_staging/items/content/inbox/data.bin",
                       headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == content[:10]
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(content)}"
    # the user's own u{id} prefix names the same place; admins see every user's folder
    alice_id = ok(alice.get(f"/api/{V}/objects/users/me"))["users"][0]["user"]["id"]
    assert alice.get(f"/api/{V}/services/file_staging/items/content/u{alice_id}/inbox/data.bin").content == content
    assert admin.get(f"/api/{V}/services/file_staging/items/content/u{alice_id}/inbox/data.bin").content == content
    fails(bob.get(f"/api/{V}/services/file_staging/items/content/inbox/data.bin"), "INVALID_DATA")
    fails(bob.get(f"/api/{V}/services/file_staging/items/content/u{alice_id}/inbox/data.bin"), "INVALID_DATA")
    # overwrite only when asked
    fails(alice.post(f"/api/{V}/services/file_staging/items", data={"kind": "file", "path": "/inbox/data.bin"},
                     files={"file": ("data.bin", b"new")}), "INVALID_DATA")
    ok(alice.post(f"/api/{V}/services/file_staging/items",
                  data={"kind": "file", "path": "/inbox/data.bin", "overwrite": "true"}, files={"file": ("d", b"new")}))
    assert alice.get(f"/api/{V}/services/file_staging/items/content/inbox/data.bin").content == b"new"
    folder = ok(alice.post(f"/api/{V}/services/file_staging/items", data={"kind": "folder", "path": "/empty"}))
    assert folder["data"] == {"kind": "folder", "path": "/empty/", "name": "empty"}


def test_file_staging_paging(alice: httpx.Client) -> None:
    for n in range(5):
        ok(alice.post(f"/api/{V}/services/file_staging/items", data={"kind": "file", "path": f"/paged/f{n}"},
                      files={"file": ("f", b"x")}))
    first = ok(alice.get(f"/api/{V}/services/file_staging/items/paged?limit=2"))
    assert [i["name"] for i in first["data"]] == ["f0", "f1"]
    second = ok(alice.get(first["responseDetails"]["next_page"]))
    assert [i["name"] for i in second["data"]] == ["f2", "f3"]


@pytest.mark.parametrize(
    ("data", "error_type"),
    [
        ({"path": "/x"}, "PARAMETER_REQUIRED"),
        ({"kind": "file"}, "PARAMETER_REQUIRED"),
        ({"kind": "link", "path": "/x"}, "INVALID_DATA"),
        ({"kind": "file", "path": "/../../etc/passwd"}, "INVALID_DATA"),
        ({"kind": "file", "path": "/a\\b"}, "INVALID_DATA"),
        ({"kind": "file", "path": "/"}, "INVALID_DATA"),
        ({"kind": "folder", "path": "/x", "overwrite": "maybe"}, "INVALID_DATA"),
    ],
)
def test_bad_file_staging_uploads(alice: httpx.Client, data: dict[str, str], error_type: str) -> None:
    fails(alice.post(f"/api/{V}/services/file_staging/items", data=data, files={"file": ("f", b"x")}), error_type)


def test_bad_file_staging_reads(alice: httpx.Client) -> None:
    fails(alice.get(f"/api/{V}/services/file_staging/items/no/such/folder"), "INVALID_DATA")
    fails(alice.get(f"/api/{V}/services/file_staging/items/content/nothing.txt"), "INVALID_DATA")
    fails(alice.get(f"/api/{V}/services/file_staging/items/content/%2e%2e/%2e%2e/secret"), "INVALID_DATA")
    fails(alice.get(f"/api/{V}/services/file_staging/items?limit=0"), "INVALID_DATA")
    fails(alice.get(f"/api/{V}/services/file_staging/items?recursive=yes"), "INVALID_DATA")
