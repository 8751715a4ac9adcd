"""The long chaos run (issue 13's proof): 1,000 jobs, half of them of a processor that is not
idempotent, on PostgreSQL with 2 API servers and 3 worker processes while a driver kills a random one
with SIGKILL every few seconds (10 kills), restarts PostgreSQL once and drops client connections;
then the same on SQLite with a single node killed 10 times. Prints what was lost, stuck or run twice
(all must be 0), answers that were not Vault envelopes (0), whether the first session survived, and
the longest time from a kill until a task finished again. Not a test: tests/chaos runs a small one.

    .venv/bin/python bench/chaos.py [--jobs 1000] [--kills 10] [--every 3] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from vaultjobs import chaos
from vaultjobs.testing import PostgresServer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between kills")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    backends = [args.only] if args.only else ["postgres", "sqlite"]
    if "postgres" in backends and PostgresServer.binaries() is None:
        print("PostgreSQL server binaries are not installed; running SQLite only", file=sys.stderr)
        backends.remove("postgres")
    clean = True
    for backend in backends:
        folder = Path(tempfile.mkdtemp(prefix=f"vaultjobs-chaos-{backend}-"))
        try:
            report = chaos.run(folder, backend=backend, jobs=args.jobs, api_servers=2, workers=3,
                               kills=args.kills, kill_every=args.every, settle=600)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        print("\n".join(report.lines()), flush=True)
        clean = clean and report.clean
    print("clean" if clean else "NOT CLEAN")
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
