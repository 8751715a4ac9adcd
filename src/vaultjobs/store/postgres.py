"""The store on PostgreSQL, for many API servers and workers sharing one database.

A psycopg 3 connection pool serves every thread; statements outside transactions run in
autocommit. Claims use ``FOR UPDATE SKIP LOCKED``; work wake-ups travel between nodes with
``NOTIFY vaultjobs_work`` / ``LISTEN``; migrations run under an advisory lock so nodes starting
together never race. The SQL itself is shared with SQLite (the query modules of :mod:`vaultjobs.store`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from vaultjobs.store.batcher import Batcher
from vaultjobs.store.composition import SqlStore
from vaultjobs.store.dialect import BufferedResult, Connection
from vaultjobs.store.history import PlainHistory

logger = logging.getLogger(__name__)

CHANNEL = "vaultjobs_work"
#: The NOTIFY payload of work for workers alone (a job queued): schedulers need not wake for it.
WORKERS_ONLY = "work"
#: Arbitrary, fixed: the advisory lock that serialises migrations across nodes.
MIGRATION_LOCK = 727_372_001


@functools.lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and literal ``%`` escaped). A parameter cast to an
    explicit type, ``CAST(? AS bigint[])``, is sent in binary (``%b``): arrays then travel without
    the text format's per-element quoting, which costs more than the statement."""
    return sql.replace("%", "%%").replace("CAST(? AS ", "CAST(%b AS ").replace("?", "%s")


def _result(cursor: psycopg.Cursor[Any]) -> BufferedResult:
    """A statement's rows, read before its connection goes back to the pool."""
    return BufferedResult(cursor.rowcount, cursor.fetchall() if cursor.description is not None else [])


