"""Histories, monitors and the retention purge: :class:`CountedHistory`, the SQLite store's, and
:class:`PlainHistory`, the same in plain SQL for any store (the PostgreSQL store's).

Histories (finished jobs) are listed newest *finished* first and their date filter is on the same
instant: ``finished_at = COALESCE(run_end, modified_at)``, the end of the run or, for a job that ended
without running, the moment it ended. Monitors (unfinished jobs) are listed newest *created* first and
filter on ``created_at``.

Pages must cost the same at offset 0 and at offset 1,000,000 of millions of finished jobs, and carry an
exact ``total``. SQLite cannot skip N index entries without stepping over them, nor count them
without visiting them, so both ride on ``job_history_counts`` (migration 0003): the number of finished
jobs per time bucket of 8 s (level 1) and 4096 s (level 2), per owner and for everyone, per status,
kept exact by triggers in the same transaction as every change to ``jobs``. A page

1. splits the date range ``[lo, hi)`` into at most five pieces, newest first: a raw piece shorter than
   8 s at the top, a run of level-1 buckets, a run of level-2 buckets, a run of level-1 buckets and a
   raw piece at the bottom (unbounded ends have no raw piece);
2. sums the counts of each piece — ``total`` — reading raw pieces from the index (at most 8 s of jobs);
3. for an offset, walks the pieces, then the buckets of the piece the offset falls in (level 2: about
   630 per month of history; level 1: at most 512 per level-2 bucket), down to one 8-second bucket,
   whose upper bound becomes a keyset bound;
4. reads the page from the history index below that bound with an ``OFFSET`` smaller than one 8-second
   bucket holds, then the jobs by id.

Everything runs in one read transaction, so ``total`` and the rows agree. The costs are bounded by the
number of 4096-second buckets in the range (about 630 a month), 512, and the jobs finishing in 8 s —
never by the offset or the size of the history. Monitors list what is not finished yet, a set bounded
by the backlog rather than by history; they count and skip in a partial index that holds only
unfinished jobs.

The cost of the counts falls on writes: when a job finishes (or a finished job is deleted) the triggers
upsert four small rows, and the four history indexes gain (or lose) an entry each.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from vaultjobs.models import Job, Page
from vaultjobs.status import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES, JobStatus
from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.store.rows import JOB_COLUMNS, job_from_row
from vaultjobs.timeutil import to_ms


def _any_status(*statuses: str) -> str:
    return "(" + " OR ".join(f"status = '{s}'" for s in statuses) + ")"


#: Exactly as in migration 0003 (OR chains, see there): queries repeat these for SQLite to use the
#: partial indexes.
FINISHED = _any_status(
    "SUCCESS", "ERRORS_ENCOUNTERED", "FAILED_TO_RUN", "MISSED_SCHEDULE", "TIMEOUT", "COMPLETED_DUE_TO_INACTIVITY",
    "CANCELLED",
)
UNFINISHED = _any_status("SCHEDULED", "QUEUEING", "QUEUED", "RUNNING", "CANCELLING")
FINISHED_AT = "COALESCE(run_end, modified_at)"
#: ``who`` of the counts that cover every user.
ALL_USERS = 0
#: (level, bucket width in ms) of ``job_history_counts``, finest first; each width divides the next.
LEVELS: tuple[tuple[int, int], ...] = ((1, 8_000), (2, 4_096_000))

assert {s.value for s in TERMINAL_JOB_STATUSES} == set(re.findall(r"'(\w+)'", FINISHED))
assert {s.value for s in ACTIVE_JOB_STATUSES} == set(re.findall(r"'(\w+)'", UNFINISHED))


@dataclass(frozen=True)
class _Piece:
    """A slice ``[lo, hi)`` of finish times (None = unbounded), counted at ``level`` (0 = from the index)."""

    level: int
    lo: int | None
    hi: int | None


def _floor(value: int, width: int) -> int:
    return value // width * width


def _ceil(value: int, width: int) -> int:
    return -(-value // width) * width


def split_range(lo: int | None, hi: int | None, depth: int = len(LEVELS)) -> list[_Piece]:
    """``[lo, hi)`` as pieces, newest first, each whole buckets of one level or (level 0) less than the
    finest bucket; ``depth`` is how many levels may be used."""
    if lo is not None and hi is not None and lo >= hi:
        return []
    if depth == 0:
        return [_Piece(0, lo, hi)]
    level, width = LEVELS[depth - 1]
    a = None if lo is None else _ceil(lo, width)
    b = None if hi is None else _floor(hi, width)
    if a is not None and b is not None and a >= b:
        return split_range(lo, hi, depth - 1)
    pieces: list[_Piece] = []
    if b is not None:
        pieces += split_range(b, hi, depth - 1)
    pieces.append(_Piece(level, a, b))
    if a is not None:
        pieces += split_range(lo, a, depth - 1)
    return pieces


def title_terms(title: str | None) -> tuple[list[str], list[Any]]:
    """WHERE terms for jobs whose shown title (their title, else their job type) contains ``title``,
    whatever the case; none for None."""
    if not title:
        return [], []
    pattern = "%" + title.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return ["lower(COALESCE(title, processor)) LIKE ? ESCAPE '\\'"], [pattern]


@dataclass(frozen=True)
class _HistoryFilter:
    who: int
    #: The statuses asked for, in a fixed order; None for every finished status.
    statuses: tuple[JobStatus, ...] | None
    lo: int | None
    hi: int | None
    #: Part of the shown title (title or job type); the bucket counts cannot answer it.
    title: str | None = None

    def index(self) -> str:
        if self.who == ALL_USERS:
            return "jobs_history_status" if self.statuses else "jobs_history"
        return "jobs_history_user_status" if self.statuses else "jobs_history_user"

    def job_terms(self) -> tuple[str, list[Any]]:
        """WHERE terms on ``jobs`` for the owner and status (the partial-index term first)."""
        terms = [FINISHED]
        params: list[Any] = []
        if self.who != ALL_USERS:
            terms.append("created_by = ?")
            params.append(self.who)
        if self.statuses is not None:
            # One status as an equality, so that SQLite seeks its index rather than sorting.
            terms.append("status = ?" if len(self.statuses) == 1 else
                         f"status IN ({','.join('?' * len(self.statuses))})")
            params += [s.value for s in self.statuses]
        more, more_params = title_terms(self.title)
        return " AND ".join(terms + more), params + more_params


class History(Protocol):
    """Histories (finished jobs), monitors (unfinished jobs) and the retention purge."""

    #: Whether an offset page of histories costs the same at any depth (and its total is exact).
    seeks_offsets: bool

    def job_histories(
        self, *, created_by: int | None, status: JobStatus | None, start: datetime | None, end: datetime | None,
        limit: int, offset: int, statuses: Collection[JobStatus] | None = None, title: str | None = None,
    ) -> Page: ...
    def job_monitors(
        self, *, created_by: int | None, statuses: frozenset[JobStatus] | None, start: datetime | None,
        end: datetime | None, limit: int, offset: int, title: str | None = None,
    ) -> Page: ...
    def purge_finished_jobs(self, finished_before: datetime, *, max_jobs: int = ..., max_rows: int = ...) -> int: ...
    def history_window(
        self, *, created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, limit: int, after: HistoryKey | None = None, before: HistoryKey | None = None,
        title: str | None = None,
    ) -> Window: ...
    def history_count(
        self, *, created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, cap: int, title: str | None = None,
    ) -> tuple[int, bool]: ...


@dataclass(frozen=True, order=True)
class HistoryKey:
    """Where a finished job sits in History's order (newest finished first, then highest id): a page
    starts after or before one, whatever its depth (keyset paging). Written ``<finished ms>.<id>``."""

    finished: int
    job_id: int

    def __str__(self) -> str:
        return f"{self.finished}.{self.job_id}"

    @classmethod
    def parse(cls, text: str) -> HistoryKey | None:
        finished, _, job_id = text.partition(".")
        if not (finished.isdigit() and job_id.isdigit() and len(finished) < 16 and len(job_id) < 19):
            return None
        return cls(int(finished), int(job_id))

    @classmethod
    def of(cls, job: Job) -> HistoryKey:
        return cls(to_ms(job.run_end or job.modified_at), job.id)


@dataclass(frozen=True)
class Window:
    """A page of History read by key: its jobs, and whether older and newer ones exist beyond it."""

    items: list[Job]
    older: bool
    newer: bool


class PlainHistory:
    """Histories, monitors and the purge in plain SQL (``COUNT`` and ``OFFSET``), for any SQL store.

    Correct everywhere, but an offset page costs time in proportion to its offset and ``total`` in
    proportion to the matching history: fine for thousands of jobs, not for millions. Vault's
    Retrieve Job Histories pages by offset, so it pays that on PostgreSQL; the Job Status page does
    not: it pages by key (:meth:`history_window`, one index range at any depth) and counts up to a
    cap (:meth:`history_count`). :class:`CountedHistory` answers offsets and exact counts from the
    bucket counts instead (SQLite).
    """

    seeks_offsets = False

    def __init__(self, db: Dialect) -> None:
        self.db = db

    @staticmethod
    def _jobs_by_id(conn: Connection, ids: list[int]) -> list[Job]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({marks})", ids).fetchall()
        by_id = {row[0]: job_from_row(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _history_filter(
        created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, title: str | None,
    ) -> _HistoryFilter:
        if statuses is not None:
            for status in statuses:
                if not status.is_terminal:
                    raise ValueError(f"{status.value} is not a finished status")
        return _HistoryFilter(
            who=ALL_USERS if created_by is None else created_by,
            statuses=None if statuses is None else tuple(sorted(set(statuses))),
            lo=None if start is None else to_ms(start),
            hi=None if end is None else to_ms(end),
            title=title or None,
        )

    def _history_where(self, flt: _HistoryFilter, lo: int | None, hi: int | None) -> tuple[str, list[Any]]:
        """``FROM jobs … WHERE …`` of the finished jobs matching ``flt`` that finished in ``[lo, hi)``."""
        terms, params = flt.job_terms()
        sql = f"FROM jobs{self.db.hint(flt.index())} WHERE {terms}"
        if lo is not None:
            sql += f" AND {FINISHED_AT} >= ?"
            params.append(lo)
        if hi is not None:
            sql += f" AND {FINISHED_AT} < ?"
            params.append(hi)
        return sql, params

    def _history_ids(
        self, conn: Connection, flt: _HistoryFilter, hi: int | None, skip: int, limit: int
    ) -> list[int]:
        where, params = self._history_where(flt, flt.lo, hi)
        sql = f"SELECT id {where} ORDER BY {FINISHED_AT} DESC, id DESC LIMIT ? OFFSET ?"
        return [row[0] for row in conn.execute(sql, [*params, limit, skip])]

    # -- histories -------------------------------------------------------------------------

    def job_histories(
        self,
        *,
        created_by: int | None,
        status: JobStatus | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
        statuses: Collection[JobStatus] | None = None,
        title: str | None = None,
    ) -> Page:
        """Finished jobs, newest finished first (then highest id), finished in ``[start, end)``;
        ``created_by`` None = everyone's. ``status`` or ``statuses`` (any of several) narrow the
        statuses, ``title`` to jobs whose title or job type contains it."""
        if status is not None:
            statuses = {status} if statuses is None else {status, *statuses}
        flt = self._history_filter(created_by, statuses, start, end, title)
        with self.db.read() as conn:
            total, found = self._locate(conn, flt, offset)
            ids = self._history_ids(conn, flt, *found, limit) if found is not None else []
            jobs = self._jobs_by_id(conn, ids)
        return Page(items=jobs, total=total, limit=limit, offset=offset)

    def _locate(self, conn: Connection, flt: _HistoryFilter, offset: int) -> tuple[int, tuple[int | None, int] | None]:
        """The total, and where the row at ``offset`` is (an upper bound on finish times and how many
        rows below it to skip; None past the total)."""
        where, params = self._history_where(flt, flt.lo, flt.hi)
        total = int(conn.execute(f"SELECT count(*) {where}", params).fetchone()[0])
        return total, (flt.hi, offset) if offset < total else None

    # -- keyset pages (the Job Status page's History tab) ---------------------------------------

    def history_window(
        self, *, created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, limit: int, after: HistoryKey | None = None, before: HistoryKey | None = None,
        title: str | None = None,
    ) -> Window:
        """``limit`` finished jobs in History's order just after ``after`` (older than it), or just before
        ``before`` (newer), or the newest: one index range read, at the same cost at any depth."""
        flt = self._history_filter(created_by, statuses, start, end, title)
        where, params = self._history_where(flt, flt.lo, flt.hi)
        newest_first = before is None
        # The key as a range on the index's first column, then the few rows of the same millisecond.
        if after is not None:
            where += f" AND {FINISHED_AT} <= ? AND ({FINISHED_AT} < ? OR id < ?)"
            params += [after.finished, after.finished, after.job_id]
        elif before is not None:
            where += f" AND {FINISHED_AT} >= ? AND ({FINISHED_AT} > ? OR id > ?)"
            params += [before.finished, before.finished, before.job_id]
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT id {where} ORDER BY {FINISHED_AT} {order}, id {order} LIMIT ?"
        with self.db.read() as conn:
            ids = [row[0] for row in conn.execute(sql, [*params, limit + 1])]
            more = len(ids) > limit
            ids = ids[:limit] if newest_first else ids[:limit][::-1]
            jobs = self._jobs_by_id(conn, ids)
        if newest_first:
            return Window(items=jobs, older=more, newer=after is not None)
        return Window(items=jobs, older=True, newer=more)

    def history_count(
        self, *, created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, cap: int, title: str | None = None,
    ) -> tuple[int, bool]:
        """How many finished jobs match, counted up to ``cap``: (the count, whether it is exact). The
        cost is bounded by ``cap`` however long the history is."""
        flt = self._history_filter(created_by, statuses, start, end, title)
        where, params = self._history_where(flt, flt.lo, flt.hi)
        with self.db.read() as conn:
            n = int(conn.execute(f"SELECT count(*) FROM (SELECT 1 {where} LIMIT ?) AS capped",
                                 [*params, cap + 1]).fetchone()[0])
        return min(n, cap), n <= cap

    # -- monitors --------------------------------------------------------------------------

    def job_monitors(
        self,
        *,
        created_by: int | None,
        statuses: frozenset[JobStatus] | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
        title: str | None = None,
    ) -> Page:
        """Unfinished jobs, newest created first (then highest id), created in ``[start, end)``;
        ``created_by`` None = everyone's; ``title`` as for histories.

        Counted and skipped in an index holding only unfinished jobs: the cost follows the backlog,
        not the history.
        """
        if statuses is not None and any(s.is_terminal for s in statuses):
            raise ValueError("monitors list unfinished statuses only")
        terms = [UNFINISHED]
        params: list[Any] = []
        if created_by is not None:
            terms.append("created_by = ?")
            params.append(created_by)
        if statuses is not None:
            ordered = sorted(s.value for s in statuses)
            terms.append(f"status IN ({','.join('?' * len(ordered))})")
            params += ordered
        if start is not None:
            terms.append("created_at >= ?")
            params.append(to_ms(start))
        if end is not None:
            terms.append("created_at < ?")
            params.append(to_ms(end))
        more, more_params = title_terms(title)
        terms += more
        params += more_params
        where = f"FROM jobs{self.db.hint('jobs_monitor')} WHERE {' AND '.join(terms)}"
        with self.db.read() as conn:
            total = int(conn.execute(f"SELECT count(*) {where}", params).fetchone()[0])
            ids: list[int] = []
            if offset < total:
                sql = f"SELECT id {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
                ids = [row[0] for row in conn.execute(sql, [*params, limit, offset])]
            jobs = self._jobs_by_id(conn, ids)
        return Page(items=jobs, total=total, limit=limit, offset=offset)

    # -- retention -------------------------------------------------------------------------

    def purge_finished_jobs(self, finished_before: datetime, *, max_jobs: int = 500, max_rows: int = 20_000) -> int:
        """Delete, in one short write transaction, up to ``max_jobs`` of the oldest jobs finished before
        ``finished_before`` with their tasks, log lines, status transitions and status-window rows — at most about
        ``max_rows`` rows in all. Returns the rows deleted; 0 when nothing is left to purge.

        Only finished jobs are ever selected (and the delete checks again), so unfinished jobs and their
        rows are never touched. A job with more tasks or log lines than the budget loses them over
        several calls before it goes itself.
        """
        cutoff = to_ms(finished_before)
        deleted = 0
        with self.db.write() as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    f"SELECT id FROM jobs{self.db.hint('jobs_history')} WHERE {FINISHED} "
                    f"AND {FINISHED_AT} < ? ORDER BY {FINISHED_AT}, id LIMIT ?",
                    (cutoff, max_jobs),
                )
            ]
            if not ids:
                return 0
            marks = ",".join("?" * len(ids))
            for table, key in (("tasks", "job_id, seq"), ("job_log", "id"), ("job_transitions", "id")):
                budget = max_rows - deleted
                cur = conn.execute(
                    f"DELETE FROM {table} WHERE ({key}) IN "
                    f"(SELECT {key} FROM {table} WHERE job_id IN ({marks}) LIMIT ?)",
                    [*ids, budget],
                )
                deleted += int(cur.rowcount)
                if cur.rowcount >= budget:
                    return deleted  # more of these jobs' rows next time
            deleted += int(conn.execute(f"DELETE FROM status_polls WHERE job_id IN ({marks})", ids).rowcount)
            deleted += int(
                conn.execute(f"DELETE FROM jobs WHERE id IN ({marks}) AND {FINISHED}", ids).rowcount
            )
        return deleted


class CountedHistory(PlainHistory):
    """Histories on the bucket counts of migration 0003 (see the module docstring); monitors and the
    purge as in plain SQL (with SQLite's index hints, from the dialect)."""

    seeks_offsets = True

    def _locate(self, conn: Connection, flt: _HistoryFilter, offset: int) -> tuple[int, tuple[int | None, int] | None]:
        """As in plain SQL, but ``total`` sums bucket counts and the offset is found by walking them:
        the cost does not grow with ``offset`` or with the size of the history (see the module docstring).

        A title filter is not in the counts: it is counted and skipped in plain SQL, at a cost that
        grows with the history it scans (narrow it with dates)."""
        if flt.title is not None:
            return super()._locate(conn, flt, offset)
        pieces = [(piece, self._count(conn, flt, piece)) for piece in split_range(flt.lo, flt.hi)]
        total = sum(n for _, n in pieces)
        return total, self._seek(conn, flt, pieces, offset) if offset < total else None

    def history_count(
        self, *, created_by: int | None, statuses: Collection[JobStatus] | None, start: datetime | None,
        end: datetime | None, cap: int, title: str | None = None,
    ) -> tuple[int, bool]:
        """Exact, from the bucket counts, whatever ``cap`` (a title filter is counted up to ``cap``)."""
        if title:
            return super().history_count(created_by=created_by, statuses=statuses, start=start, end=end, cap=cap,
                                         title=title)
        flt = self._history_filter(created_by, statuses, start, end, None)
        with self.db.read() as conn:
            return self._locate(conn, flt, 0)[0], True

    def _count(self, conn: Connection, flt: _HistoryFilter, piece: _Piece) -> int:
        if piece.level == 0:
            where, params = self._history_where(flt, piece.lo, piece.hi)
            return int(conn.execute(f"SELECT count(*) {where}", params).fetchone()[0])
        sql, params = self._bucket_query(flt, piece, "sum(n)")
        return int(conn.execute(sql, params).fetchone()[0] or 0)

    @staticmethod
    def _bucket_query(flt: _HistoryFilter, piece: _Piece, what: str) -> tuple[str, list[Any]]:
        width = dict(LEVELS)[piece.level]
        sql = f"SELECT {what} FROM job_history_counts WHERE level = ? AND who = ?"
        params: list[Any] = [piece.level, flt.who]
        if piece.lo is not None:
            sql += " AND bucket >= ?"
            params.append(piece.lo // width)
        if piece.hi is not None:
            sql += " AND bucket < ?"
            params.append(piece.hi // width)
        if flt.statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(flt.statuses))})"
            params += [s.value for s in flt.statuses]
        return sql, params

    def _history_ids(
        self, conn: Connection, flt: _HistoryFilter, hi: int | None, skip: int, limit: int
    ) -> list[int]:
        """As in plain SQL; for several statuses, each status's newest ``skip + limit`` rows below ``hi``
        from its own index, merged, so that no sort ever covers more than those."""
        if flt.statuses is None or len(flt.statuses) < 2 or flt.title is not None:
            return super()._history_ids(conn, flt, hi, skip, limit)
        rows: list[tuple[int, int]] = []
        for status in flt.statuses:
            where, params = self._history_where(replace(flt, statuses=(status,)), flt.lo, hi)
            sql = f"SELECT {FINISHED_AT}, id {where} ORDER BY {FINISHED_AT} DESC, id DESC LIMIT ?"
            rows += [(int(r[0]), int(r[1])) for r in conn.execute(sql, [*params, skip + limit])]
        rows.sort(reverse=True)
        return [job_id for _, job_id in rows[skip:skip + limit]]

    def _seek(
        self, conn: Connection, flt: _HistoryFilter, pieces: list[tuple[_Piece, int]], offset: int
    ) -> tuple[int | None, int]:
        """Where the row at ``offset`` is: an upper bound on finish times, and how many rows below it to
        skip — fewer than one level-1 bucket (8 s of finishes) holds."""
        skip = offset
        for piece, n in pieces:
            if skip >= n:
                skip -= n
                continue
            while piece.level > 0:
                width = dict(LEVELS)[piece.level]
                sql, params = self._bucket_query(flt, piece, "bucket, sum(n)")
                found = None
                cursor = conn.execute(f"{sql} GROUP BY bucket ORDER BY bucket DESC", params)
                for bucket, count in cursor:
                    if skip < count:
                        found = bucket * width
                        break
                    skip -= count
                cursor.close()
                if found is None:
                    raise RuntimeError("history counts disagree with their sums")  # not within one snapshot
                # A bucket of one level is a whole number of buckets of the level below.
                piece = _Piece(piece.level - 1, found, found + width)
            return piece.hi, skip
        raise RuntimeError("offset beyond the total")
