"""Files kept with object records (a package's archive, its logs), and the one transaction in which a
package step writes its records, its files and its own status together.

Files are rows of ``object_files`` in the database every node shares, so an archive uploaded through
one API server is read by a worker on another. A package step is applied all at once or not at all:
:meth:`ObjectFiles.commit` inserts and replaces records and adds files in one transaction, so a
worker killed in the middle leaves no half-loaded step, and the step's status (one of the replaced
records) always says what is in the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.objects import RecordConflict, RecordWrite, insert_rows, replace_rows
from vaultjobs.timeutil import from_ms, to_ms

#: ``kind`` of a file: the package's .vpk, a record attachment (the logs), a data deployment log.
ARCHIVE = "archive"
ATTACHMENT = "attachment"
DATA_LOG = "data_log"


@dataclass(frozen=True, kw_only=True, slots=True)
class NewFile:
    record_id: str
    kind: str
    filename: str
    body: bytes
    media_type: str = "text/plain"


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredFile:
    """A file's description; its bytes are read with :meth:`ObjectFiles.body`."""

    id: int
    record_id: str
    kind: str
    filename: str
    media_type: str
    md5: str
    size: int
    created_by: int
    created_at: datetime


_COLUMNS = "id, record_id, kind, filename, media_type, md5, size, created_by, created_at"


def _stored(row: Any) -> StoredFile:
    return StoredFile(id=int(row[0]), record_id=str(row[1]), kind=str(row[2]), filename=str(row[3]),
                      media_type=str(row[4]), md5=str(row[5]), size=int(row[6]), created_by=int(row[7]),
                      created_at=from_ms(row[8]))


class ObjectFiles:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def commit(self, *, inserts: Sequence[RecordWrite] = (), replaces: Sequence[RecordWrite] = (),
               files: Sequence[NewFile] = (), by: int, now: datetime) -> list[int]:
        """Insert ``inserts``, replace ``replaces`` and add ``files``, all in one transaction; the
        new files' ids. :class:`RecordConflict` (nothing written) on a unique clash."""
        try:
            with self.db.write() as conn:
                insert_rows(conn, inserts)
                replace_rows(conn, replaces)
                return [self._add(conn, f, by, now) for f in files]
        except self.db.integrity_errors as exc:
            raise RecordConflict(str(exc)) from exc

    def add(self, new: NewFile, *, by: int, now: datetime) -> int:
        return self.commit(files=[new], by=by, now=now)[0]

    @staticmethod
    def _add(conn: Connection, new: NewFile, by: int, now: datetime) -> int:
        md5 = hashlib.md5(new.body, usedforsecurity=False).hexdigest()
        row = conn.execute(
            "INSERT INTO object_files (record_id, kind, filename, media_type, md5, size, body, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (new.record_id, new.kind, new.filename, new.media_type, md5, len(new.body), new.body, by, to_ms(now)),
        ).fetchone()
        return int(row[0])

    def list(self, record_id: str, kind: str) -> list[StoredFile]:
        """The files of ``kind`` kept with ``record_id``, oldest first."""
        rows = self.db.connection().execute(
            f"SELECT {_COLUMNS} FROM object_files WHERE record_id = ? AND kind = ? ORDER BY id", (record_id, kind)
        ).fetchall()
        return [_stored(r) for r in rows]

    def get(self, file_id: int) -> StoredFile | None:
        row = self.db.connection().execute(f"SELECT {_COLUMNS} FROM object_files WHERE id = ?", (file_id,)).fetchone()
        return _stored(row) if row else None

    def body(self, file_id: int) -> bytes | None:
        row = self.db.connection().execute("SELECT body FROM object_files WHERE id = ?", (file_id,)).fetchone()
        return bytes(row[0]) if row else None

    def delete(self, record_id: str, kind: str) -> int:
        cursor = self.db.write_one("DELETE FROM object_files WHERE record_id = ? AND kind = ?", (record_id, kind))
        return max(cursor.rowcount, 0)


__all__ = ["ARCHIVE", "ATTACHMENT", "DATA_LOG", "NewFile", "ObjectFiles", "RecordConflict", "StoredFile"]
