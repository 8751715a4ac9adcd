"""Where document and rendition bytes live: one content-addressed blob store per deployment.

Rows in the store name files by their SHA-256; a :class:`BlobStore` keeps the bytes. Two kinds:

* :class:`LocalBlobStore` — ``<data_dir>/files/ab/cdef…`` on this node's disk. The default on
  SQLite, where every node already shares one data folder (one database file).
* :class:`PostgresBlobStore` — the bytes in PostgreSQL itself, in ~1 MB chunks, so that every node
  of a cluster reads what any node wrote. The default whenever the store is PostgreSQL: a document
  uploaded through API server A must be readable by a job run by worker B, whatever their disks.

Both are written once per SHA-256 and never changed; a reader sees a whole blob or none.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from vaultjobs.content.files import CHUNK, FileTooLarge, Opener, Temp, fsync_dir

#: ``content_blobs`` setting values: ``auto`` picks by the store, ``local`` forces this node's folder.
BLOB_CHOICES = ("auto", "local")


def check_sha256(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


class BlobStore(Protocol):
    """Immutable byte strings named by their SHA-256."""

    #: Whether every node of a cluster reads the same blobs (documented in docs/cluster.md).
    shared: bool

    def put(self, source: IO[bytes], limit: int | None = None) -> tuple[str, int]:
        """Store the bytes of ``source``; return (sha256, size). Durable once this returns."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """A stream of the blob's bytes; ``FileNotFoundError`` when there is no such blob."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def local_path(self, sha256: str) -> Path | None:
        """The blob as a file on this node's disk, for the kernel to copy or send (None when not on disk)."""
        ...


