"""The SQL of Vault objects: the catalog document, records, and the object jobs' plans and results.

One query module of the store (``store.objects``) on its :class:`~vaultjobs.store.dialect.Dialect`; the SQL is portable
(``?`` placeholders, ``ON CONFLICT``, ``RETURNING``), so SQLite and PostgreSQL run the same text.

Records keep their field values as JSON (values already in their stored form: the service,
:mod:`vaultjobs.jobtypes.objects.records`, encodes and decodes them against the catalog). Two index
tables beside them let the database hold the rules no check-then-write can: a unique field value
is a primary key of ``object_unique_values`` (a clash is a conflict whichever node writes first),
and every Object field value is a row of ``object_references`` (children and referrers are an index
lookup, not a scan of JSON).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from vaultjobs.store.dialect import Dialect
from vaultjobs.store.errors import StoreError
from vaultjobs.timeutil import from_ms, to_ms

#: Ids per ``IN (…)`` list: well under SQLite's and PostgreSQL's parameter limits.
_IN_BATCH = 500
_RECORD_COLUMNS = "id, object, name, data, created_by, created_at, modified_by, modified_at"


class RecordConflict(StoreError):
    """A write would give two records of an object the same value of a unique field."""


class _Raced(Exception):
    """Another writer inserted a record between :meth:`Objects.insert`'s lookup and its insert."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectStamps:
    """Who created and last changed an object's definition, and when."""

    created_by: int
    created_at: datetime
    modified_by: int
    modified_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredCatalog:
    """The catalog as stored: ``body`` is None until the first MDL change (the standard catalog)."""

    revision: int
    body: dict[str, Any] | None
    stamps: dict[str, ObjectStamps]


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogChange:
    """What one MDL execution changed, for the records: objects renamed or dropped, fields renamed or
    dropped (renames are applied in order: objects first, then fields under the objects' new names)."""

    created: Sequence[str] = ()
    modified: Sequence[str] = ()
    renamed: Sequence[tuple[str, str]] = ()
    dropped: Sequence[str] = ()
    #: ``(object, field)``: its values, unique values and references go.
    dropped_fields: Sequence[tuple[str, str]] = ()
    #: ``(object, old field, new field)``: values, unique values and references follow the new name.
    renamed_fields: Sequence[tuple[str, str, str]] = ()
    #: ``(object, field)`` no longer unique: its unique values go.
    not_unique: Sequence[tuple[str, str]] = ()
    #: ``(object, field, value, record id)`` of fields that became unique; a value two records share
    #: makes the save fail with :class:`RecordConflict`.
    unique_rows: Sequence[tuple[str, str, str, str]] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordRow:
    """One record as stored: standard columns, and the other field values as JSON-ready values."""

    id: str
    object: str
    name: str | None
    data: dict[str, Any]
    created_by: int
    created_at: datetime
    modified_by: int
    modified_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordWrite:
    """A record to insert or replace, with the index rows it owns."""

    row: RecordRow
    #: ``(field, value)`` of every unique field with a value.
    uniques: Sequence[tuple[str, str]] = ()
    #: ``(field, target record id)`` of every Object field with a value.
    references: Sequence[tuple[str, str]] = ()


class Referrer(NamedTuple):
    """A record whose Object ``field`` holds ``target_id`` (a tuple: tree walks make thousands)."""

    record_id: str
    object: str
    field: str
    target_id: str


class PlanRow(NamedTuple):
    """One record an object job works on: its place ``n`` in the job, and (deep copy) its copy's id
    and the place of its parent (a tuple: a plan has up to 10,001 rows)."""

    n: int
    object: str
    source_id: str
    target_id: str | None = None
    parent_n: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CopySource:
    """A deep copy's plan row with what it copies: the source's object and values as stored (None
    when the source is gone) and the id of the parent's copy."""

    n: int
    object: str
    source_id: str
    target_id: str
    parent_target_id: str | None
    source_object: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CopySpec:
    """How deep copy makes the copies of one object's records from their sources, in SQL: the
    sources' stored values with some fields cleared or set."""

    object: str
    #: Fields every copy leaves empty (``no_copy`` and system fields).
    cleared: Sequence[str] = ()
    #: ``(field, value)`` set in every copy (``object_type__v``).
    fixed: Sequence[tuple[str, str]] = ()
    #: The parent field: each copy's points at its parent's copy.
    parent: str | None = None
    #: Fields copied as they are that must hold a value.
    required: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class FieldSort:
    """Records ordered by a field's stored value: as text, or as a number (Numbers are kept as
    decimal strings); records without a value come last ascending, first descending."""

    field: str
    numeric: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ResultBatch:
    """A task's per-record results stored as one row (keyed by the task's first ``n``), written in
    the transaction of the work they report."""

    job_id: int
    outcome: str
    n: int
    rows: Sequence[dict[str, Any]]


