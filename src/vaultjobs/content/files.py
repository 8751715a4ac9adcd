"""File bytes on disk: the per-user file staging area, and the write discipline it shares with
:class:`~vaultjobs.content.blobs.LocalBlobStore` (document files live behind :mod:`vaultjobs.content.blobs`).

Both write the same way: into a temporary file on the same file system (``<data_dir>/tmp/``, or a
hidden folder inside staging), then ``os.replace`` onto the final name. A reader therefore sees a
whole file or none, never a partial one, whatever happens to the writer; a crash leaves at most an
orphan temporary file.

* ``<data_dir>/files/ab/cdef…`` — document and rendition files when blobs are local.
* ``<data_dir>/staging/u{user_id}/…`` — file staging, Vault's per-user FTP-like area: exports land
  here, submissions to import are uploaded here.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024
#: A function that opens a source file for reading (a local file, or a blob streamed from elsewhere).
Opener = Callable[[], IO[bytes]]
#: Temporary files written next to their destination start with this; listings and paths skip them.
HIDDEN_PREFIX = ".vaultjobs-part-"
_FORBIDDEN_SEGMENT_CHARS = ("\x00", "\\")


class FileTooLarge(ValueError):
    """A file is larger than the limit for where it is going."""


class BadPath(ValueError):
    """A file staging path is malformed or points outside the caller's area."""


def safe_filename(name: str, default: str = "file") -> str:
    """A file name that cannot climb out of a folder: the last path segment, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c >= " " and c != "\x7f").strip()
    if name in ("", ".", ".."):
        return default
    return name[:255]


def _load_syncfs() -> Callable[[Path], None] | None:
    """``syncfs(2)``: flush one file system in one call (Linux); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return None

    def syncfs(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if call(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), str(path))
        finally:
            os.close(fd)

    return syncfs


_syncfs = _load_syncfs()


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Temp:
    """Temporary files next to their destinations, on the same file system."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def file(self) -> Iterator[tuple[Path, IO[bytes]]]:
        """A new temporary file, removed on exit unless the caller moved it away."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.folder, prefix="part-")
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield path, handle
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