class LocalBlobStore:
    """Blobs as files under ``<data_dir>/files/``: temporary file, fsync, then rename into place."""

    shared = False

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "files"
        self._temp = Temp(data_dir / "tmp")

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def put(self, source: IO[bytes], limit: int | None = None) -> tuple[str, int]:
        with self._temp.file() as (tmp_path, out):
            sha256, size = _hash_copy(source, out, limit)
            out.flush()
            os.fsync(out.fileno())
            final = self.path(sha256)
            if not final.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_path, final)
                fsync_dir(final.parent)
        return sha256, size

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.put(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def local_path(self, sha256: str) -> Path | None:
        return self.path(sha256)


class PostgresBlobStore:
    """Blobs in PostgreSQL: ``content_blobs(sha256, size)`` and ``content_blob_chunks(sha256, n, data)``.

    A put first hashes the upload (the name is not known before the last byte): a seekable source
    is read twice, any other is spooled to a temporary file on this node while hashed. Then the blob
    row and its chunks are inserted in one transaction:
    another node sees the blob with all its chunks or not at all. ``ON CONFLICT DO NOTHING`` on the
    blob row makes a second put of the same bytes (even a concurrent one, which waits for the first
    to commit) skip the chunks. Reads fetch one chunk per query, so a multi-GB file never sits in
    memory on either side.
    """

    shared = True

    def __init__(self, pool: Any, data_dir: Path, chunk_size: int = CHUNK) -> None:
        self._pool = pool
        self._temp = Temp(data_dir / "tmp")
        self.chunk_size = chunk_size
        #: Files this node stored in its folder before blobs moved into the database: still read
        #: (by this node only) until ``vaultjobs content move-files`` copies them in.
        self.legacy = LocalBlobStore(data_dir)

    def put(self, source: IO[bytes], limit: int | None = None) -> tuple[str, int]:
        if _seekable(source):  # an upload Starlette already spooled: hash it, then read it again
            start = source.tell()
            sha256, size = _hash_copy(source, None, limit)
            source.seek(start)
            self._insert(sha256, size, source)
            return sha256, size
        with self._temp.file() as (tmp_path, out):
            sha256, size = _hash_copy(source, out, limit)
            out.close()
            with open(tmp_path, "rb") as spooled:
                self._insert(sha256, size, spooled)
        return sha256, size

    def _insert(self, sha256: str, size: int, source: IO[bytes]) -> None:
        """The blob row and its chunks in one transaction, unless the blob is there already."""
        with self._pool.connection() as conn, conn.transaction():
            added = conn.execute(
                "INSERT INTO content_blobs (sha256, size) VALUES (%s, %s) ON CONFLICT (sha256) DO NOTHING"
                " RETURNING sha256",
                (sha256, size),
            ).fetchone()
            if added is None:
                return
            with conn.cursor() as cursor:
                n = written = 0
                while written < size and (chunk := source.read(min(self.chunk_size, size - written))):
                    cursor.execute(
                        "INSERT INTO content_blob_chunks (sha256, n, data) VALUES (%s, %s, %s)", (sha256, n, chunk)
                    )
                    n += 1
                    written += len(chunk)
            if written != size:
                raise OSError(f"the file changed while it was stored ({written} of {size} bytes)")

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.put(io.BytesIO(data))

    def size(self, sha256: str) -> int | None:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT size FROM content_blobs WHERE sha256 = %s", (check_sha256(sha256),)).fetchone()
        return None if row is None else int(row[0])

    def exists(self, sha256: str) -> bool:
        return self.size(sha256) is not None or self.legacy.exists(sha256)

    def open(self, sha256: str) -> BinaryIO:
        size = self.size(sha256)
        if size is None:
            if self.legacy.exists(sha256):
                return self.legacy.open(sha256)
            raise FileNotFoundError(f"no blob {sha256} in the database")
        return io.BufferedReader(_ChunkReader(self._pool, sha256, size), buffer_size=self.chunk_size)

    def local_path(self, sha256: str) -> Path | None:
        return None

    def move_local_files(self) -> tuple[int, int]:
        """Copy every file of this node's folder into the database, then delete it; (moved, bytes).

        For a node that kept document files locally before: once every node has run this, any node
        reads every document. A file already in the database (from another node) is just deleted.
        """
        moved = total = 0
        if not self.legacy.root.is_dir():
            return moved, total
        for path in sorted(self.legacy.root.glob("??/*")):
            sha256 = path.parent.name + path.name
            try:
                check_sha256(sha256)
            except ValueError:
                continue
            with open(path, "rb") as source:
                stored, size = self.put(source)
            if stored != sha256:
                raise OSError(f"{path} does not hold the bytes its name says (SHA-256 {stored})")
            path.unlink()
            moved += 1
            total += size
        return moved, total


class _ChunkReader(io.RawIOBase):
    """A blob read chunk by chunk, one short query each (no connection held between reads)."""

    def __init__(self, pool: Any, sha256: str, size: int) -> None:
        self._pool = pool
        self._sha256 = sha256
        self._size = size
        self._n = 0
        self._pending = memoryview(b"")
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            if self._read >= self._size:
                return 0
            with self._pool.connection() as conn:
                row = conn.execute(
                    "SELECT data FROM content_blob_chunks WHERE sha256 = %s AND n = %s", (self._sha256, self._n)
                ).fetchone()
            if row is None or not row[0]:
                raise OSError(f"blob {self._sha256} is missing chunk {self._n}")
            self._pending = memoryview(bytes(row[0]))
            self._n += 1
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._read += count
        return count


def _hash_copy(source: IO[bytes], out: IO[bytes] | None, limit: int | None) -> tuple[str, int]:
    """(sha256, size) of what ``source`` has left, copied to ``out`` on the way when given."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            raise FileTooLarge(f"the file is larger than {limit} bytes")
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
    return digest.hexdigest(), size


def _seekable(source: IO[bytes]) -> bool:
    try:
        return bool(source.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def blob_store_for(store: object, data_dir: Path, choice: str = "auto") -> BlobStore:
    """The blob store a node uses: in the database on PostgreSQL, unless ``local`` is forced."""
    if choice not in BLOB_CHOICES:
        raise ValueError(f"content_blobs must be one of {', '.join(BLOB_CHOICES)}")
    pool = getattr(getattr(store, "dialect", None), "pool", None)
    if choice == "auto" and pool is not None:
        return PostgresBlobStore(pool, data_dir)
    return LocalBlobStore(data_dir)


def opener(blobs: BlobStore, sha256: str) -> Opener:
    """A function that opens the blob when called (copying code opens one file at a time)."""
    check_sha256(sha256)
    path = blobs.local_path(sha256)
    if path is not None:
        return lambda: open(path, "rb")
    return lambda: blobs.open(sha256)


__all__ = ["BLOB_CHOICES", "BlobStore", "LocalBlobStore", "Opener", "PostgresBlobStore", "blob_store_for", "opener"]
