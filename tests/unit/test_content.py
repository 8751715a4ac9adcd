"""The content repository without a server: content-addressed files, atomic writes, staging paths,
the store's content queries, and binder trees and binding rules."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultjobs.content.blobs import LocalBlobStore
from vaultjobs.content.files import HIDDEN_PREFIX, BadPath, FileStaging, FileTooLarge, safe_filename
from vaultjobs.content.models import ROOT_NODE, Document
from vaultjobs.content.repository import ContentRepository, NoAccess, NotFound, walk
from vaultjobs.models import Job
from vaultjobs.store import SqliteStore
from vaultjobs.testing import ManualClock


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    """The content queries live on the SQLite store (PostgreSQL has not mixed them in yet)."""
    s = SqliteStore(tmp_path / "content.db")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def repo(sqlite_store: SqliteStore, tmp_path: Path, clock: ManualClock) -> ContentRepository:
    return ContentRepository(sqlite_store, tmp_path, clock)


def test_files_are_named_by_content_and_written_once(tmp_path: Path) -> None:
    files = LocalBlobStore(tmp_path)
    first = files.put(io.BytesIO(b"same"))
    second = files.put(io.BytesIO(b"same"))
    assert first == second == ("0967115f2813a3541eaef77de9d9d5773f1c0c04314b0bbfe4ff3b3b1c55b5d5", 4)
    assert files.path(first[0]).read_bytes() == b"same"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_failed_write_leaves_nothing_visible(tmp_path: Path) -> None:
    files = LocalBlobStore(tmp_path)
    with pytest.raises(FileTooLarge):
        files.put(io.BytesIO(b"x" * 100), limit=10)
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*"))
    assert list((tmp_path / "tmp").iterdir()) == []
    staging = FileStaging(tmp_path)
    target = tmp_path / "staging" / "u1" / "out.bin"
    with pytest.raises(RuntimeError), staging.writer(target) as out:
        out.write(b"half a file")
        raise RuntimeError("writer died")
    assert not target.exists()
    with staging.writer(target) as out:
        out.write(b"whole")
    assert target.read_bytes() == b"whole"
    # Staging's temporary files stay inside staging (a shared mount on a cluster), hidden from paths.
    hidden = tmp_path / "staging" / f"{HIDDEN_PREFIX}tmp"
    assert hidden.is_dir() and list(hidden.iterdir()) == []
    with pytest.raises(BadPath):
        staging.resolve(1, True, f"/{HIDDEN_PREFIX}tmp/x")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("report.pdf", "report.pdf"), ("../../etc/passwd", "passwd"), ("C:\\x\\y.doc", "y.doc"), ("..", "file"),
     ("a\x00b", "ab"), ("", "file")],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_staging_paths(tmp_path: Path) -> None:
    staging = FileStaging(tmp_path)
    root = tmp_path / "staging"
    assert staging.resolve(7, False, "/a/b.txt") == root / "u7" / "a" / "b.txt"
    assert staging.resolve(7, False, "/u7/a/b.txt") == root / "u7" / "a" / "b.txt"  # own prefix
    assert staging.resolve(7, False, "/u8/a") == root / "u7" / "u8" / "a"  # not someone else's folder
    assert staging.resolve(1, True, "/u8/a") == root / "u8" / "a"  # admins see the root
    for bad in ("/../x", "/a/../../x", "/a\\b", "/a\x00"):
        with pytest.raises(BadPath):
            staging.resolve(7, False, bad)
    assert staging.shown_path(7, False, root / "u7" / "a" / "b.txt") == "/a/b.txt"


def test_documents_versions_and_permissions(repo: ContentRepository, clock: ManualClock) -> None:
    stored = repo.save_file(io.BytesIO(b"v1"), "v1.txt", "text/plain")
    doc_id = repo.store.content.create_document(
        binder=False, fields={"name__v": "D"}, file=stored, major=0, minor=1, roles={"viewer__v": [3]},
        created_by=2, now=clock.now(),
    )
    assert repo.document(doc_id, 3, False).roles == {"viewer__v": [3]}
    with pytest.raises(NoAccess):
        repo.document(doc_id, 4, False)
    assert repo.document(doc_id, 4, True).id == doc_id
    with pytest.raises(NotFound):
        repo.document(doc_id, 2, False, binder=True)
    second = repo.store.content.add_version(doc_id, updates={"status__v": "Final"}, file=None, keep_file=True,
                                            number=(1, 0), created_by=2, now=clock.now())
    assert second is not None and second.file == stored and second.fields == {"name__v": "D", "status__v": "Final"}
    assert repo.store.content.add_version(doc_id, updates={}, file=None, keep_file=True, number=(0, 5),
                                          created_by=2, now=clock.now()) is None
    assert [v.number for v in repo.store.content.versions(doc_id)] == ["0.1", "1.0"]


def test_document_readable_by() -> None:
    from datetime import UTC, datetime

    doc = Document(id=1, binder=False, created_by=5, created_at=datetime.now(UTC), roles={"editor__v": [6]})
    assert doc.readable_by(5, False) and doc.readable_by(6, False) and doc.readable_by(9, True)
    assert not doc.readable_by(7, False)


def test_binder_tree_and_binding_rules(repo: ContentRepository, clock: ManualClock) -> None:
    now = clock.now()
    doc = repo.store.content.create_document(binder=False, fields={"name__v": "D"}, file=None, major=0, minor=1,
                                             roles={}, created_by=1, now=now)
    repo.store.content.add_version(doc, updates={}, file=None, keep_file=False, number=(1, 0), created_by=1, now=now)
    repo.store.content.add_version(doc, updates={}, file=None, keep_file=False, number=None, created_by=1, now=now)
    binder = repo.store.content.create_document(binder=True, fields={"name__v": "B"}, file=None, major=0, minor=1,
                                                roles={}, created_by=1, now=now)
    section = repo.store.content.add_node(binder, 0, 1, parent_id=ROOT_NODE, kind="section", name="S", order=None,
                                          now=now, section_number="2")
    assert section is not None
    rules = {}
    for rule in ("default", "steady-state", "specific"):
        node = repo.store.content.add_node(binder, 0, 1, parent_id=section.node_id, kind="document", name=rule,
                                           order=None, now=now, document_id=doc, binding_rule=rule,
                                           doc_major=0 if rule == "specific" else None,
                                           doc_minor=1 if rule == "specific" else None)
        assert node is not None
        rules[rule] = node
    assert repo.store.content.add_node(binder, 0, 1, parent_id="no-such", kind="section", name="x", order=None,
                                       now=now) is None
    tree = repo.tree(binder, 0, 1)
    assert [(path, n.name) for path, n in walk(tree)] == [
        ((), "S"), (("2 S",), "default"), (("2 S",), "steady-state"), (("2 S",), "specific")]
    assert [n.node.order for n in tree[0].children] == [0, 100, 200]
    bound = {rule: repo.bound_version(node) for rule, node in rules.items()}
    assert {rule: v.number for rule, v in bound.items() if v} == {
        "default": "1.1", "steady-state": "1.0", "specific": "0.1"}


def test_results_and_requests(repo: ContentRepository, sqlite_store: SqliteStore, clock: ManualClock) -> None:
    from vaultjobs.store import NewJob

    job = sqlite_store.jobs.create_job(NewJob(processor="export_documents", parameters={}, created_by=1), clock.now())
    request = repo.store.content.save_request(1, [{"id": 5}], clock.now())
    assert repo.store.content.request(request) == [{"id": 5}]
    repo.store.content.put_results(job.id, [(1, 0, {"n": "b"}), (0, 1, {"n": "a2"}), (0, 0, {"n": "a1"})])
    repo.store.content.put_results(job.id, [(1, 0, {"n": "b again"})])
    assert [r["n"] for r in repo.store.content.results(job.id)] == ["a1", "a2", "b again"]


def test_a_submission_reservation_lives_and_dies_with_its_job(
    repo: ContentRepository, sqlite_store: SqliteStore, clock: ManualClock
) -> None:
    from vaultjobs.store import NewJob
    from vaultjobs.store.dialect import Connection

    class Taken(Exception):
        pass

    def reserve(conn: Connection, job: Job) -> None:
        if not repo.store.content.reserve_submission(conn, "S1", 1, clock.now(), job.id):
            raise Taken

    def new_job() -> Job:
        return sqlite_store.jobs.create_job(NewJob(processor="import_submission", parameters={}, created_by=1),
                                            clock.now(), within=reserve)

    first = new_job()
    found = repo.store.content.get_submission("S1")
    assert found is not None and found.job_id == first.id
    count = len(sqlite_store.dialect.connection().execute("SELECT id FROM jobs").fetchall())
    with pytest.raises(Taken):
        new_job()  # the first import has not finished: refused, and its job was never made
    assert len(sqlite_store.dialect.connection().execute("SELECT id FROM jobs").fetchall()) == count