def _row(row: Sequence[Any]) -> RecordRow:
    return RecordRow(
        id=row[0],
        object=row[1],
        name=row[2],
        data=orjson.loads(row[3]),
        created_by=int(row[4]),
        created_at=from_ms(row[5]),
        modified_by=int(row[6]),
        modified_at=from_ms(row[7]),
    )


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _IN_BATCH):
        yield values[start : start + _IN_BATCH]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _write_index_rows(conn: Any, writes: Sequence[RecordWrite]) -> None:
    uniques = [(w.row.object, f, v, w.row.id) for w in writes for f, v in w.uniques]
    if uniques:
        conn.executemany(
            "INSERT INTO object_unique_values (object, field, value, record_id) VALUES (?, ?, ?, ?)", uniques
        )
    references = [(w.row.id, w.row.object, f, t) for w in writes for f, t in w.references]
    if references:
        conn.executemany(
            "INSERT INTO object_references (record_id, object, field, target_id) VALUES (?, ?, ?, ?)", references
        )


def _put_results(conn: Any, job_id: int, outcome: str, rows: Sequence[tuple[int, Any]]) -> None:
    if rows:
        conn.executemany(
            "INSERT INTO object_job_results (job_id, outcome, n, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (job_id, outcome, n) DO NOTHING",
            [(job_id, outcome, n, orjson.dumps(data).decode()) for n, data in rows],
        )


def _put_batch(conn: Any, batch: ResultBatch | None) -> None:
    if batch is not None and batch.rows:
        _put_results(conn, batch.job_id, batch.outcome, [(batch.n, list(batch.rows))])


def _record_params(row: RecordRow) -> tuple[Any, ...]:
    return (
        row.id,
        row.object,
        row.name,
        orjson.dumps(row.data).decode(),
        row.created_by,
        to_ms(row.created_at),
        row.modified_by,
        to_ms(row.modified_at),
    )


def insert_rows(conn: Any, writes: Sequence[RecordWrite]) -> None:
    """Insert new records and their index rows on ``conn`` (inside the caller's transaction)."""
    if writes:
        conn.executemany(
            f"INSERT INTO object_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_record_params(w.row) for w in writes],
        )
        _write_index_rows(conn, writes)


def replace_rows(conn: Any, writes: Sequence[RecordWrite]) -> None:
    """Replace existing records and their index rows on ``conn`` (inside the caller's transaction)."""
    for w in writes:
        conn.execute(
            "UPDATE object_records SET name = ?, data = ?, modified_by = ?, modified_at = ? WHERE id = ?",
            (w.row.name, orjson.dumps(w.row.data).decode(), w.row.modified_by, to_ms(w.row.modified_at), w.row.id),
        )
        conn.execute("DELETE FROM object_unique_values WHERE record_id = ?", (w.row.id,))
        conn.execute("DELETE FROM object_references WHERE record_id = ?", (w.row.id,))
    _write_index_rows(conn, writes)


def _rename_field(conn: Any, object_name: str, old: str, new: str | None) -> None:
    """Move ``old``'s values to ``new`` (or drop them, when None) in every record of the object. The
    JSON is rewritten here, in Python: the two engines' JSON functions differ, and this is rare."""
    rows = conn.execute("SELECT id, data FROM object_records WHERE object = ?", (object_name,)).fetchall()
    for record_id, text in rows:
        data = orjson.loads(text)
        if old in data:
            value = data.pop(old)
            if new is not None:
                data[new] = value
            conn.execute("UPDATE object_records SET data = ? WHERE id = ?", (orjson.dumps(data).decode(), record_id))
    if new is None:
        return
    for table in ("object_unique_values", "object_references"):
        conn.execute(f"UPDATE {table} SET field = ? WHERE object = ? AND field = ?", (new, object_name, old))


