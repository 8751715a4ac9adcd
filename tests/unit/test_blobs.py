"""Both blob stores on a real store: the local folder (SQLite) and chunks in PostgreSQL, with what a
cluster needs of them: the same bytes back, written once, streamed in chunks, whole or absent."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vaultjobs.cli import main
from vaultjobs.content.blobs import BlobStore, LocalBlobStore, PostgresBlobStore, blob_store_for
from vaultjobs.content.files import FileTooLarge
from vaultjobs.store import Store

SMALL_CHUNK = 1000


@pytest.fixture
def blobs(store: Store, tmp_path: Path) -> BlobStore:
    chosen = blob_store_for(store, tmp_path / "node")
    if isinstance(chosen, PostgresBlobStore):
        chosen.chunk_size = SMALL_CHUNK  # many chunks from a small test file
    return chosen


def test_the_store_picks_the_blob_store(store: Store, backend: str, tmp_path: Path) -> None:
    chosen = blob_store_for(store, tmp_path)
    assert isinstance(chosen, PostgresBlobStore if backend == "postgres" else LocalBlobStore)
    assert chosen.shared == (backend == "postgres")
    assert isinstance(blob_store_for(store, tmp_path, "local"), LocalBlobStore)
    with pytest.raises(ValueError, match="content_blobs"):
        blob_store_for(store, tmp_path, "s3")


def test_bytes_come_back_whole_and_are_stored_once(blobs: BlobStore) -> None:
    data = os.urandom(SMALL_CHUNK * 7 + 123)
    digest = hashlib.sha256(data).hexdigest()
    assert not blobs.exists(digest)
    assert blobs.put(io.BytesIO(data)) == (digest, len(data))
    assert blobs.put(io.BytesIO(data)) == (digest, len(data))
    assert blobs.exists(digest)
    with blobs.open(digest) as stream:
        assert stream.read() == data
    with blobs.open(digest) as stream:  # small reads cross chunk boundaries
        parts = []
        while part := stream.read(333):
            parts.append(part)
    assert b"".join(parts) == data


def test_an_empty_file_is_a_blob(blobs: BlobStore) -> None:
    digest, size = blobs.put(io.BytesIO(b""))
    assert (digest, size) == (hashlib.sha256(b"").hexdigest(), 0)
    with blobs.open(digest) as stream:
        assert stream.read() == b""


def test_a_missing_blob_is_not_found(blobs: BlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        blobs.open("0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        blobs.open("../etc/passwd")


def test_a_too_large_put_leaves_no_blob(blobs: BlobStore, tmp_path: Path) -> None:
    data = b"x" * 5000
    with pytest.raises(FileTooLarge):
        blobs.put(io.BytesIO(data), limit=4000)
    assert not blobs.exists(hashlib.sha256(data).hexdigest())
    assert not any((tmp_path / "node").glob("tmp/*"))


def test_two_nodes_share_database_blobs_but_not_local_ones(store: Store, backend: str, tmp_path: Path) -> None:
    """What a cluster relies on: node B (its own data folder) reads what node A put."""
    a, b = blob_store_for(store, tmp_path / "a"), blob_store_for(store, tmp_path / "b")
    digest, _ = a.put(io.BytesIO(b"uploaded through node A"))
    assert b.exists(digest) == (backend == "postgres")


def test_concurrent_puts_of_the_same_bytes_store_one_blob(blobs: BlobStore) -> None:
    data = os.urandom(SMALL_CHUNK * 3)
    results: list[tuple[str, int]] = []
    threads = [threading.Thread(target=lambda: results.append(blobs.put(io.BytesIO(data)))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    with blobs.open(results[0][0]) as stream:
        assert stream.read() == data


def test_files_a_node_kept_locally_are_read_until_moved_into_the_database(
    store: Store, backend: str, tmp_path: Path
) -> None:
    """Upgrading a PostgreSQL deployment: node A's old files stay readable on A; ``content move-files``
    puts them in the database for every node and empties A's folder."""
    if backend != "postgres":
        pytest.skip("document files move into the database only on PostgreSQL")
    old = os.urandom(5000)
    digest, _ = LocalBlobStore(tmp_path / "a").put(io.BytesIO(old))
    a, b = blob_store_for(store, tmp_path / "a"), blob_store_for(store, tmp_path / "b")
    with a.open(digest) as stream:
        assert stream.read() == old
    assert not b.exists(digest)

    from vaultjobs.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    url = store.url
    result = CliRunner().invoke(main, ["content", "move-files", "--data-dir", str(tmp_path / "a"),
                                       "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "moved 1 files (5000 bytes)" in result.output
    assert not (tmp_path / "a" / "files" / digest[:2] / digest[2:]).exists()
    with b.open(digest) as stream:
        assert stream.read() == old
    again = CliRunner().invoke(main, ["content", "move-files", "--data-dir", str(tmp_path / "a"),
                                      "--database-url", url])
    assert "moved 0 files" in again.output


def test_moving_files_is_refused_on_sqlite(store: Store, backend: str, tmp_path: Path) -> None:
    if backend != "sqlite":
        pytest.skip("on PostgreSQL the move is what the test above checks")
    result = CliRunner().invoke(main, ["content", "move-files", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "only when the store is PostgreSQL" in result.output


class _Unseekable(io.RawIOBase):
    """A stream read once, front to back (as an entry of a zip being imported)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


def test_a_stream_that_cannot_be_read_twice_is_stored_whole(blobs: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(SMALL_CHUNK * 4 + 1)
    stream = _Unseekable(data)
    assert not stream.seekable()
    digest, size = blobs.put(stream)
    assert (digest, size) == (hashlib.sha256(data).hexdigest(), len(data))
    with blobs.open(digest) as stored:
        assert stored.read() == data
    assert not any((tmp_path / "node").glob("tmp/*"))


def test_a_seekable_source_is_stored_from_where_it_stands(blobs: BlobStore) -> None:
    source = io.BytesIO(b"header:" + b"body" * 1000)
    source.seek(7)
    digest, size = blobs.put(source)
    assert size == 4000
    with blobs.open(digest) as stored:
        assert stored.read() == b"body" * 1000
