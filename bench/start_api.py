"""Starting jobs through the API against the trivial endpoint of the same server.

Starts a real ``vaultjobs serve --no-workers`` on a fresh SQLite store (or ``--database-url
postgresql://…``, an empty or migrated database) and drives it with status_api.py's load generator
(imported, not copied: ``--concurrency`` keep-alive connections, closed loop): in turn
``GET /_vaultjobs/health`` and ``POST /api/v26.1/services/jobs/processors/demo/actions/run`` (a no-op
``demo`` job), each for ``--seconds`` after a warm-up. Every start must answer HTTP 200 with
``X-VaultAPI-Status: SUCCESS``, and so be durable (the API acknowledges a job once its commit is on
disk). No worker runs, so the jobs stay QUEUED and only the API is measured.

Reported: requests/s, p50/p99 and the server's CPU per request of each, and the ratio
starts/health (target ≥ 0.5).

    .venv/bin/python bench/start_api.py [--seconds 5] [--rounds 2] [--concurrency 16] [--postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from vaultjobs.testing import LiveServer, PostgresServer, V

sys.path.insert(0, str(Path(__file__).resolve().parent))
from status_api import Measured, Phase, combine, measure, run_phase, show  # noqa: E402 - the load generator

RUN_BODY = b'{"parameters": {"items": 1, "item_seconds": 0}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up before each phase")
    parser.add_argument("--rounds", type=int, default=2, help="health/start phase pairs, averaged")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--database-url", default="", help="postgresql://… (default: SQLite in a temporary folder)")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="vaultjobs-bench-start-"))
    pg = None
    if args.postgres and not args.database_url:
        pg = PostgresServer(Path(tempfile.mkdtemp(prefix="vaultjobs-bench-pg-"))).start()
        args.database_url = pg.create_database("start")
    server = LiveServer(root / "data", database_url=args.database_url, workers=0,
                        extra_env={"VAULTJOBS_LOG_LEVEL": "warning"})
    server.start()
    try:
        token = server.login()
        address = urlsplit(server.url)
        host, port = address.hostname or "127.0.0.1", address.port or 80

        def phase(path: str, seconds: float, body: bytes = b"") -> Phase:
            return Phase(host, port, token, [path], seconds, args.concurrency, body)

        run_path = f"/api/{V}/services/jobs/processors/demo/actions/run"
        health: list[Measured] = []
        starts: list[Measured] = []
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            for _ in range(args.rounds):
                run_phase(pool, phase("/_vaultjobs/health", args.warmup), 1)
                health.append(measure(pool, server, phase("/_vaultjobs/health", args.seconds), 1))
                run_phase(pool, phase(run_path, args.warmup, RUN_BODY), 1)
                starts.append(measure(pool, server, phase(run_path, args.seconds, RUN_BODY), 1))
        h, s = combine(health), combine(starts)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"{backend}, {args.concurrency} concurrent connections, no workers:")
        show("GET /_vaultjobs/health", h)
        show("POST …/demo/actions/run", s)
        print(f"  throughput ratio starts/health: {s.rate / h.rate:.2f}  (target ≥ 0.5)")
        print(f"  server CPU ratio health/start:  {h.cpu_ms / s.cpu_ms:.2f}")
    finally:
        server.stop()
        if pg is not None:
            pg.stop()
            shutil.rmtree(pg.folder, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
