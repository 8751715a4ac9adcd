"""Deep Copy and Cascade Delete of a 10,000-record tree against a raw-SQL loop, and bulk create.

Starts a real ``vaultjobs serve`` (default worker threads) on a fresh store, defines a three-level
tree in MDL (``bench_product__c`` ← ``bench_batch__c`` ← ``bench_sample__c``, parent relationships
with cascade deletion) and creates one product with ``--batches`` batches of ``--samples`` samples
each through the bulk create API (1 + 99 + 99 × 100 = 10,000 records by default, Vault's limit being
10,000 related records). Then, ``--rounds`` times in turn:

1. Deep Copy of the product (POST, poll the status every 20 ms with the status window off, until it
   ends; it must end SUCCESS with every record copied);
2. the baseline insert: the rows the copy wrote (``object_records``, ``object_references`` and
   ``object_unique_values``, read back from the store) inserted again under fresh ids, one
   ``INSERT`` per row in a Python loop, in one transaction on the same store (the rows are prepared
   beforehand: only the database work is timed);
3. Cascade Delete of the copy (it must end SUCCESS with every record deleted);
4. the baseline delete: the baseline's records deleted one ``DELETE`` per record, each noted in
   ``object_deletions`` as the job does, in one transaction (index rows go with their record by
   ``ON DELETE CASCADE``, as they do for the job).

Records/s is records over wall time; the targets are ratios ≥ 0.3 of the baseline. The jobs'
bookkeeping (plan, per-record results, id sequence, tasks) is part of their time and not of the
baseline's. Last, bulk create: ``--bulk-requests`` requests of 500 samples each through
``POST /api/{version}/vobjects/{object}``, one after another on one connection (records/s; the
baseline's insert rate is printed beside it for scale, no target).

With ``--postgres`` (a throwaway server) or ``--database-url postgresql://…`` (an empty database)
the same runs on PostgreSQL.

    .venv/bin/python bench/objects.py [--batches 99] [--samples 100] [--rounds 3] [--bulk-requests 10]
    .venv/bin/python bench/objects.py --postgres
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from vaultjobs.testing import LiveServer, V

TREE_MDL = """
CREATE Object bench_product__c (
   label('Bench Product'), label_plural('Bench Products'),
   Field code__c (label('Code'), type('String'), max_length(40)),
   Field price__c (label('Price'), type('Number'), scale(2), min_value(0), max_value(100000))
);
CREATE Object bench_batch__c (
   label('Bench Batch'), label_plural('Bench Batches'),
   Field product__c (label('Product'), type('Object'), object('bench_product__c'), relationship_type('parent'),
      relationship_deletion('cascade'), required(true)),
   Field made__c (label('Made'), type('Date')),
   Field lot__c (label('Lot'), type('String'), max_length(40))
);
CREATE Object bench_sample__c (
   label('Bench Sample'), label_plural('Bench Samples'),
   Field batch__c (label('Batch'), type('Object'), object('bench_batch__c'), relationship_type('parent'),
      relationship_deletion('cascade'), required(true)),
   Field checked__c (label('Checked'), type('Boolean')),
   Field weight__c (label('Weight'), type('Number'), scale(3), min_value(0), max_value(1000)),
   Field note__c (label('Note'), type('String'), max_length(200))
);
"""
FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED")
BULK = 500


# -- the API side --------------------------------------------------------------------------------


def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if body.get("responseStatus") != "SUCCESS":
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text[:2000]}")
    return body


def bulk_create(http: httpx.Client, object_name: str, records: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(records), BULK):
        results = ok(http.post(f"/api/{V}/vobjects/{object_name}", json=records[start : start + BULK]))["data"]
        bad = [r for r in results if r["responseStatus"] != "SUCCESS"]
        if bad:
            raise RuntimeError(f"bulk create of {object_name} failed: {bad[:3]}")
        ids.extend(r["data"]["id"] for r in results)
    return ids


def samples_of(batch_id: str, b: int, count: int) -> list[dict[str, Any]]:
    return [{"name__v": f"Sample {b}.{s}", "batch__c": batch_id, "checked__c": s % 2 == 0,
             "weight__c": round(s * 0.125, 3), "note__c": f"sample {s} of batch {b}, checked by the bench"}
            for s in range(count)]


def build_tree(http: httpx.Client, batches: int, samples: int) -> str:
    """The product at the root of a tree of 1 + batches + batches × samples records."""
    product = bulk_create(http, "bench_product__c", [{"name__v": "Bench root", "code__c": "ROOT-1",
                                                      "price__c": 12.5}])[0]
    batch_ids = bulk_create(http, "bench_batch__c", [
        {"name__v": f"Batch {b}", "product__c": product, "made__c": "2026-03-01", "lot__c": f"LOT-{b:05d}"}
        for b in range(batches)
    ])
    bulk_create(http, "bench_sample__c",
                [r for b, batch in enumerate(batch_ids) for r in samples_of(batch, b, samples)])
    return product


def run_job(http: httpx.Client, action: str, object_name: str, record_id: str) -> tuple[float, int]:
    """Seconds from the POST to the first status poll that sees the job ended; the job id."""
    started = time.perf_counter()
    job_id = int(ok(http.post(f"/api/{V}/vobjects/{object_name}/{record_id}/actions/{action}"))["job_id"])
    while True:
        status = ok(http.get(f"/api/{V}/services/jobs/{job_id}"))["data"]["status"]
        if status in FINISHED:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if status != "SUCCESS":
        log = http.get(f"/api/{V}/services/jobs/{job_id}/log").text
        raise RuntimeError(f"{action} job {job_id} ended {status}:\n{log[-3000:]}")
    return elapsed, job_id


def job_results(http: httpx.Client, action: str, object_name: str, job_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(http.get(f"/api/{V}/vobjects/{action}/results/{object_name}/success/{job_id}",
                                             headers={"Accept": "application/json"}))["data"]
    return rows


# -- the raw-SQL baseline ----------------------------------------------------------------------


@dataclass
class Database:
    """A DB-API connection on the server's store, and its placeholder."""

    conn: Any
    postgres: bool

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(self.sql(text), tuple(params)).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def connect(server: LiveServer) -> Database:
    url = server.settings.get("database_url")
    if url:
        import psycopg

        return Database(psycopg.connect(url, autocommit=True), postgres=True)
    conn = sqlite3.connect(server.data_dir / "vaultjobs.db", isolation_level=None, timeout=30.0)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")  # the store's own settings
    return Database(conn, postgres=False)


