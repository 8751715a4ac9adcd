"""Export Documents throughput against a plain ``shutil.copyfile`` loop over the same files.

Starts a real ``vaultjobs serve`` (default worker threads), creates ``--documents`` documents of
``--size`` bytes through the API, then, ``--rounds`` times in turn:

* copies every stored file with ``shutil.copyfile`` into a fresh folder on the same file system
  (the baseline: no HTTP, no database, no atomic rename, no fsync), and
* runs Export Documents of all of them (POST, poll the status until it ends) and checks that every
  result row is SUCCESS.

MB/s is exported bytes over wall time; for the export, from the POST to the first status poll that
sees it finished (polled every 20 ms with the status window off). The target is a ratio ≥ 0.5.

    .venv/bin/python bench/export.py [--documents 2000] [--size 102400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from vaultjobs.testing import LiveServer, V

PROCESSORS = "vaultjobs.processors.export_documents"


def create_documents(server: LiveServer, token: str, count: int, size: int) -> list[int]:
    def create(n: int) -> int:
        content = os.urandom(size - 8) + n.to_bytes(8, "big")
        with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=60) as http:
            body = http.post(f"/api/{V}/objects/documents",
                             data={"name__v": f"Bench {n}", "type__v": "Bench", "lifecycle__v": "General"},
                             files={"file": (f"doc{n}.bin", content)}).json()
        assert body["responseStatus"] == "SUCCESS", body
        return int(body["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, range(count)))


def export(server: LiveServer, token: str, ids: list[int]) -> float:
    with httpx.Client(base_url=server.url, headers={"Authorization": token}, timeout=60) as http:
        started = time.perf_counter()
        body = http.post(f"/api/{V}/objects/documents/batch/actions/fileextract",
                         json=[{"id": str(i)} for i in ids]).json()
        job_id = body["job_id"]
        while True:
            status = http.get(f"/api/{V}/services/jobs/{job_id}").json()["data"]["status"]
            if status not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        assert status == "SUCCESS", status
        rows = http.get(f"/api/{V}/objects/documents/batch/actions/fileextract/{job_id}/results").json()["data"]
        assert len(rows) == len(ids) and all(r["responseStatus"] == "SUCCESS" for r in rows)
    return elapsed


def copy_loop(files: list[Path], target: Path) -> float:
    target.mkdir(parents=True)
    started = time.perf_counter()
    for n, source in enumerate(files):
        shutil.copyfile(source, target / f"{n}.bin")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-export-"))
    server = LiveServer(folder / "server", status_window=0, processors=PROCESSORS)
    server.start()
    try:
        token = server.login()
        t0 = time.perf_counter()
        ids = create_documents(server, token, args.documents, args.size)
        print(f"created {len(ids)} documents of {args.size} bytes in {time.perf_counter() - t0:.1f} s")
        files = sorted(p for p in (server.data_dir / "files").rglob("*") if p.is_file())
        assert len(files) == len(ids)
        total_mb = len(ids) * args.size / 1e6
        copies: list[float] = []
        exports: list[float] = []
        for round_ in range(args.rounds):
            copies.append(copy_loop(files, folder / f"copy-{round_}"))
            exports.append(export(server, token, ids))
            print(f"round {round_ + 1}: copyfile {total_mb / copies[-1]:7.1f} MB/s   "
                  f"Export Documents {total_mb / exports[-1]:7.1f} MB/s   "
                  f"ratio {copies[-1] / exports[-1]:.2f}")
        copy_rate = total_mb / statistics.median(copies)
        export_rate = total_mb / statistics.median(exports)
        print(f"median: copyfile {copy_rate:.1f} MB/s, Export Documents {export_rate:.1f} MB/s, "
              f"ratio {export_rate / copy_rate:.2f} (target >= 0.5)")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
