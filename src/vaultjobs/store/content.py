"""The content repository's SQL: documents, versions, renditions, binder nodes, submissions, and the
requests and per-item results of document jobs.

Portable SQL (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``) on a
:class:`~vaultjobs.store.dialect.Dialect`, the same for SQLite and PostgreSQL. File bytes are not
here: rows point at files stored under ``<data_dir>/files/`` by :mod:`vaultjobs.content.files`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from vaultjobs.content.models import ROOT_NODE, BinderNode, Document, Rendition, StoredFile, Submission, Version
from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.rows import dumps
from vaultjobs.timeutil import from_ms, to_ms

_VERSION_COLUMNS = "document_id, major, minor, fields, filename, sha256, size, mime, created_by, created_at"
_NODE_COLUMNS = (
    "node_id, parent_id, kind, name, ord, section_number, document_id, binding_rule, doc_major, doc_minor"
)
_TERMINAL = "('SUCCESS','ERRORS_ENCOUNTERED','TIMEOUT','COMPLETED_DUE_TO_INACTIVITY','MISSED_SCHEDULE'," \
    "'CANCELLED','FAILED_TO_RUN')"


def _version_from_row(row: Sequence[Any]) -> Version:
    file = None
    if row[5] is not None:
        file = StoredFile(sha256=row[5], size=row[6], filename=row[4], mime=row[7])
    return Version(
        document_id=row[0],
        major=row[1],
        minor=row[2],
        fields=orjson.loads(row[3]),
        file=file,
        created_by=row[8],
        created_at=from_ms(row[9]),
    )


def _node_from_row(row: Sequence[Any]) -> BinderNode:
    return BinderNode(
        node_id=row[0],
        parent_id=row[1],
        kind=row[2],
        name=row[3],
        order=row[4],
        section_number=row[5],
        document_id=row[6],
        binding_rule=row[7],
        doc_major=row[8],
        doc_minor=row[9],
    )


def new_node_id(now: datetime) -> str:
    """A binder node id in Vault's shape (``1457556160448:810987462``)."""
    return f"{to_ms(now)}:{secrets.randbelow(2**31)}"