@dataclass
class Rows:
    """The rows of a set of records in the three tables a record write fills."""

    records: list[tuple[Any, ...]]
    references: list[tuple[Any, ...]]
    uniques: list[tuple[Any, ...]]

    @property
    def ids(self) -> list[str]:
        return [r[0] for r in self.records]


RECORD_COLUMNS = "id, object, name, data, created_by, created_at, modified_by, modified_at"


def read_rows(db: Database, ids: list[str]) -> Rows:
    out = Rows([], [], [])
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        out.records += db.rows(f"SELECT {RECORD_COLUMNS} FROM object_records WHERE id IN ({marks})", chunk)
        out.references += db.rows(
            f"SELECT record_id, object, field, target_id FROM object_references WHERE record_id IN ({marks})", chunk)
        out.uniques += db.rows(
            f"SELECT object, field, value, record_id FROM object_unique_values WHERE record_id IN ({marks})", chunk)
    order = {record_id: n for n, record_id in enumerate(ids)}
    out.records.sort(key=lambda r: order[r[0]])
    return out


def renumbered(rows: Rows, first: int) -> Rows:
    """The same rows under fresh ids (prefix kept, numbers from ``first``), references inside the
    set following their records."""
    new = {r[0]: f"{r[0][:3]}{first + n:012d}" for n, r in enumerate(rows.records)}

    def data(text: str) -> str:
        values = orjson.loads(text)
        return orjson.dumps({k: new.get(v, v) if isinstance(v, str) else v for k, v in values.items()}).decode()

    return Rows(
        records=[(new[r[0]], r[1], r[2], data(r[3]), *r[4:]) for r in rows.records],
        references=[(new[r[0]], r[1], r[2], new.get(r[3], r[3])) for r in rows.references],
        uniques=[(r[0], r[1], r[2], new[r[3]]) for r in rows.uniques],
    )


