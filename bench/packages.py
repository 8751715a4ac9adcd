"""Deploy Package of 20 objects and 50,000 records against loading the same records with the bulk API.

``--rounds`` times, each round on a real ``vaultjobs serve`` (default worker threads, status window
off) started on a fresh store of its own, so that every round starts from the same empty catalog:

1. the package: ``write_vpk`` builds a package of ``--objects`` object components (``RECREATE Object``
   with a text, a number, a boolean, a date and a longer text field) and one data step per object,
   ``--records`` rows in all spread evenly over them (CSV, action Create); it is imported through
   ``PUT /api/{v}/services/package`` (the import is timed apart, for information) and deployed with
   ``POST …/vault_package__v/{id}/actions/deploy``. Timed: from the deploy request to the first status
   poll (every 20 ms) that sees the job ended. The deploy must end SUCCESS with every step deployed,
   and every object must then hold its rows.
2. the baseline: an identical set of objects is created with Execute MDL (not timed), and the same
   rows are loaded with ``POST /api/{v}/vobjects/{object}``, 500 records a request as JSON, one
   request after another on one keep-alive connection. Timed: the first request to the last answer;
   every record must succeed.

The package's time includes applying its 20 components; the baseline's objects exist before its
clock starts. Records/s is records over wall time; the target is a ratio (deploy / bulk) >= 1.0, a
deploy being no slower than the API it replaces. The order of the two alternates between rounds;
the figures are the medians of the rounds.

With ``--postgres`` (a throwaway server) or ``--database-url postgresql://…`` (an empty database)
the same runs on PostgreSQL.

    .venv/bin/python bench/packages.py [--objects 20] [--records 50000] [--rounds 3]
    .venv/bin/python bench/packages.py --postgres
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.client import VaultClient
from vaultjobs.packages import ComponentStep, DataStep, Manifest, Package, write_vpk
from vaultjobs.testing import LiveServer, V

FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED", "CANCELLED")
BULK = 500


def object_mdl(name: str) -> str:
    return (f"RECREATE Object {name} (\n   label('Bench {name}'),\n   label_plural('Bench {name}'),\n"
            "   Field code__c (label('Code'), type('String'), max_length(40)),\n"
            "   Field qty__c (label('Quantity'), type('Number'), scale(2), min_value(0), max_value(1000000)),\n"
            "   Field checked__c (label('Checked'), type('Boolean')),\n"
            "   Field made__c (label('Made'), type('Date')),\n"
            "   Field note__c (label('Note'), type('String'), max_length(200))\n);\n")


def rows_of(index: int, count: int) -> list[dict[str, Any]]:
    """The rows of object ``index``, with typed values (the JSON the bulk API gets)."""
    return [{"name__v": f"Record {index}.{r}", "code__c": f"C{index:02d}-{r:06d}", "qty__c": round(r * 0.25, 2),
             "checked__c": r % 2 == 0, "made__c": f"2026-{1 + r % 12:02d}-{1 + r % 28:02d}",
             "note__c": f"row {r} of object {index}, loaded by the packages bench"} for r in range(count)]


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in row.items()})
    return out.getvalue().encode()


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def build_package(names: list[str], data: list[list[dict[str, Any]]], label: str) -> Package:
    steps: list[ComponentStep | DataStep] = [
        ComponentStep(number=f"{(i + 1) * 10:05d}", component_type="Object", component_name=name,
                      text=object_mdl(name))
        for i, name in enumerate(names)
    ]
    for name, rows in zip(names, data, strict=True):
        steps.append(DataStep(number=f"{(len(steps) + 1) * 10:05d}", label=name, object_name=name,
                              csv=as_csv(rows)))
    return Package(manifest=Manifest(name=f"PKG-BENCH-{label}", summary="packages bench"), steps=tuple(steps))


# -- the API side ------------------------------------------------------------------------------------


def ok(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    if body.get("responseStatus") != "SUCCESS":
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.text[:2000]}")
    return body


def until_done(http: httpx.Client, job_id: int) -> None:
    """Poll every 20 ms until the job ends; it must end SUCCESS."""
    while True:
        status = ok(http.get(f"/api/{V}/services/jobs/{job_id}"))["data"]["status"]
        if status in FINISHED:
            break
        time.sleep(0.02)
    if status != "SUCCESS":
        log = http.get(f"/api/{V}/services/jobs/{job_id}/log").text
        raise RuntimeError(f"job {job_id} ended {status}:\n{log[-3000:]}")


def total(http: httpx.Client, name: str) -> int:
    return int(ok(http.get(f"/api/{V}/vobjects/{name}", params={"limit": "1"}))["responseDetails"]["total"])


def deploy_round(http: httpx.Client, client: VaultClient, names: list[str], data: list[list[dict[str, Any]]],
                 label: str) -> tuple[float, float]:
    """Import and deploy the package: seconds of the import, seconds of the deploy."""
    archive = write_vpk(build_package(names, data, label))
    started = time.perf_counter()
    job_id = client.packages.import_package(archive).job_id
    until_done(http, job_id)
    imported = time.perf_counter() - started
    job = client.status(job_id)
    package_id = client.packages.package_id(job)
    results = client.packages.import_results(package_id)
    if results.blocked:
        raise RuntimeError(f"package {package_id} is blocked")

    started = time.perf_counter()
    job_id = client.packages.deploy(package_id).job_id
    until_done(http, job_id)
    deployed = time.perf_counter() - started
    outcome = client.packages.deploy_results(package_id)
    if not outcome.ok or outcome.deployed != len(names) * 2:
        raise RuntimeError(f"deploy of {package_id}: {outcome.package_status}, {outcome.deployed} steps deployed")
    for name, rows in zip(names, data, strict=True):
        if total(http, name) != len(rows):
            raise RuntimeError(f"{name} holds {total(http, name)} records after the deploy, not {len(rows)}")
    return imported, deployed


def bulk_round(http: httpx.Client, names: list[str], data: list[list[dict[str, Any]]]) -> float:
    """Create the objects (not timed), then load the rows 500 a request: seconds of the loading."""
    ok(http.post("/api/mdl/execute", content="".join(object_mdl(n) for n in names)))
    started = time.perf_counter()
    for name, rows in zip(names, data, strict=True):
        for start in range(0, len(rows), BULK):
            results = ok(http.post(f"/api/{V}/vobjects/{name}", json=rows[start : start + BULK]))["data"]
            bad = [r for r in results if r["responseStatus"] != "SUCCESS"]
            if bad:
                raise RuntimeError(f"bulk create of {name} failed: {bad[:3]}")
    return time.perf_counter() - started


def measure(server: LiveServer, args: argparse.Namespace, round_: int) -> tuple[float, float, float]:
    """One round on ``server``: seconds of the import, of the deploy and of the bulk loading."""
    counts = split(args.records, args.objects)
    data = [rows_of(i, n) for i, n in enumerate(counts)]
    token = server.login()
    with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=600) as http, \
            VaultClient(server.url, session_id=token, timeout=600) as client:
        package_names = [f"bpk{round_}_{i:02d}__c" for i in range(args.objects)]
        bulk_names = [f"bbk{round_}_{i:02d}__c" for i in range(args.objects)]
        deploy_first = round_ % 2 == 0
        bulk = bulk_round(http, bulk_names, data) if not deploy_first else 0.0
        imported, deployed = deploy_round(http, client, package_names, data, str(round_))
        if deploy_first:
            bulk = bulk_round(http, bulk_names, data)
    return imported, deployed, bulk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=20, help="object components (and data steps)")
    parser.add_argument("--records", type=int, default=50_000, help="records, spread over the objects")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="run on this (empty) PostgreSQL database instead of SQLite; "
                                               "the rounds then share it")
    parser.add_argument("--postgres", action="store_true", help="run on a throwaway PostgreSQL server")
    args = parser.parse_args()
    if not 1 <= args.objects <= 99 or args.records < args.objects:
        parser.error("1 to 99 objects, and at least a record for each")
    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-packages-"))
    pg = None
    size = args.records
    deploys: list[float] = []
    bulks: list[float] = []
    try:
        if args.postgres and not args.database_url:
            from vaultjobs.testing import PostgresServer

            pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-pg-"))).start()
        print(f"store: {'PostgreSQL' if pg or args.database_url else 'SQLite'}")
        for round_ in range(args.rounds):
            url = args.database_url or (pg.create_database(f"packages{round_}") if pg is not None else None)
            server = LiveServer(folder / f"server{round_}", status_window=0, database_url=url)
            server.start()
            try:
                imported, deployed, bulk = measure(server, args, round_)
            finally:
                server.stop()
            deploys.append(deployed)
            bulks.append(bulk)
            print(f"round {round_ + 1}: import {imported:5.2f} s; deploy {size / deployed:7.0f} rec/s "
                  f"({deployed:5.2f} s), bulk API {size / bulk:7.0f} rec/s ({bulk:5.2f} s), "
                  f"ratio {bulk / deployed:.2f}")
    finally:
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.folder, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    deploy_s, bulk_s = statistics.median(deploys), statistics.median(bulks)
    print(f"median deploy of {args.objects} objects and {size} records: {deploy_s:6.2f} s ({size / deploy_s:7.0f} "
          f"rec/s) against the bulk record API {bulk_s:6.2f} s ({size / bulk_s:7.0f} rec/s): ratio "
          f"{bulk_s / deploy_s:.2f} (target >= 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
