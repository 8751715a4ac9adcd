"""Two replicas on one PostgreSQL database share the control plane: a fault rule set through one fires
on the other, its counts are the cluster's, and both journals and event streams agree."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import httpx

from vaultjobs.control.client import ControlClient
from vaultjobs.testing import LiveServer, PostgresServer, V, read_envelope

PROCESSORS = f"/api/{V}/services/jobs/processors"


def test_a_fault_set_on_one_replica_fires_on_the_other(tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("control_cluster")
    replicas = [LiveServer(tmp_path / f"api{n}", database_url=url, control_plane="1", workers=0) for n in range(2)]
    for replica in replicas:
        replica.start()
    try:
        token = replicas[0].login()
        a, b = (ControlClient(replica.url) for replica in replicas)
        rule = a.faults.add(operation="retrieve_job_processors", when={"every": 3},
                            answer={"vault_error": "API_LIMIT_EXCEEDED"})
        with b.events(read_timeout=30) as stream:
            with httpx.Client(base_url=replicas[1].url, headers={"Authorization": token}, timeout=30) as on_b:
                assert read_envelope(on_b.get(PROCESSORS)).response_status == "SUCCESS"
                assert read_envelope(on_b.get(PROCESSORS)).response_status == "SUCCESS"
                assert read_envelope(on_b.get(PROCESSORS)).error_type == "API_LIMIT_EXCEEDED"
            fired = next(iter(stream))
        assert fired.kind == "fault.fired" and fired.data["rule_id"] == rule["id"]

        # 60 calls spread over both replicas at once: every third of them fires, exactly, cluster-wide.
        def call(n: int) -> str:
            with httpx.Client(base_url=replicas[n % 2].url, headers={"Authorization": token}, timeout=30) as http:
                return read_envelope(http.get(PROCESSORS)).response_status

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            outcomes = list(pool.map(call, range(60)))
        assert outcomes.count("FAILURE") == 20
        for control in (a, b):
            (counted,) = control.faults.list()
            assert (counted["calls"], counted["hits"]) == (63, 21)
            assert len(control.requests.list(error_type="API_LIMIT_EXCEEDED")) == 21
        a.close()
        b.close()
    finally:
        for replica in replicas:
            replica.stop()