def _save_catalog(
    db: Dialect, expected_revision: int, body: dict[str, Any], change: CatalogChange, by: int, now: datetime,
    also: Sequence[RecordWrite],
) -> bool:
    ms = to_ms(now)
    text = orjson.dumps(body).decode()
    with db.write() as conn:
        if expected_revision == 0:
            saved = conn.execute(
                "INSERT INTO object_catalog (id, revision, body, modified_at) VALUES (1, 1, ?, ?) "
                "ON CONFLICT (id) DO NOTHING RETURNING revision",
                (text, ms),
            ).fetchone()
        else:
            saved = conn.execute(
                "UPDATE object_catalog SET revision = revision + 1, body = ?, modified_at = ? "
                "WHERE id = 1 AND revision = ? RETURNING revision",
                (text, ms, expected_revision),
            ).fetchone()
        if saved is None:
            return False
        replace_rows(conn, also)
        for old, new in change.renamed:
            for table, column in (
                ("object_records", "object"),
                ("object_unique_values", "object"),
                ("object_references", "object"),
                ("object_stamps", "name"),
            ):
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))
        for name, old, new in change.renamed_fields:
            _rename_field(conn, name, old, new)
        for name in change.dropped:
            conn.execute("DELETE FROM object_records WHERE object = ?", (name,))
            conn.execute("DELETE FROM object_stamps WHERE name = ?", (name,))
        for name, field in change.dropped_fields:
            _rename_field(conn, name, field, None)
            conn.execute("DELETE FROM object_unique_values WHERE object = ? AND field = ?", (name, field))
            conn.execute("DELETE FROM object_references WHERE object = ? AND field = ?", (name, field))
        for name, field in change.not_unique:
            conn.execute("DELETE FROM object_unique_values WHERE object = ? AND field = ?", (name, field))
        if change.unique_rows:
            conn.executemany(
                "INSERT INTO object_unique_values (object, field, value, record_id) VALUES (?, ?, ?, ?)",
                list(change.unique_rows),
            )
        for name in (*change.created, *change.modified):
            conn.execute(
                "INSERT INTO object_stamps (name, created_by, created_at, modified_by, modified_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET modified_by = excluded.modified_by, "
                "modified_at = excluded.modified_at",
                (name, by, ms, by, ms),
            )
    return True


class _Json:
    """Record values in SQL: SQLite's JSON functions or PostgreSQL's ``jsonb`` operators (the one
    thing about records the two engines spell differently). Field names travel as parameters."""

    def __init__(self, db: Dialect) -> None:
        self.sqlite = sqlite3.IntegrityError in db.integrity_errors

    def key(self, field: str) -> str:
        return f'$."{field}"' if self.sqlite else field

    def value(self, column: str) -> str:
        """SQL for the value of a field (the next parameter) of ``column`` as a scalar; NULL when
        the value is null or missing."""
        return f"json_extract({column}, ?)" if self.sqlite else f"({column}::jsonb ->> CAST(? AS text))"

    def number(self, column: str) -> str:
        """:meth:`value` as a number (Numbers are kept as decimal strings)."""
        return f"CAST({self.value(column)} AS REAL)" if self.sqlite else f"CAST({self.value(column)} AS numeric)"

    @property
    def collate(self) -> str:
        """Appended to a text expression: comparison by code point (PostgreSQL's default follows the locale)."""
        return "" if self.sqlite else ' COLLATE "C"'

    def text(self) -> str:
        """A text parameter where PostgreSQL cannot tell its type (a select list, ``jsonb_build_object``)."""
        return "?" if self.sqlite else "CAST(? AS text)"

    def set(self, column: str, values: Sequence[str]) -> str:
        """SQL for ``column`` with fields (each a parameter) set to the SQL ``values``."""
        if not values:
            return column
        if self.sqlite:
            return f"json_set({column}, {', '.join(f'?, {v}' for v in values)})"
        pairs = ", ".join(f"CAST(? AS text), {v}" for v in values)
        return f"({column}::jsonb || jsonb_build_object({pairs}))::text"


