"""vaultjobs against its peers, end to end, in one run: Huey (SQLite, 4 threads) and Procrastinate
(PostgreSQL, concurrency 10) at pinned versions, on the same ``--jobs`` no-op jobs, each enqueued the
way its users do it (Huey and Procrastinate by calling their task, vaultjobs through its HTTP API)
and then drained; a raw-SQL claim/complete loop on each database stays in the run as the ceiling.

The peers are installed into a throwaway virtualenv (``--venv``, kept between runs) with pip; each
runs as a script of this folder in that virtualenv. vaultjobs enqueues through ``serve --no-workers``
(16 keep-alive connections of a minimal HTTP client in its own process, as bench/throughput.py: a
Python HTTP library would measure itself) and drains with one ``vaultjobs worker`` process (4 threads).

End to end = jobs / (enqueue time + drain time). Targets (DESIGN.md): on SQLite, drain and end to end
≥ 1.0× Huey; on PostgreSQL, end to end ≥ 5× Procrastinate; vaultjobs' drain ≥ 0.5× the raw-SQL loop.

    .venv/bin/python bench/peers/run.py [--jobs 20000] [--venv /tmp/vaultjobs-peers-venv]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from throughput import drain_rate, enqueue, raw_skip_locked_baseline, raw_sql_baseline  # noqa: E402

from vaultjobs.testing import LiveServer, PostgresServer  # noqa: E402

PEERS = ("huey==3.5.4", "procrastinate[psycopg]==3.10.0")


def peer_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    return python


def run_peer(python: Path, script: str, *args: str) -> tuple[float, float]:
    out = subprocess.run([str(python), str(HERE / script), *args], check=True, capture_output=True, text=True).stdout
    rates = dict(line.split() for line in out.splitlines() if line.startswith(("enqueue ", "drain ")))
    return float(rates["enqueue"]), float(rates["drain"])


def vaultjobs_rates(folder: Path, jobs: int, database_url: str = "") -> tuple[float, float]:
    server = LiveServer(folder, workers=0, status_window=0, database_url=database_url,
                        extra_env={"VAULTJOBS_LOG_LEVEL": "warning"})
    server.start()
    try:
        enqueue_rate = jobs / enqueue(server, server.login(), jobs)
        return enqueue_rate, drain_rate(server, jobs, workers=4)
    finally:
        server.stop()


def end_to_end(enqueue_rate: float, drain: float) -> float:
    return 1.0 / (1.0 / enqueue_rate + 1.0 / drain)


def show(name: str, enqueue_rate: float, drain: float) -> float:
    total = end_to_end(enqueue_rate, drain)
    print(f"  {name:<34} enqueue {enqueue_rate:8,.0f}/s   drain {drain:8,.0f}/s   end to end {total:8,.0f}/s",
          flush=True)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "vaultjobs-peers-venv")
    args = parser.parse_args()
    python = peer_python(args.venv)
    root = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-peers-"))
    pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-peers-pg-"))).start()
    try:
        print(f"SQLite, {args.jobs:,} no-op jobs:")
        raw = raw_sql_baseline(root / "raw.db", args.jobs)
        print(f"  {'raw-SQL claim/complete loop':<34} drain {raw:8,.0f}/s", flush=True)
        huey_enqueue, huey_drain = run_peer(python, "huey_sqlite.py", str(root / "huey.db"), str(args.jobs))
        huey = show("Huey 3.5.4, 4 threads", huey_enqueue, huey_drain)
        vj_enqueue, vj_drain = vaultjobs_rates(root / "vaultjobs", args.jobs)
        vj = show("vaultjobs, 1 worker x 4 threads", vj_enqueue, vj_drain)
        print(f"  drain vs Huey {vj_drain / huey_drain:.2f} (target ≥ 1.0), end to end vs Huey {vj / huey:.2f} "
              f"(target ≥ 1.0), drain vs raw SQL {vj_drain / raw:.2f} (target ≥ 0.5)")

        print(f"PostgreSQL, {args.jobs:,} no-op jobs:")
        raw = raw_skip_locked_baseline(pg.create_database("raw"), args.jobs)
        print(f"  {'raw-SQL SKIP LOCKED loop':<34} drain {raw:8,.0f}/s", flush=True)
        proc = show("Procrastinate 3.10, concurrency 10",
                    *run_peer(python, "procrastinate_postgres.py", pg.create_database("procrastinate"), str(args.jobs)))
        vj_enqueue, vj_drain = vaultjobs_rates(root / "vaultjobs-pg", args.jobs, pg.create_database("vaultjobs"))
        vj = show("vaultjobs, 1 worker x 4 threads", vj_enqueue, vj_drain)
        print(f"  end to end vs Procrastinate {vj / proc:.2f} (target ≥ 5), drain vs raw SQL {vj_drain / raw:.2f} "
              "(target ≥ 0.5)")
    finally:
        pg.stop()
        shutil.rmtree(pg.folder, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
