"""Small chaos runs (:mod:`vaultjobs.chaos`), part of the suite: processes killed with SIGKILL while
jobs run — a single SQLite node, and on PostgreSQL two API servers and two worker processes with the
database crashed and restarted once — and nothing is lost, stuck or run twice. ``bench/chaos.py``
runs the long version."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultjobs import chaos
from vaultjobs.testing import PostgresServer


def test_a_sqlite_node_killed_again_and_again(tmp_path: Path) -> None:
    report = chaos.run(tmp_path, backend="sqlite", jobs=30, workers=3, kills=3, kill_every=2.0)
    print("\n".join(report.lines()))
    assert report.clean, report.lines()
    assert report.acknowledged >= 15 and report.kills == 3  # starts sent while the node was down fail


@pytest.mark.skipif(PostgresServer.binaries() is None, reason="PostgreSQL server binaries are not installed")
def test_a_postgresql_cluster_killed_and_its_database_restarted(tmp_path: Path) -> None:
    report = chaos.run(tmp_path, backend="postgres", jobs=40, api_servers=2, workers=2, kills=4, kill_every=2.0)
    print("\n".join(report.lines()))
    assert report.clean, report.lines()
    assert report.acknowledged >= 20 and report.kills == 4 and report.database_restarts == 1