class Content:
    """Content repository queries; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db

    # -- files -----------------------------------------------------------------------------

    def add_file(self, sha256: str, size: int, now: datetime) -> None:
        self.db.write_one(
            "INSERT INTO content_files (sha256, size, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (sha256, size, to_ms(now)),
        )

    # -- documents and versions ------------------------------------------------------------

    def create_document(
        self,
        *,
        binder: bool,
        fields: dict[str, Any],
        file: StoredFile | None,
        major: int,
        minor: int,
        roles: dict[str, list[int]],
        created_by: int,
        now: datetime,
    ) -> int:
        """Insert a document (or binder) and its first version; return its id."""
        ms = to_ms(now)
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO documents (binder, created_by, created_at, roles) VALUES (?, ?, ?, ?) RETURNING id",
                (int(binder), created_by, ms, dumps(roles)),
            ).fetchone()
            document_id = int(row[0])
            _insert_version(conn, document_id, major, minor, fields, file, created_by, ms)
        return document_id

    def add_version(
        self,
        document_id: int,
        *,
        updates: dict[str, Any],
        file: StoredFile | None,
        keep_file: bool,
        number: tuple[int, int] | None,
        created_by: int,
        now: datetime,
    ) -> Version | None:
        """Add a version after the latest: ``number`` or the next minor; fields are the latest's plus
        ``updates``; the file is ``file``, or the latest's with ``keep_file``. A binder's new version
        starts with a copy of the latest version's structure.

        None when ``number`` is not after the latest version (or the document is gone).
        """
        ms = to_ms(now)
        with self.db.write() as conn:
            row = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM document_versions WHERE document_id = ? "
                "ORDER BY major DESC, minor DESC LIMIT 1",
                (document_id,),
            ).fetchone()
            if row is None:
                return None
            latest = _version_from_row(row)
            major, minor = number if number is not None else (latest.major, latest.minor + 1)
            if (major, minor) <= (latest.major, latest.minor):
                return None
            fields = {**latest.fields, **updates}
            if file is None and keep_file:
                file = latest.file
            _insert_version(conn, document_id, major, minor, fields, file, created_by, ms)
            conn.execute(
                f"INSERT INTO binder_nodes (binder_id, major, minor, {_NODE_COLUMNS}) "
                f"SELECT binder_id, ?, ?, {_NODE_COLUMNS} FROM binder_nodes "
                "WHERE binder_id = ? AND major = ? AND minor = ?",
                (major, minor, document_id, latest.major, latest.minor),
            )
        return Version(
            document_id=document_id, major=major, minor=minor, fields=fields, file=file,
            created_by=created_by, created_at=from_ms(ms),
        )

    def get_document(self, document_id: int) -> Document | None:
        row = self.db.connection().execute(
            "SELECT id, binder, created_by, created_at, roles FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if row is None:
            return None
        return Document(
            id=row[0], binder=bool(row[1]), created_by=row[2], created_at=from_ms(row[3]),
            roles=orjson.loads(row[4]),
        )

    def set_roles(self, document_id: int, roles: dict[str, list[int]]) -> None:
        self.db.write_one("UPDATE documents SET roles = ? WHERE id = ?", (dumps(roles), document_id))

    def versions(self, document_id: int) -> list[Version]:
        rows = self.db.connection().execute(
            f"SELECT {_VERSION_COLUMNS} FROM document_versions WHERE document_id = ? ORDER BY major, minor",
            (document_id,),
        ).fetchall()
        return [_version_from_row(r) for r in rows]

    def version(self, document_id: int, major: int, minor: int) -> Version | None:
        row = self.db.connection().execute(
            f"SELECT {_VERSION_COLUMNS} FROM document_versions WHERE document_id = ? AND major = ? AND minor = ?",
            (document_id, major, minor),
        ).fetchone()
        return None if row is None else _version_from_row(row)

    def latest_version(self, document_id: int) -> Version | None:
        row = self.db.connection().execute(
            f"SELECT {_VERSION_COLUMNS} FROM document_versions WHERE document_id = ? "
            "ORDER BY major DESC, minor DESC LIMIT 1",
            (document_id,),
        ).fetchone()
        return None if row is None else _version_from_row(row)

    # -- renditions ------------------------------------------------------------------------

    def put_rendition(
        self, document_id: int, major: int, minor: int, rendition: Rendition, now: datetime
    ) -> bool:
        """Add or replace a rendition of a version; False when the version does not exist."""
        f = rendition.file
        with self.db.write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM document_versions WHERE document_id = ? AND major = ? AND minor = ?",
                (document_id, major, minor),
            ).fetchone()
            if exists is None:
                return False
            conn.execute(
                "INSERT INTO renditions (document_id, major, minor, rendition_type, filename, sha256, size, mime, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id, major, minor, "
                "rendition_type) DO UPDATE SET filename = excluded.filename, sha256 = excluded.sha256, "
                "size = excluded.size, mime = excluded.mime, created_at = excluded.created_at",
                (document_id, major, minor, rendition.rendition_type, f.filename, f.sha256, f.size, f.mime,
                 to_ms(now)),
            )
        return True

    def renditions(self, document_id: int, major: int, minor: int) -> list[Rendition]:
        rows = self.db.connection().execute(
            "SELECT rendition_type, filename, sha256, size, mime FROM renditions "
            "WHERE document_id = ? AND major = ? AND minor = ? ORDER BY rendition_type",
            (document_id, major, minor),
        ).fetchall()
        return [
            Rendition(rendition_type=r[0], file=StoredFile(filename=r[1], sha256=r[2], size=r[3], mime=r[4]))
            for r in rows
        ]

    # -- binders ---------------------------------------------------------------------------

    def add_node(
        self,
        binder_id: int,
        major: int,
        minor: int,
        *,
        parent_id: str,
        kind: str,
        name: str,
        order: int | None,
        now: datetime,
        section_number: str | None = None,
        document_id: int | None = None,
        binding_rule: str | None = None,
        doc_major: int | None = None,
        doc_minor: int | None = None,
    ) -> BinderNode | None:
        """Add a node under ``parent_id`` (a section, or ``rootNode``); None when that parent is no section
        of this binder version. Without ``order`` the node goes below its siblings."""
        with self.db.write() as conn:
            if parent_id != ROOT_NODE:
                parent = conn.execute(
                    "SELECT kind FROM binder_nodes WHERE binder_id = ? AND major = ? AND minor = ? AND node_id = ?",
                    (binder_id, major, minor, parent_id),
                ).fetchone()
                if parent is None or parent[0] != "section":
                    return None
            if order is None:
                row = conn.execute(
                    "SELECT max(ord) FROM binder_nodes WHERE binder_id = ? AND major = ? AND minor = ? "
                    "AND parent_id = ?",
                    (binder_id, major, minor, parent_id),
                ).fetchone()
                order = 0 if row is None or row[0] is None else int(row[0]) + 100
            node = BinderNode(
                node_id=new_node_id(now), parent_id=parent_id, kind=kind, name=name, order=order,
                section_number=section_number, document_id=document_id, binding_rule=binding_rule,
                doc_major=doc_major, doc_minor=doc_minor,
            )
            conn.execute(
                f"INSERT INTO binder_nodes (binder_id, major, minor, {_NODE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (binder_id, major, minor, node.node_id, node.parent_id, node.kind, node.name, node.order,
                 node.section_number, node.document_id, node.binding_rule, node.doc_major, node.doc_minor),
            )
        return node

    def nodes(self, binder_id: int, major: int, minor: int) -> list[BinderNode]:
        """Every node of a binder version, siblings in order."""
        rows = self.db.connection().execute(
            f"SELECT {_NODE_COLUMNS} FROM binder_nodes WHERE binder_id = ? AND major = ? AND minor = ? "
            "ORDER BY parent_id, ord, node_id",
            (binder_id, major, minor),
        ).fetchall()
        return [_node_from_row(r) for r in rows]

    # -- submissions -----------------------------------------------------------------------

    def get_submission(self, submission_id: str) -> Submission | None:
        row = self.db.connection().execute(
            "SELECT id, created_by, binder_id, section_id, job_id FROM submissions WHERE id = ?", (submission_id,)
        ).fetchone()
        if row is None:
            return None
        return Submission(id=row[0], created_by=row[1], binder_id=row[2], section_id=row[3], job_id=row[4])

    @staticmethod
    def reserve_submission(conn: Connection, submission_id: str, created_by: int, now: datetime, job_id: int) -> bool:
        """Reserve a submission for the import job ``job_id``, on the connection of the transaction that
        creates the job (so no second import can slip in between the two): True unless it was imported
        or an import of it is unfinished. On PostgreSQL a concurrent reservation waits for this one's
        row and then sees its job."""
        cur = conn.execute(
            "INSERT INTO submissions (id, created_by, created_at, job_id) VALUES (?, ?, ?, ?) ON CONFLICT (id) "
            "DO UPDATE SET created_by = excluded.created_by, created_at = excluded.created_at, "
            "job_id = excluded.job_id "
            "WHERE submissions.binder_id IS NULL AND (submissions.job_id IS NULL OR "
            f"(SELECT status FROM jobs WHERE jobs.id = submissions.job_id) IN {_TERMINAL})",
            (submission_id, created_by, to_ms(now), job_id),
        )
        return bool(cur.rowcount == 1)

    def set_submission(
        self,
        submission_id: str,
        *,
        job_id: int | None = None,
        binder_id: int | None = None,
        section_id: str | None = None,
    ) -> None:
        with self.db.write() as conn:
            if job_id is not None:
                conn.execute("UPDATE submissions SET job_id = ? WHERE id = ?", (job_id, submission_id))
            if binder_id is not None:
                conn.execute(
                    "UPDATE submissions SET binder_id = ?, section_id = ? WHERE id = ?",
                    (binder_id, section_id, submission_id),
                )

    # -- requests and results of document jobs ---------------------------------------------

    def save_request(self, created_by: int, body: Any, now: datetime) -> int:
        with self.db.write(durable=True) as conn:
            row = conn.execute(
                "INSERT INTO content_requests (created_by, created_at, body) VALUES (?, ?, ?) RETURNING id",
                (created_by, to_ms(now), dumps(body)),
            ).fetchone()
        return int(row[0])

    def request(self, request_id: int) -> Any:
        row = self.db.connection().execute("SELECT body FROM content_requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def put_results(self, job_id: int, rows: Sequence[tuple[int, int, dict[str, Any]]]) -> None:
        """Record item outcomes; a re-run of the same item replaces its row."""
        if not rows:
            return
        with self.db.write() as conn:
            for n, k, data in rows:
                conn.execute(
                    "INSERT INTO content_job_results (job_id, n, k, data) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (job_id, n, k) DO UPDATE SET data = excluded.data",
                    (job_id, n, k, dumps(data)),
                )

    def results(self, job_id: int) -> list[dict[str, Any]]:
        rows = self.db.connection().execute(
            "SELECT data FROM content_job_results WHERE job_id = ? ORDER BY n, k", (job_id,)
        ).fetchall()
        return [orjson.loads(r[0]) for r in rows]


def _insert_version(
    conn: Connection,
    document_id: int,
    major: int,
    minor: int,
    fields: dict[str, Any],
    file: StoredFile | None,
    created_by: int,
    ms: int,
) -> None:
    conn.execute(
        f"INSERT INTO document_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            document_id, major, minor, dumps(fields),
            None if file is None else file.filename,
            None if file is None else file.sha256,
            None if file is None else file.size,
            None if file is None else file.mime,
            created_by, ms,
        ),
    )
