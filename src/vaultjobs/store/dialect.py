"""What differs between SQLite and PostgreSQL, so that every query module has one SQL text for both.

A :class:`Dialect` hands out connections and transactions with ``?`` placeholders (the PostgreSQL
dialect rewrites them for psycopg), binds lists of ids and rows
(an ``IN``/``VALUES`` list on SQLite, one array parameter on PostgreSQL, so the statement text stays
the same for any number of rows) and supplies the locking and index-hint clauses. The two dialects
live beside their stores: :mod:`vaultjobs.store.sqlite` and :mod:`vaultjobs.store.postgres`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """What the query modules use of a cursor (a DB-API cursor, or a buffered result)."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class BufferedResult:
    """A statement's rows and row count, read to the end before its connection was let go: a
    PostgreSQL connection back to the pool, an SQLite write lock released with the statement done."""

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self._rows = rows
        self._next = 0

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection(Protocol):
    """A connection taking ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...


def marks(count: int) -> str:
    """``?, ?, …`` for ``count`` parameters."""
    return ", ".join("?" * count)


class Dialect(Protocol):
    #: Exceptions the driver raises for constraint violations.
    integrity_errors: tuple[type[Exception], ...]
    #: Appended to the sub-selects that pick rows to claim (PostgreSQL: ``FOR UPDATE SKIP LOCKED``).
    skip_locked: str
    #: Appended to a select that locks rows until the transaction ends (SQLite's writers hold the
    #: whole database anyway).
    row_lock: str
    #: Appended to a select that keeps a row from being deleted or locked for update until the
    #: transaction ends, without blocking plain updates of it (PostgreSQL: ``FOR KEY SHARE``).
    key_share: str
    #: Put after the table of an ``UPDATE`` whose rows an ``id IN (…)`` picks, so that they are looked
    #: up by id (SQLite's `` NOT INDEXED``: its planner would otherwise walk an index for the statement's
    #: other terms, every queued job on each claim). Empty on PostgreSQL.
    by_id: str
    #: Whether a read, or a status window's write, takes microseconds and no network round trip
    #: (SQLite): the API then runs its cheapest calls on the event loop, without a thread hop.
    inline: bool
    #: Whether one statement may write in a ``WITH`` and read in its main query (PostgreSQL).
    modifying_cte: bool
    #: Whether a join may read the tables joined before it (``LEFT JOIN LATERAL``, PostgreSQL); where
    #: not (SQLite), an aggregate query may show columns it does not group by instead.
    lateral: bool

    def connection(self) -> Connection:
        """A connection whose statements commit one by one (reads, mostly)."""
        ...

    def write_one(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """One writing statement, committed at once (SQLite: queued behind this process's writers)."""
        ...

    def write(self, durable: bool = False) -> contextlib.AbstractContextManager[Connection]:
        """One write transaction; ``durable`` returns only once the commit is on disk."""
        ...

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        """One read transaction, so that several reads see the same data."""
        ...

    def batch(self, durable: bool = False) -> contextlib.AbstractContextManager[Connection]:
        """The transaction of a batch's writes (PostgreSQL: pipelined, so read results with ``fetchall``
        and only once they are needed); ``durable`` as for :meth:`write`."""
        ...

    def claim(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Run a claiming ``UPDATE … RETURNING`` on its own; its rows."""
        ...

    def any_of(self, column: str, values: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
        """``column IN (…)`` over integer ``values``, and its parameters."""
        ...

    def rows(self, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[str, tuple[Any, ...]]:
        """A row source named ``v`` with columns ``column1`` … (SQL ``types`` each), and its parameters."""
        ...

    def insert(self, conn: Connection, into: str, types: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """``INSERT INTO into`` each of ``rows`` (SQL ``types`` per column)."""
        ...

    def hint(self, index: str) -> str:
        """An index hint to put after ``FROM jobs`` (SQLite's `` INDEXED BY …``; none on PostgreSQL)."""
        ...

    def notify_work(self, workers_only: bool = False) -> None:
        """Tell other nodes that work was enqueued (SQLite: other processes poll); ``workers_only``:
        work for their workers alone (a job queued), nothing for their schedulers."""
        ...

    def notify_within(self, conn: Connection, workers_only: bool = False) -> None:
        """:meth:`notify_work` as part of ``conn``'s transaction: sent when it commits, never when it
        does not (every node listening hears it, this one too)."""
        ...

    def listen(self, callback: Callable[[], None], on_work: Callable[[], None] | None = None) -> None:
        """Call ``callback`` when another node enqueues work; ``on_work``, when given, instead of it
        for a notify that is only for workers."""
        ...

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet, in order; return the versions applied now."""
        ...

    def close(self) -> None: ...