def raw_insert(db: Database, rows: Rows) -> float:
    record = db.sql(f"INSERT INTO object_records ({RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    reference = db.sql("INSERT INTO object_references (record_id, object, field, target_id) VALUES (?, ?, ?, ?)")
    unique = db.sql("INSERT INTO object_unique_values (object, field, value, record_id) VALUES (?, ?, ?, ?)")
    started = time.perf_counter()
    with db.transaction():
        for r in rows.records:
            db.conn.execute(record, r)
        for r in rows.references:
            db.conn.execute(reference, r)
        for r in rows.uniques:
            db.conn.execute(unique, r)
    return time.perf_counter() - started


def raw_delete(db: Database, rows: Rows) -> float:
    note = db.sql("INSERT INTO object_deletions (object, id, deleted_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")
    delete = db.sql("DELETE FROM object_records WHERE id = ?")
    started = time.perf_counter()
    with db.transaction():
        now = int(time.time() * 1000)
        for r in rows.records:
            db.conn.execute(note, (r[1], r[0], now))
            db.conn.execute(delete, (r[0],))
    return time.perf_counter() - started


def count(db: Database, ids: list[str]) -> int:
    total = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        total += int(db.rows(f"SELECT COUNT(*) FROM object_records WHERE id IN ({', '.join('?' for _ in chunk)})",
                             chunk)[0][0])
    return total


# -- the run -------------------------------------------------------------------------------------


def measure(server: LiveServer, args: argparse.Namespace) -> None:
    token = server.login()
    db = connect(server)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=600) as http:
            ok(http.post("/api/mdl/execute", content=TREE_MDL))
            t0 = time.perf_counter()
            root = build_tree(http, args.batches, args.samples)
            size = 1 + args.batches * (1 + args.samples)
            print(f"created a tree of {size} records through the API in {time.perf_counter() - t0:.1f} s")

            copies: list[float] = []
            inserts: list[float] = []
            cascades: list[float] = []
            deletes: list[float] = []
            for round_ in range(args.rounds):
                elapsed, job_id = run_job(http, "deepcopy", "bench_product__c", root)
                copied = job_results(http, "deepcopy", "bench_product__c", job_id)
                if len(copied) != size:
                    raise RuntimeError(f"deep copy {job_id} copied {len(copied)} records, not {size}")
                copies.append(elapsed)
                rows = renumbered(read_rows(db, [r["id"] for r in copied]), 900_000_000_000 + round_ * 100_000)
                inserts.append(raw_insert(db, rows))
                if count(db, rows.ids) != size:
                    raise RuntimeError("the baseline insert did not write every record")

                copy_root = copied[0]["id"]
                elapsed, job_id = run_job(http, "cascadedelete", "bench_product__c", copy_root)
                if len(job_results(http, "cascadedelete", "bench_product__c", job_id)) != size:
                    raise RuntimeError(f"cascade delete {job_id} did not delete {size} records")
                if count(db, [r["id"] for r in copied]):
                    raise RuntimeError(f"cascade delete {job_id} left records behind")
                cascades.append(elapsed)
                deletes.append(raw_delete(db, rows))
                if count(db, rows.ids):
                    raise RuntimeError("the baseline delete left records behind")
                print(f"round {round_ + 1}: deep copy {size / copies[-1]:7.0f} rec/s, raw insert "
                      f"{size / inserts[-1]:7.0f} rec/s, ratio {inserts[-1] / copies[-1]:.2f}   "
                      f"cascade delete {size / cascades[-1]:7.0f} rec/s, raw delete {size / deletes[-1]:7.0f} rec/s, "
                      f"ratio {deletes[-1] / cascades[-1]:.2f}")

            copy_s, insert_s = statistics.median(copies), statistics.median(inserts)
            cascade_s, delete_s = statistics.median(cascades), statistics.median(deletes)
            print(f"median deep copy:      {copy_s:6.2f} s ({size / copy_s:7.0f} rec/s) against the raw-SQL insert "
                  f"loop {insert_s:6.2f} s ({size / insert_s:7.0f} rec/s): ratio {insert_s / copy_s:.2f} "
                  "(target >= 0.3)")
            print(f"median cascade delete: {cascade_s:6.2f} s ({size / cascade_s:7.0f} rec/s) against the raw-SQL "
                  f"delete loop {delete_s:6.2f} s ({size / delete_s:7.0f} rec/s): ratio {delete_s / cascade_s:.2f} "
                  "(target >= 0.3)")

            batch = ok(http.get(f"/api/{V}/vobjects/bench_batch__c?fields=id&limit=1"))["data"][0]["id"]
            times: list[float] = []
            for n in range(args.bulk_requests):
                records = [dict(r, name__v=f"Bulk {n}.{i}") for i, r in enumerate(samples_of(batch, n, BULK))]
                started = time.perf_counter()
                bulk_create(http, "bench_sample__c", records)
                times.append(time.perf_counter() - started)
            rate = BULK * len(times) / sum(times)
            print(f"bulk create: {len(times)} requests of {BULK} records, {rate:.0f} records/s "
                  f"(median request {statistics.median(times) * 1000:.0f} ms; raw-SQL insert loop "
                  f"{size / insert_s:.0f} rec/s for scale)")
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=99, help="batches under the product")
    parser.add_argument("--samples", type=int, default=100, help="samples under each batch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bulk-requests", type=int, default=10, help="bulk create requests of 500 records")
    parser.add_argument("--database-url", help="run on this (empty) PostgreSQL database instead of SQLite")
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL server")
    args = parser.parse_args()
    if args.batches * (1 + args.samples) > 10_000:
        parser.error("a tree may hold at most 10,000 records besides its root")
    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-objects-"))
    pg = None
    try:
        url = args.database_url
        if args.postgres and not url:
            from vaultjobs.testing import PostgresServer

            pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-pg-"))).start()
            url = pg.create_database("objects")
        print(f"store: {'PostgreSQL' if url else 'SQLite'}")
        server = LiveServer(folder / "server", status_window=0, database_url=url)
        server.start()
        try:
            measure(server, args)
        finally:
            server.stop()
    finally:
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.folder, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