class _Transaction:
    """One pooled connection inside a transaction, with ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(_pg(sql), tuple(params)) if params else self._conn.execute(sql)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self._conn.cursor()
        cursor.executemany(_pg(sql), [tuple(p) for p in params])
        return cursor


class _Autocommit:
    """Each statement on a connection from the pool, committed at once."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] = ()) -> BufferedResult:
        with self._pool.connection() as conn:
            return _result(_Transaction(conn).execute(sql, params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> BufferedResult:
        with self._pool.connection() as conn:
            return _result(_Transaction(conn).executemany(sql, params))


class PostgresDialect:
    """PostgreSQL: a connection pool, ``?`` placeholders translated, arrays bound in binary."""

    integrity_errors: tuple[type[Exception], ...] = (psycopg.errors.IntegrityError,)
    skip_locked = " FOR UPDATE SKIP LOCKED"
    row_lock = " FOR UPDATE"
    key_share = " FOR KEY SHARE"
    by_id = ""
    modifying_cte = True
    lateral = True
    inline = False

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.pool: ConnectionPool[Any] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            name="vaultjobs",
            open=True,
        )
        self._autocommit = _Autocommit(self.pool)
        self._listeners: list[threading.Thread] = []
        self._stop = threading.Event()
        # Nodes enqueueing together share one NOTIFY: any number of them wake the listeners alike.
        self._notifies: Batcher[str, None] = Batcher(self._notify_once, name="vaultjobs-notify")

    def connection(self) -> _Autocommit:
        return self._autocommit

    @contextlib.contextmanager
    def write(self, durable: bool = False) -> Iterator[_Transaction]:
        """One transaction; PostgreSQL's commit is durable already (``synchronous_commit``)."""
        with self.pool.connection() as conn, conn.transaction():
            yield _Transaction(conn)

    def write_one(self, sql: str, params: Sequence[Any] = ()) -> BufferedResult:
        return self._autocommit.execute(sql, params)

    def read(self) -> contextlib.AbstractContextManager[_Transaction]:
        return self.write()

    @contextlib.contextmanager
    def batch(self, durable: bool = False) -> Iterator[_Transaction]:
        """A pipelined transaction: BEGIN, and statements whose results nobody reads yet, travel
        with the next statement whose results are read (``fetchall``), and COMMIT with the last.
        Durable either way (``synchronous_commit``)."""
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            yield _Transaction(conn)

    def claim(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Claim in a transaction that rules out bitmap scans: the queue changes faster than the
        planner's statistics, and with a bitmap scan a claim of 16 reads and sorts every queued row
        instead of the first 16 of the ``(status, id)`` index."""
        with self.batch() as tx:
            tx.execute("SET LOCAL enable_bitmapscan = off")
            rows: list[Any] = tx.execute(sql, params).fetchall()
            return rows

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        return f"{column} = ANY(CAST(? AS bigint[]))", (list(values),)

    def rows(self, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, tuple[Any, ...]]:
        arrays = ", ".join(f"CAST(? AS {sql_type}[])" for sql_type in types)
        names = ", ".join(f"column{n}" for n in range(1, len(types) + 1))
        return f"unnest({arrays}) AS v({names})", tuple(list(column) for column in zip(*rows, strict=True))

    def insert(self, conn: Any, into: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            source, params = self.rows(types, rows)
            conn.execute(f"INSERT INTO {into} SELECT * FROM {source}", params)

    def hint(self, index: str) -> str:
        return ""

    def close(self) -> None:
        self._notifies.close()
        self._stop.set()
        for thread in self._listeners:
            thread.join(5.0)
        self.pool.close()

    def migrate(self) -> list[int]:
        """Apply the PostgreSQL migrations not applied yet, under an advisory lock."""
        folder = resources.files("vaultjobs.store.migrations.postgres")
        scripts = sorted((p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name)
        done: list[int] = []
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT)"
                )
                applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
                for script in scripts:
                    version = int(script.name.split("_", 1)[0])
                    if version in applied:
                        continue
                    with conn.transaction():
                        conn.execute(script.read_text(encoding="utf-8").encode())
                        conn.execute(
                            "INSERT INTO schema_migrations VALUES (%s, (extract(epoch FROM now()) * 1000)::bigint)",
                            (version,),
                        )
                    done.append(version)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        return done

    # -- wake-ups across nodes -------------------------------------------------------------

    def notify_work(self, workers_only: bool = False) -> None:
        """NOTIFY the other nodes (the payload ``work`` when ``workers_only``); returns once a NOTIFY
        sent after this call began has committed."""
        self._notifies.submit(WORKERS_ONLY if workers_only else "")

    def notify_within(self, conn: Connection, workers_only: bool = False) -> None:
        conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, WORKERS_ONLY if workers_only else ""))

    def _notify_once(self, calls: Sequence[str]) -> list[None]:
        for payload in sorted(set(calls)):
            self.write_one("SELECT pg_notify(?, ?)", (CHANNEL, payload))
        return [None] * len(calls)

    def listen(self, callback: Callable[[], None], on_work: Callable[[], None] | None = None) -> None:
        """Call ``callback`` whenever any node notifies that work was enqueued (``on_work``, when
        given, for a notify that is only for workers: this node's own come back too)."""
        thread = threading.Thread(target=self._listen, args=(callback, on_work or callback), name="vaultjobs-listen",
                                  daemon=True)
        thread.start()
        self._listeners.append(thread)

    def _listen(self, callback: Callable[[], None], on_work: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0, stop_after=1):
                            (on_work if notify.payload == WORKERS_ONLY else callback)()
            except psycopg.Error:
                if not self._stop.is_set():
                    logger.warning("lost the LISTEN connection; reconnecting", exc_info=True)
                    self._stop.wait(1.0)


class PostgresStore(SqlStore):
    """Store on a PostgreSQL database; histories in plain SQL (``COUNT`` and ``OFFSET``)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        dialect = PostgresDialect(url, pool_size=pool_size)
        super().__init__(dialect, PlainHistory(dialect))