class Objects:
    """Object catalog, record and object-job queries; every method is one unit of work."""

    def __init__(self, db: Dialect) -> None:
        self.db = db
        self._json = _Json(db)

    # -- catalog ---------------------------------------------------------------------------

    def catalog_revision(self) -> int:
        """The catalog's revision: 0 until MDL first changes it. Cheap, for caches."""
        row = self.db.connection().execute("SELECT revision FROM object_catalog WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def catalog_load(self) -> StoredCatalog:
        conn = self.db.connection()
        row = conn.execute("SELECT revision, body FROM object_catalog WHERE id = 1").fetchone()
        stamps = {
            r[0]: ObjectStamps(
                created_by=int(r[1]), created_at=from_ms(r[2]), modified_by=int(r[3]), modified_at=from_ms(r[4])
            )
            for r in conn.execute(
                "SELECT name, created_by, created_at, modified_by, modified_at FROM object_stamps"
            ).fetchall()
        }
        if row is None:
            return StoredCatalog(revision=0, body=None, stamps=stamps)
        return StoredCatalog(revision=int(row[0]), body=orjson.loads(row[1]), stamps=stamps)

    def catalog_save(
        self, expected_revision: int, body: dict[str, Any], change: CatalogChange, by: int, now: datetime,
        *, also: Sequence[RecordWrite] = (),
    ) -> bool:
        """Store ``body`` as the next revision when the catalog is still at ``expected_revision``
        (False when another writer got there first: nothing is written), and bring the records in
        line with ``change`` in the same transaction. ``also`` replaces existing records in that
        transaction too (a package step's status, so that it moves with the change it records)."""
        try:
            return _save_catalog(self.db, expected_revision, body, change, by, now, also)
        except self.db.integrity_errors as exc:
            raise RecordConflict(str(exc)) from exc

    # -- records -----------------------------------------------------------------------------

    def next_ids(self, prefix: str, count: int) -> list[int]:
        """``count`` record numbers for ``prefix`` never handed out before, ascending."""
        return self.next_ids_of({prefix: count}).get(prefix, [])

    def next_ids_of(self, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """:meth:`next_ids` for several prefixes in one transaction."""
        wanted = {prefix: count for prefix, count in counts.items() if count > 0}
        if not wanted:
            return {}
        out: dict[str, list[int]] = {}
        with self.db.write() as conn:
            for prefix, count in wanted.items():
                row = conn.execute(
                    "INSERT INTO object_sequences (prefix, last) VALUES (?, ?) ON CONFLICT (prefix) "
                    "DO UPDATE SET last = object_sequences.last + excluded.last RETURNING last",
                    (prefix, count),
                ).fetchone()
                last = int(row[0])
                out[prefix] = list(range(last - count + 1, last + 1))
        return out

    def insert(self, writes: Sequence[RecordWrite], *, skip_existing: bool = False,
               results: ResultBatch | None = None) -> list[str]:
        """Insert ``writes`` in one transaction; the ids inserted. :class:`RecordConflict` (nothing
        written) on a unique clash. With ``skip_existing`` a record whose id exists already is left as
        it is (an object job writing again what it wrote before its worker died). ``results`` are
        stored in the same transaction."""
        if not writes and results is None:
            return []
        try:
            try:
                return self._insert_many(writes, skip_existing, results)
            except _Raced:
                return self._insert_one_by_one(writes, results)
        except self.db.integrity_errors as exc:
            raise RecordConflict(str(exc)) from exc

    def _insert_many(self, writes: Sequence[RecordWrite], skip_existing: bool,
                     results: ResultBatch | None) -> list[str]:
        """One lookup and one ``executemany`` rather than a statement per record (this is the write
        of every deep copy task); :class:`_Raced`, nothing written, when a concurrent writer inserted
        one of the ids between the lookup and the insert (PostgreSQL; SQLite writers queue)."""
        with self.db.write() as conn:
            fresh = list(writes)
            if skip_existing:
                taken: set[str] = set()
                for chunk in _chunks([w.row.id for w in writes]):
                    taken.update(r[0] for r in conn.execute(
                        f"SELECT id FROM object_records WHERE id IN ({_marks(chunk)})", tuple(chunk)
                    ).fetchall())
                fresh = []
                for w in writes:
                    if w.row.id not in taken:
                        taken.add(w.row.id)
                        fresh.append(w)
            if fresh:
                conflict = " ON CONFLICT (id) DO NOTHING" if skip_existing else ""
                cursor = conn.executemany(
                    f"INSERT INTO object_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?){conflict}",
                    [_record_params(w.row) for w in fresh],
                )
                if skip_existing and cursor.rowcount != len(fresh):
                    raise _Raced
            _write_index_rows(conn, fresh)
            _put_batch(conn, results)
        return [w.row.id for w in fresh]

    def _insert_one_by_one(self, writes: Sequence[RecordWrite], results: ResultBatch | None = None) -> list[str]:
        """``skip_existing`` record by record: each insert says whether it wrote its record."""
        with self.db.write() as conn:
            fresh: list[RecordWrite] = []
            for w in writes:
                got = conn.execute(
                    f"INSERT INTO object_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING RETURNING id",
                    _record_params(w.row),
                ).fetchone()
                if got is not None:
                    fresh.append(w)
            _write_index_rows(conn, fresh)
            _put_batch(conn, results)
        return [w.row.id for w in fresh]

    def replace(self, writes: Sequence[RecordWrite]) -> None:
        """Replace existing records (values, name, modified stamps) and their index rows, in one
        transaction; :class:`RecordConflict` (nothing written) on a unique clash."""
        if not writes:
            return
        try:
            with self.db.write() as conn:
                replace_rows(conn, writes)
        except self.db.integrity_errors as exc:
            raise RecordConflict(str(exc)) from exc

    def delete(
        self, ids: Sequence[str], updates: Sequence[RecordWrite] = (), *, now: datetime,
        results: ResultBatch | None = None,
    ) -> int:
        """Delete the records ``ids`` and replace ``updates`` (referrers whose field is cleared) in
        one transaction, noting each deletion (and storing ``results``); how many records were deleted."""
        deleted = 0
        with self.db.write() as conn:
            for w in updates:
                conn.execute(
                    "UPDATE object_records SET data = ?, modified_by = ?, modified_at = ? WHERE id = ?",
                    (orjson.dumps(w.row.data).decode(), w.row.modified_by, to_ms(w.row.modified_at), w.row.id),
                )
                conn.execute("DELETE FROM object_references WHERE record_id = ?", (w.row.id,))
            _write_index_rows(conn, [RecordWrite(row=w.row, references=w.references) for w in updates])
            for chunk in _chunks(list(ids)):
                conn.execute(
                    f"INSERT INTO object_deletions (object, id, deleted_at) SELECT object, id, ? FROM object_records "
                    f"WHERE id IN ({_marks(chunk)}) ON CONFLICT DO NOTHING",
                    (to_ms(now), *chunk),
                )
                cursor = conn.execute(f"DELETE FROM object_records WHERE id IN ({_marks(chunk)})", tuple(chunk))
                deleted += max(cursor.rowcount, 0)
            _put_batch(conn, results)
        return deleted

    def get(self, ids: Sequence[str]) -> dict[str, RecordRow]:
        out: dict[str, RecordRow] = {}
        conn = self.db.connection()
        for chunk in _chunks(list(dict.fromkeys(ids))):
            for r in conn.execute(
                f"SELECT {_RECORD_COLUMNS} FROM object_records WHERE id IN ({_marks(chunk)})", tuple(chunk)
            ).fetchall():
                out[r[0]] = _row(r)
        return out

    def page(
        self, object_name: str, *, sort: str | FieldSort, descending: bool, limit: int, offset: int
    ) -> tuple[int, list[RecordRow]]:
        """The total of ``object_name``'s records and one page of them, ordered by ``sort`` (a
        column: ``id``, ``name``, ``created_at``, ``modified_at``, ``created_by``, ``modified_by``; or
        a field's value), ties by id in the same direction, so that pages never overlap or skip.
        Text compares by code point on both engines."""
        direction = "DESC" if descending else "ASC"
        params: list[Any] = [object_name]
        if isinstance(sort, FieldSort):
            json = self._json
            value = json.number("data") if sort.numeric else f"{json.value('data')}{json.collate}"
            order = f"({json.value('data')} IS NULL) {direction}, {value} {direction}, id {direction}"
            params += [json.key(sort.field)] * 2
        elif sort in ("name", "created_at", "modified_at", "created_by", "modified_by"):
            text = self._json.collate if sort == "name" else ""
            order = f"({sort} IS NULL) {direction}, {sort}{text} {direction}, id {direction}"
        elif sort == "id":
            order = f"id {direction}"
        else:
            raise ValueError(f"cannot sort records by {sort!r}")
        conn = self.db.connection()
        total = int(conn.execute("SELECT COUNT(*) FROM object_records WHERE object = ?", (object_name,))
                    .fetchone()[0])
        rows = conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM object_records WHERE object = ? ORDER BY {order} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return total, [_row(r) for r in rows]

    def count(self, object_name: str) -> int:
        return int(self.db.connection().execute("SELECT COUNT(*) FROM object_records WHERE object = ?", (object_name,))
                   .fetchone()[0])

    def ids_by_unique(self, object_name: str, field: str, values: Sequence[str]) -> dict[str, str]:
        """``value → record id`` for the values of unique ``field`` that some record holds."""
        out: dict[str, str] = {}
        conn = self.db.connection()
        for chunk in _chunks(list(dict.fromkeys(values))):
            for value, record_id in conn.execute(
                f"SELECT value, record_id FROM object_unique_values WHERE object = ? AND field = ? "
                f"AND value IN ({_marks(chunk)})",
                (object_name, field, *chunk),
            ).fetchall():
                out[value] = record_id
        return out

    def ids_by_name(self, object_name: str, names: Sequence[str]) -> dict[str, list[str]]:
        """``name__v → record ids`` (names need not be unique), ids ascending."""
        out: dict[str, list[str]] = {}
        conn = self.db.connection()
        for chunk in _chunks(list(dict.fromkeys(names))):
            for name, record_id in conn.execute(
                f"SELECT name, id FROM object_records WHERE object = ? AND name IN ({_marks(chunk)}) ORDER BY id",
                (object_name, *chunk),
            ).fetchall():
                out.setdefault(name, []).append(record_id)
        return out

    def referrers(self, target_ids: Sequence[str]) -> list[Referrer]:
        """Every record whose Object field holds one of ``target_ids``, by record id."""
        out: list[Referrer] = []
        conn = self.db.connection()
        for chunk in _chunks(list(dict.fromkeys(target_ids))):
            out.extend(map(Referrer._make, conn.execute(
                f"SELECT record_id, object, field, target_id FROM object_references "
                f"WHERE target_id IN ({_marks(chunk)}) ORDER BY record_id, field",
                tuple(chunk),
            ).fetchall()))
        return out

    # -- object jobs: plans and results --------------------------------------------------------

    def plan_save(self, job_id: int, rows: Sequence[PlanRow]) -> bool:
        """Store a job's plan unless it has one already (False then: a run before this one made it,
        and it stands)."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM object_job_plans WHERE job_id = ? LIMIT 1", (job_id,)).fetchone():
                return False
            if rows:
                conn.executemany(  # the rows are the parameters as they are: 10,001 of them at most
                    "INSERT INTO object_job_plans (job_id, n, object, source_id, target_id, parent_n) "
                    f"VALUES ({int(job_id)}, ?, ?, ?, ?, ?)",
                    rows,
                )
        return True

    def plan(self, job_id: int, first: int = 0, last: int | None = None) -> list[PlanRow]:
        """The plan rows of ``job_id`` with ``first <= n <= last``, by ``n``."""
        rows = self.db.connection().execute(
            "SELECT n, object, source_id, target_id, parent_n FROM object_job_plans "
            "WHERE job_id = ? AND n >= ? AND n <= ? ORDER BY n",
            (job_id, first, last if last is not None else 2**62),
        ).fetchall()
        return list(map(PlanRow._make, rows))

    def plan_size(self, job_id: int) -> int:
        return int(self.db.connection().execute("SELECT COUNT(*) FROM object_job_plans WHERE job_id = ?",
                                                (job_id,)).fetchone()[0])

    def plan_children(self, job_id: int, first: int, last: int) -> set[str]:
        """The sources of the plan rows whose parent is one of the rows ``first``…``last``."""
        return {r[0] for r in self.db.connection().execute(
            "SELECT source_id FROM object_job_plans WHERE job_id = ? AND parent_n >= ? AND parent_n <= ?",
            (job_id, first, last),
        ).fetchall()}

    def copy_suspects(self, job_id: int, first: int, last: int, spec: CopySpec, *, every: bool = False
                      ) -> list[CopySource]:
        """The plan rows ``first``…``last`` of ``spec``'s object (the root aside) whose copy may not
        be made: the source is gone, or a required field has no value (``every``: all rows, when a
        required field is cleared); with what they copy, for the caller to say why."""
        json = self._json
        in_data = [f for f in spec.required if f != "name__v"]  # name__v is the name column too
        checks = ["r.id IS NULL", "r.object <> p.object", *(["r.name IS NULL"] if "name__v" in spec.required else []),
                  *(f"{json.value('r.data')} IS NULL" for _ in in_data)]
        condition = "1 = 1" if every else " OR ".join(checks)
        rows = self.db.connection().execute(
            "SELECT p.n, p.object, p.source_id, p.target_id, pp.target_id, r.object, r.data "
            "FROM object_job_plans p "
            "LEFT JOIN object_job_plans pp ON pp.job_id = p.job_id AND pp.n = p.parent_n "
            "LEFT JOIN object_records r ON r.id = p.source_id "
            f"WHERE p.job_id = ? AND p.n >= ? AND p.n <= ? AND p.n > 0 AND p.object = ? AND ({condition}) "
            "ORDER BY p.n",
            (job_id, first, last, spec.object, *([] if every else [json.key(f) for f in in_data])),
        ).fetchall()
        return [CopySource(n=int(r[0]), object=r[1], source_id=r[2], target_id=r[3], parent_target_id=r[4],
                           source_object=r[5], data=None if r[6] is None else orjson.loads(r[6])) for r in rows]

    def copy_span(
        self, job_id: int, first: int, last: int, specs: Sequence[CopySpec], *, skip: Sequence[int], by: int,
        now: datetime, results: ResultBatch,
    ) -> None:
        """Make the copies of plan rows ``first``…``last`` but ``skip`` (and the root), set-based:
        per object one ``INSERT … SELECT`` for the records and two for their references (copied
        ones, and the parent field pointing at the parent's copy), and ``results``, in one
        transaction. A copy that exists already is left as it is, so a task run again writes nothing
        twice. Copies hold no unique value (a copied one always clashes with its source's)."""
        json = self._json
        skipped = sorted({0, *skip})
        ms = to_ms(now)
        span = f"p.job_id = ? AND p.n >= ? AND p.n <= ? AND p.object = ? AND p.n NOT IN ({_marks(skipped)})"
        with self.db.write() as conn:
            for spec in specs:
                where = (job_id, first, last, spec.object, *skipped)
                sets = [(f, "NULL", ()) for f in spec.cleared] + [(f, json.text(), (v,)) for f, v in spec.fixed]
                if spec.parent is not None:
                    sets.append((spec.parent, "pp.target_id", ()))
                set_params = [p for f, _, extra in sets for p in (json.key(f), *extra)]
                name = "NULL" if "name__v" in spec.cleared else "r.name"
                conn.execute(
                    f"INSERT INTO object_records ({_RECORD_COLUMNS}) "
                    f"SELECT p.target_id, p.object, {name}, {json.set('r.data', [v for _, v, _ in sets])}, ?, ?, ?, ? "
                    "FROM object_job_plans p JOIN object_records r ON r.id = p.source_id AND r.object = p.object "
                    "LEFT JOIN object_job_plans pp ON pp.job_id = p.job_id AND pp.n = p.parent_n "
                    f"WHERE {span} ON CONFLICT (id) DO NOTHING",
                    (*set_params, by, ms, by, ms, *where),
                )
                replaced = [*spec.cleared, *([spec.parent] if spec.parent else [])]
                not_replaced = f" AND ref.field NOT IN ({_marks(replaced)})" if replaced else ""
                conn.execute(
                    "INSERT INTO object_references (record_id, object, field, target_id) "
                    "SELECT p.target_id, p.object, ref.field, ref.target_id "
                    "FROM object_job_plans p JOIN object_references ref ON ref.record_id = p.source_id "
                    f"WHERE {span}{not_replaced} ON CONFLICT DO NOTHING",
                    (*where, *replaced),
                )
                if spec.parent is not None:
                    conn.execute(
                        "INSERT INTO object_references (record_id, object, field, target_id) "
                        f"SELECT p.target_id, p.object, {json.text()}, pp.target_id FROM object_job_plans p "
                        "JOIN object_job_plans pp ON pp.job_id = p.job_id AND pp.n = p.parent_n "
                        f"WHERE {span} AND EXISTS (SELECT 1 FROM object_records c WHERE c.id = p.target_id) "
                        "ON CONFLICT DO NOTHING",
                        (spec.parent, *where),
                    )
            _put_batch(conn, results)

    def source_uniques(self, job_id: int, first: int, last: int) -> dict[str, list[tuple[str, str]]]:
        """``source id → [(field, value)]``: the unique values the sources of plan rows ``first``…``last`` hold."""
        out: dict[str, list[tuple[str, str]]] = {}
        for record_id, field, value in self.db.connection().execute(
            "SELECT u.record_id, u.field, u.value FROM object_job_plans p "
            "JOIN object_unique_values u ON u.record_id = p.source_id "
            "WHERE p.job_id = ? AND p.n >= ? AND p.n <= ?",
            (job_id, first, last),
        ).fetchall():
            out.setdefault(record_id, []).append((field, value))
        return out

    def planned(self, job_id: int, source_ids: Sequence[str]) -> set[str]:
        """Which of ``source_ids`` the plan of ``job_id`` holds: a few index-bounded lookups, where
        reading the whole plan would cost every task of a 10,000-record job the whole plan."""
        out: set[str] = set()
        conn = self.db.connection()
        for chunk in _chunks(list(dict.fromkeys(source_ids))):
            out.update(r[0] for r in conn.execute(
                f"SELECT source_id FROM object_job_plans WHERE job_id = ? AND source_id IN ({_marks(chunk)})",
                (job_id, *chunk),
            ).fetchall())
        return out

    def results_put(self, job_id: int, outcome: str, rows: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Record per-record results; a result already recorded for ``(outcome, n)`` stays."""
        if not rows:
            return
        with self.db.write() as conn:
            _put_results(conn, job_id, outcome, rows)

    def results(self, job_id: int, outcome: str) -> list[dict[str, Any]]:
        """The per-record results of ``outcome``, by ``n`` (batches of :class:`ResultBatch` unfolded)."""
        rows = self.db.connection().execute(
            "SELECT data FROM object_job_results WHERE job_id = ? AND outcome = ? ORDER BY n", (job_id, outcome)
        ).fetchall()
        out: list[dict[str, Any]] = []
        for r in rows:
            data = orjson.loads(r[0])
            if isinstance(data, list):
                out.extend(data)
            else:
                out.append(data)
        return out

    def results_clear(self, job_id: int, outcome: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM object_job_results WHERE job_id = ? AND outcome = ?", (job_id, outcome))

    def request_save(self, created_by: int, body: str, now: datetime) -> int:
        """Keep what a job is asked (an MDL script) outside its parameters; the request's id."""
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO object_requests (created_by, created_at, body) VALUES (?, ?, ?) RETURNING id",
                (created_by, to_ms(now), body),
            ).fetchone()
        return int(row[0])

    def request(self, request_id: int) -> str | None:
        row = self.db.connection().execute("SELECT body FROM object_requests WHERE id = ?", (request_id,)).fetchone()
        return None if row is None else str(row[0])

    def active_jobs(self, processor: str) -> list[int]:
        """Jobs of ``processor`` that have not ended (Vault lets one asynchronous MDL job wait at a time)."""
        rows = self.db.connection().execute(
            "SELECT id FROM jobs WHERE processor = ? AND status IN "
            "('SCHEDULED','QUEUEING','QUEUED','RUNNING','CANCELLING') ORDER BY id",
            (processor,),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def active_parameters(self, processor: str) -> list[dict[str, Any]]:
        """The parameters of the jobs of ``processor`` that have not ended."""
        rows = self.db.connection().execute(
            "SELECT parameters FROM jobs WHERE processor = ? AND status IN "
            "('SCHEDULED','QUEUEING','QUEUED','RUNNING','CANCELLING') ORDER BY id",
            (processor,),
        ).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def deletions(
        self, object_name: str, since: datetime, limit: int, offset: int
    ) -> tuple[int, list[tuple[str, datetime]]]:
        """``(id, deleted at)`` of the records of ``object_name`` deleted since ``since``, oldest
        first, and their total."""
        conn = self.db.connection()
        total = int(conn.execute("SELECT COUNT(*) FROM object_deletions WHERE object = ? AND deleted_at >= ?",
                                 (object_name, to_ms(since))).fetchone()[0])
        rows = conn.execute(
            "SELECT id, deleted_at FROM object_deletions WHERE object = ? AND deleted_at >= ? "
            "ORDER BY deleted_at, id LIMIT ? OFFSET ?",
            (object_name, to_ms(since), limit, offset),
        ).fetchall()
        return total, [(r[0], from_ms(r[1])) for r in rows]
