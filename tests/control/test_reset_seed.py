"""Reset empties the server (and every replica's caches of it); seeds are idempotent and round-trip."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from vaultjobs.store.control_reset import TABLES
from vaultjobs.store.status_windows import SideFileStatusWindows
from vaultjobs.testing import LiveServer, V
from vaultjobs.timeutil import parse_datetime, render_datetime

from .conftest import Control, error_type

START = "2030-01-07T09:00:00.000Z"


def later(at: str, **delta: float) -> str:
    return render_datetime(parse_datetime(at) + timedelta(**delta))

MDL = """RECREATE Picklist color__c (
   label('Color'),
   Picklistentry red__c (value('Red'), order(1)),
   Picklistentry blue__c (value('Blue'), order(2))
);
CREATE Object product__c (
   label('Product'), label_plural('Products'),
   Field internal_name__c (label('Internal Name'), type('String'), unique(true), max_length(20)),
   Field color__c (label('Color'), type('Picklist'), picklist('Picklist.color__c'), multi_value(true)),
   Field price__c (label('Price'), type('Number'), scale(2), min_value(0), max_value(1000))
);
"""
SEED: dict[str, Any] = {
    "users": [{"username": "carol", "password": "carol-password", "timezone": "Europe/Paris"},
              {"username": "dave", "password": "dave-password", "admin": True, "active": False}],
    "definitions": [{"name": "hourly_demo", "processor": "demo", "owner": "carol", "interval": "1h",
                     "parameters": {"items": 1}, "single_instance": True, "enabled": False}],
    "mdl": MDL,
    "records": {
        "product__c": [{"name__v": "Aspirin", "internal_name__c": "ASP", "color__c": ["red__c"], "price__c": 9.5},
                       {"name__v": "Cholecap", "internal_name__c": "CHC"}],
        "study__v": [{"name__v": "STUDY-1"}],
    },
    "documents": [
        {"fields": {"name__v": "Leaflet", "type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle",
                    "title__v": "A leaflet"},
         "version": "1.0", "owner": "carol",
         "file": {"filename": "leaflet.pdf", "base64": base64.b64encode(b"%PDF-1.4 leaflet").decode()}},
        {"fields": {"name__v": "Placeholder", "type__v": "Promotional Piece", "lifecycle__v": "General Lifecycle"}},
    ],
    "binders": [{"fields": {"name__v": "Pack", "type__v": "Binder", "lifecycle__v": "Binder Lifecycle"},
                 "documents": ["Leaflet", "Placeholder"]}],
}


def test_reset_empties_the_server_and_resets_the_clock(control: Control) -> None:
    control.freeze(START)
    control.call("PUT", "/limits", {"status_window": 1})
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING"}]})
    control.call("POST", "/faults", {"match": {"operation": "retrieve_job_status"}, "when": {"nth": 99},
                                     "answer": {"vault_error": "API_LIMIT_EXCEEDED"}}, status=201)
    token = control.server.login()
    job_id = control.run()
    assert error_type(control.status(job_id, token)) is None
    assert control.call("GET", "/requests")["requests"] != []
    answer = control.call("POST", "/reset", {"seed": "empty"})
    assert answer == {"reset": True, "seeded": {"created": {"users": {}, "documents": {}, "binders": {}, "records": {},
                                                            "definitions": []}}}
    assert control.call("GET", "/clock")["frozen"] is False
    assert control.call("GET", "/limits")["limits"]["status_window"] == 10.0
    assert control.call("GET", "/transitions") == {"transitions": {}}
    assert control.call("GET", "/faults") == {"faults": []}
    assert control.call("GET", "/requests") == {"requests": []}
    assert control.call("GET", f"/jobs/{job_id}", status=404)
    assert error_type(control.status(job_id, token)) == "INVALID_SESSION_ID"  # sessions are gone
    assert control.call("GET", "/seed") == {}  # nothing but admin
    fresh = control.server.login()  # admin keeps its password
    monitors = control.api.get("/services/jobs/monitors", headers={"Authorization": fresh}).json()
    assert monitors["responseStatus"] == "SUCCESS" and monitors["jobs"] == []


def test_the_default_seed(control: Control) -> None:
    created = control.call("POST", "/reset")["seeded"]["created"]
    assert set(created["users"]) == {"vault.user"}
    assert set(created["documents"]) == {"Cholecap Brochure", "Cholecap Protocol"}
    assert set(created["binders"]) == {"Cholecap Binder"} and set(created["records"]["study__v"]) == {
        "CHOLECAP-301", "CHOLECAP-302"}
    token = control.server.login("vault.user", "vault-user-password")
    admin = control.server.login()
    brochure = created["documents"]["Cholecap Brochure"]
    file = control.api.get(f"/objects/documents/{brochure}/file", headers={"Authorization": admin})
    assert file.content == b"Cholecap: the brochure.\n"
    assert error_type(control.api.get("/services/jobs/monitors", headers={"Authorization": token})) is None


def test_seeds_are_idempotent_and_round_trip(control: Control) -> None:
    control.call("POST", "/reset", {"seed": "empty"})
    body = yaml.safe_dump(SEED).encode()
    first = control.http.post("/seed", content=body, headers={"Content-Type": "application/yaml"})
    assert first.status_code == 200, first.text
    created = first.json()["created"]
    assert set(created["users"]) == {"carol", "dave"} and created["definitions"] == ["hourly_demo"]
    assert set(created["records"]["product__c"]) == {"Aspirin", "Cholecap"}
    assert set(created["documents"]) == {"Leaflet", "Placeholder"} and set(created["binders"]) == {"Pack"}
    again = control.call("POST", "/seed", SEED)["created"]
    assert again == {"users": {}, "documents": {}, "binders": {}, "records": {}, "definitions": []}
    leaflet = created["documents"]["Leaflet"]
    carol = control.server.login("carol", "carol-password")
    file = control.api.get(f"/objects/documents/{leaflet}/file", headers={"Authorization": carol})
    assert file.content == b"%PDF-1.4 leaflet"

    exported = control.call("GET", "/seed")
    assert [u["username"] for u in exported["users"]] == ["carol", "dave"]
    assert exported["records"]["product__c"][0]["color__c"] == ["red__c"]
    control.call("POST", "/reset", {"seed": exported})
    assert control.call("GET", "/seed") == exported
    control.server.login("carol", "carol-password")  # the password came back as its hash


def test_bad_seeds_are_refused(control: Control) -> None:
    for bad in ({"people": []}, {"users": [{"username": "x y", "password": "long enough"}]},
                {"documents": [{"fields": {"name__v": "No type"}}]},
                {"binders": [{"fields": {"name__v": "B", "type__v": "Binder", "lifecycle__v": "L"},
                              "documents": ["missing"]}]},
                {"binders": [{"fields": {"name__v": "B", "type__v": "Binder", "lifecycle__v": "L"},
                              "documents": "Leaflet"}]},
                {"records": {"no_such_object__c": [{"name__v": "x"}]}},
                {"definitions": [{"name": "d", "processor": "demo", "owner": "nobody", "interval": 60}]}):
        assert control.call("POST", "/seed", bad, status=400)["error"]["type"] == "INVALID_SEED", bad
    assert control.call("GET", "/seed") == {}  # each was refused before it made anything
    assert control.call("POST", "/reset", {"seed": "everything"}, status=400)["error"]["type"] == "INVALID_SEED"


def test_serve_seed_applies_a_file_at_each_start(tmp_path: Path,
                                                 live_server_factory: Callable[..., LiveServer]) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(yaml.safe_dump({"users": SEED["users"], "records": {"study__v": [{"name__v": "S-1"}]}}))
    server = live_server_factory(extra_args=("--seed", str(path)))  # the flag, as the issue names it
    server.login("carol", "carol-password")
    server.restart()  # the seed is applied again: nothing new, and no failure
    with server.client(headers={"Authorization": server.login()}) as http:
        records = http.get(f"/api/{V}/vobjects/study__v").json()
    assert [r["name__v"] for r in records["data"]] == ["S-1"]


#: Tables a reset leaves as they are, each for its reason; every other table it empties.
KEPT_BY_RESET = {
    "users": "admin stays (the others are deleted)",
    "control_clock": "set back to real time, not emptied",
    "control_events": "the event log: a stream spanning a reset misses nothing",
    "object_catalog": "set back to the standard objects",
    "session_epoch": "moved on, so that every node's session cache forgets",
    "workers": "the running nodes", "leases": "the running nodes",
    "schema_migrations": "the schema", "sqlite_sequence": "ids are never used twice",
}


def store_tables(server: LiveServer) -> dict[str, int]:
    """Each table of the server's store with its row count (and the SQLite status windows' side file)."""
    url = server.settings["database_url"]
    if url:
        import psycopg

        with psycopg.connect(url) as conn:
            names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
            return {name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0] for name in names}  # type: ignore[index]
    with contextlib.closing(sqlite3.connect(server.data_dir / "vaultjobs.db")) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0] for name in names}
    side_file = server.data_dir / "vaultjobs-status-windows.db"
    if side_file.exists():  # made at the first status call
        # Read as another node would: the server, the side file's sole user so far, hands its windows over.
        other = SideFileStatusWindows(side_file)
        try:
            counts["status_polls"] = len(other.recorded())
        finally:
            other.close()
    return counts


def test_every_table_is_emptied_by_a_reset_or_kept_for_a_reason(control: Control) -> None:
    assert set(store_tables(control.server)) - set(KEPT_BY_RESET) <= set(TABLES)


def test_a_reset_leaves_nothing_a_test_made(control: Control) -> None:
    control.call("POST", "/seed", SEED)  # users, definitions, an object, records, documents, a binder
    job_id = control.run(parameters={"items": 3, "chunk_size": 1, "item_seconds": 0})
    control.wait_for(job_id, lambda s: s == "SUCCESS")
    assert error_type(control.status(job_id)) is None  # a status window
    staged = control.api.post("/services/file_staging/items", data={"kind": "file", "path": "/note.txt"},
                              files={"file": ("note.txt", b"a note")})
    assert error_type(staged) is None
    assert error_type(control.api.post("/auth", data={"username": "carol", "password": "wrong"})) is not None
    control.freeze(START)
    control.log_in_again()  # the jump of years ended the session
    control.call("PUT", "/limits", {"status_window": 1})
    control.call("PUT", "/transitions/demo", {"steps": [{"status": "RUNNING"}]})
    control.call("POST", "/faults", {"match": {"operation": "keep_alive"}, "answer": {"status": 503}}, status=201)
    control.run(schedule_at=later(START, hours=1))
    made = store_tables(control.server)
    control.call("POST", "/reset", {"seed": "empty"})
    left = {name: rows for name, rows in store_tables(control.server).items() if rows and name not in KEPT_BY_RESET}
    assert left == {}, left
    assert store_tables(control.server)["users"] == 1
    assert all(made[name] for name in ("jobs", "tasks", "sessions", "documents", "object_records", "status_polls")
               if name in made)  # what the test made was there to be emptied
    staging = control.server.data_dir / "staging"
    assert [p.name for p in staging.iterdir() if not p.name.startswith(".")] == []  # file staging too


def test_a_reset_starts_the_burst_count_again(control: Control) -> None:
    """The burst count is the store's, held in memory for a second: a reset empties both."""

    def used() -> int:
        headers = control.api.get("/services/jobs/monitors").headers
        return int(headers["X-VaultAPI-BurstLimit"]) - int(headers["X-VaultAPI-BurstLimitRemaining"])

    control.freeze(START)  # one burst window throughout, whatever the time
    control.log_in_again()
    for _ in range(6):
        used()
    assert used() >= 7
    control.call("POST", "/reset", {"seed": "empty"})
    control.freeze(START)  # the reset let the clock run again: back to the same window
    control.log_in_again()
    assert used() <= 3  # the sign-in and this request
