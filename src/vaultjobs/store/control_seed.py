"""What a seed document needs to read that the content queries do not offer: every document or
binder with its latest version, by name."""

from __future__ import annotations

import orjson

from vaultjobs.store.dialect import Dialect


def latest_versions(db: Dialect, *, binder: bool) -> list[tuple[int, int, int, str | None]]:
    """(id, major, minor, name__v) of every document (or binder) at its latest version, by id."""
    rows = db.connection().execute(
        "SELECT d.id, v.major, v.minor, v.fields FROM documents d JOIN document_versions v ON v.document_id = d.id "
        "WHERE d.binder = ? AND NOT EXISTS (SELECT 1 FROM document_versions w WHERE w.document_id = d.id "
        "AND (w.major > v.major OR (w.major = v.major AND w.minor > v.minor))) ORDER BY d.id",
        (int(binder),),
    ).fetchall()
    out = []
    for row in rows:
        name = orjson.loads(row[3]).get("name__v")
        out.append((int(row[0]), int(row[1]), int(row[2]), None if name is None else str(name)))
    return out