class FileStaging:
    """The file staging area: one folder per user, and the whole tree for admins.

    Paths follow Vault: absolute (``/folder/file.txt``) and specific to the caller. A non-admin's
    ``/`` is their own folder ``u{id}``, and ``/u{id}/…`` names the same place, so paths written
    either way work; an admin's ``/`` is the root of file staging, holding every ``u{id}`` folder.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "staging"
        # Temporary files inside staging itself (hidden from listings and paths): a rename never
        # crosses file systems, even when staging is a shared mount apart from the data folder.
        self._temp = Temp(self.root / f"{HIDDEN_PREFIX}tmp")

    # -- paths -----------------------------------------------------------------------------

    @staticmethod
    def segments(path: str) -> list[str]:
        """The segments of a staging path; ``BadPath`` for anything that could escape its folder."""
        parts = [p for p in path.split("/") if p != ""]
        for part in parts:
            if (part in (".", "..") or any(c in part for c in _FORBIDDEN_SEGMENT_CHARS) or len(part) > 255
                    or part.startswith(HIDDEN_PREFIX)):
                raise BadPath(f"[{path[:200]}] is not a valid file staging path")
        return parts

    def base(self, user_id: int, is_admin: bool) -> Path:
        return self.root if is_admin else self.root / f"u{user_id}"

    def resolve(self, user_id: int, is_admin: bool, path: str) -> Path:
        """Where ``path`` is on disk for this caller."""
        parts = self.segments(path)
        if not is_admin and parts and parts[0] == f"u{user_id}":
            parts = parts[1:]
        return self.base(user_id, is_admin).joinpath(*parts)

    def shown_path(self, user_id: int, is_admin: bool, disk: Path) -> str:
        """The caller's path for a file or folder on disk."""
        relative = disk.relative_to(self.base(user_id, is_admin)).as_posix()
        return "/" if relative == "." else "/" + relative

    def user_area(self, user_id: int) -> UserStaging:
        return UserStaging(self, user_id)

    # -- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def writer(self, destination: Path, *, durable: bool = True) -> Iterator[IO[bytes]]:
        """A file object whose bytes appear at ``destination`` all at once when the block ends without error."""
        with self._temp.file() as (tmp_path, out):
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, destination)

    def copy_in(self, source: Path, destination: Path, *, durable: bool = True) -> None:
        """Copy a file to ``destination`` atomically (sendfile where the platform has it)."""
        with self._temp.file() as (tmp_path, out):
            with open(source, "rb") as src:
                _copy(src, out)
            out.flush()
            if durable:
                os.fsync(out.fileno())
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp_path, destination)

    def copy_batch(self, pairs: list[tuple[Opener, Path]]) -> None:
        """Copy many files (each given by a function that opens it) at once, each appearing whole at
        its destination, all durable on return.

        Each copy is written to a hidden temporary file in its destination folder (a rename within a
        folder takes no file-system-wide lock, unlike one across folders), then one ``syncfs`` puts
        every copy on disk, then each is renamed into place: a name never shows a partial file, even
        after a power loss. One ``syncfs`` for the batch instead of an ``fsync`` per file is what
        keeps this close to a plain copy loop. Where ``syncfs`` is missing, each file is fsynced.
        """
        temps: list[tuple[Path, Path]] = []
        try:
            for source, destination in pairs:
                destination.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(dir=destination.parent, prefix=HIDDEN_PREFIX)
                temps.append((Path(name), destination))
                with os.fdopen(fd, "wb") as out, source() as src:
                    _copy(src, out)
                    if _syncfs is None:
                        out.flush()
                        os.fsync(out.fileno())
            if _syncfs is not None and temps:
                _syncfs(self.root)
            for tmp_path, destination in temps:
                os.replace(tmp_path, destination)
            temps.clear()
        finally:
            for tmp_path, _ in temps:
                with contextlib.suppress(FileNotFoundError):
                    tmp_path.unlink()

    def put(self, source: IO[bytes], destination: Path, limit: int | None = None) -> tuple[int, str]:
        """Write ``source`` at ``destination`` atomically; return (size, md5 hex) as Vault reports them."""
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        with self.writer(destination) as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if limit is not None and size > limit:
                    raise FileTooLarge(f"the file is larger than {limit} bytes")
                md5.update(chunk)
                out.write(chunk)
        return size, md5.hexdigest()


def _copy(src: IO[bytes], out: IO[bytes]) -> None:
    """Copy in the kernel (what ``shutil.copyfile`` does on Linux), falling back to read/write
    (and reading plainly a source that is no file, such as a blob streamed from the database)."""
    try:
        src_fd = src.fileno()
    except (OSError, ValueError):
        shutil.copyfileobj(src, out, CHUNK)
        return
    if not hasattr(os, "sendfile"):
        shutil.copyfileobj(src, out, CHUNK)
        return
    try:
        offset = 0
        size = os.fstat(src_fd).st_size
        while offset < size:
            sent = os.sendfile(out.fileno(), src_fd, offset, min(size - offset, 1 << 30))
            if sent == 0:
                break
            offset += sent
    except OSError:
        src.seek(0)
        out.seek(0)
        out.truncate()
        shutil.copyfileobj(src, out, CHUNK)


class UserStaging:
    """One user's folder of file staging, addressed by paths relative to it (as export results are)."""

    def __init__(self, staging: FileStaging, user_id: int) -> None:
        self.staging = staging
        self.user_id = user_id
        self.folder = staging.root / f"u{user_id}"

    def path(self, relative: str) -> Path:
        return self.folder.joinpath(*self.staging.segments(relative))

    def copy_in(self, source: Path, relative: str, *, durable: bool = True) -> Path:
        destination = self.path(relative)
        self.staging.copy_in(source, destination, durable=durable)
        return destination

    def copy_batch(self, pairs: list[tuple[Opener, str]]) -> None:
        """Copy (source opener, relative destination) pairs; see :meth:`FileStaging.copy_batch`."""
        self.staging.copy_batch([(source, self.path(relative)) for source, relative in pairs])

    @contextlib.contextmanager
    def writer(self, relative: str) -> Iterator[IO[bytes]]:
        with self.staging.writer(self.path(relative)) as out:
            yield out

    def link_path(self, relative: str) -> str:
        """The path that names this file for its owner and for admins alike (``/u{id}/…``)."""
        return f"/u{self.user_id}/" + "/".join(self.staging.segments(relative))
