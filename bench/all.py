"""Every ratio of issue 16 in one run: status on SQLite and on two PostgreSQL replicas, job starts
through the API on both, end-to-end throughput against the raw-SQL loops, against the peers
(bench/peers/: Huey and Procrastinate), and the server's memory; one table at the end.

Each benchmark runs as its own script (its full output is shown as it goes); this one only collects
the ratio lines they print. Sizes are small by default, so that the whole run takes a few minutes;
raise them for the figures DESIGN.md speaks of (``--jobs 1000000``).

    .venv/bin/python bench/all.py [--jobs 100000] [--seconds 5] [--throughput-jobs 20000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIO = re.compile(r"(ratio[^:]*|status/health[^:]*|scale-out[^:]*|slowdown[^:]*):\s*([0-9.]+)\s*(\(target[^)]*\))?")
PEER_RATIO = re.compile(r"([a-z][a-zA-Z -]* vs [A-Za-z ]+?) ([0-9.]+) (\(target[^)]*\))")
VAULTJOBS_RATIO = re.compile(r"^(vaultjobs, .*?):.*ratio ([0-9.]+)\s*(\(target[^)]*\))?")


def run(title: str, script: str, *args: str) -> list[tuple[str, str, str, str]]:
    print(f"\n=== {title}: {script} {' '.join(args)}", flush=True)
    process = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True)
    print(process.stdout, end="", flush=True)
    if process.returncode:
        print(process.stderr[-3000:], flush=True)
        return [(title, "failed", "-", f"exit {process.returncode}")]
    rows = []
    for line in process.stdout.splitlines():
        for peer in PEER_RATIO.finditer(line):
            rows.append((title, peer.group(1).strip(), peer.group(2), peer.group(3).strip("()")))
        found = VAULTJOBS_RATIO.search(line.strip()) or RATIO.search(line)
        if found:
            rows.append((title, found.group(1).strip(), found.group(2), (found.group(3) or "").strip("()")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="100000", help="stored jobs for the status benchmarks")
    parser.add_argument("--seconds", default="5", help="length of each timed phase")
    parser.add_argument("--throughput-jobs", default="20000", help="jobs for the end-to-end benchmarks")
    args = parser.parse_args()
    rows = [
        *run("status, SQLite", "status_api.py", "--jobs", args.jobs, "--seconds", args.seconds, "--rounds", "1",
             "--compare", "10000"),
        *run("status, PostgreSQL", "status_replicas.py", "--jobs", args.jobs, "--seconds", args.seconds),
        *run("start, SQLite", "start_api.py", "--seconds", args.seconds),
        *run("start, PostgreSQL", "start_api.py", "--seconds", args.seconds, "--postgres"),
        *run("end to end, SQLite", "throughput.py", "--jobs", args.throughput_jobs),
        *run("end to end, PostgreSQL", "throughput.py", "--postgres", "--jobs", args.throughput_jobs),
        *run("peers", "peers/run.py", "--jobs", args.throughput_jobs),
        *run("memory, SQLite", "memory.py", "--jobs", args.jobs),
    ]
    print("\n" + f"{'benchmark':<24} {'measure':<48} {'ratio':>6}  target")
    for title, name, ratio, target in rows:
        print(f"{title:<24} {name[:48]:<48} {ratio:>6}  {target}")


if __name__ == "__main__":
    main()
