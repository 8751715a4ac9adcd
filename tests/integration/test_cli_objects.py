"""``vaultjobs mdl`` and ``vaultjobs objects`` against a real ``vaultjobs serve`` (both backends), as
subprocesses; and ``serve --mdl``, which must start again with the same file."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from vaultjobs.client import VaultClient
from vaultjobs.testing import LiveServer

TREE_MDL = Path(__file__).with_name("objects_tree.mdl")
_names = itertools.count()


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, vaultjobs_new_database: Callable[[], str]
) -> Iterator[LiveServer]:
    """Every command signs in afresh: lift the 20-a-minute limit (as test_cli_client_live does)."""
    server = LiveServer(
        tmp_path_factory.mktemp("cli-objects"),
        status_window=0.1,
        database_url=vaultjobs_new_database(),
        auth_attempts_per_minute=1000,
        mdl=str(TREE_MDL),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def env(live_server: LiveServer, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    return {
        **base,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VAULT_URL": live_server.url,
        "VAULT_USERNAME": "admin",
        "VAULT_PASSWORD": live_server.admin_password,
        "VAULT_POLL_INTERVAL": "0.1",
        "VAULTJOBS_MIN_POLL_INTERVAL": "0.1",
    }


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[VaultClient]:
    with VaultClient(live_server.url, username="admin", password=live_server.admin_password, poll_interval=0.5,
                     min_poll_interval=0.5) as vault:
        yield vault


def vaultjobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultjobs", *args], env=env, capture_output=True, text=True, timeout=120
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def tree(client: VaultClient) -> tuple[str, int]:
    """A product with two batches: the product's id and its number."""
    n = next(_names)
    [root] = client.objects.create("product__c", [{"name__v": f"CLI {n}", "internal_name__c": f"cli-{n}"}])
    batches = client.objects.create(
        "batch__c", [{"name__v": f"B{n}.{b}", "product__c": root.id, "code__c": f"cli{n}.{b}"} for b in range(2)]
    )
    assert root.ok and root.id is not None and all(b.ok for b in batches)
    return root.id, n


def test_mdl_apply_through_the_api(env: dict[str, str], tmp_path: Path) -> None:
    n = next(_names)
    script = tmp_path / "shelf.mdl"
    script.write_text(f"CREATE Object shelf{n}__c (label('Shelf'), label_plural('Shelves'),\n"
                      f"   Field width__c (label('Width'), type('Number')));\n")
    [applied] = as_json(vaultjobs(env, "mdl", "apply", str(script), "--json"))
    assert applied["ok"] and [s["component"] for s in applied["statements"]] == [f"Object.shelf{n}__c"]
    listed = vaultjobs(env, "objects", "list")
    assert listed.returncode == 0 and f"shelf{n}__c" in listed.stdout

    again = vaultjobs(env, "mdl", "apply", str(script), "--json")  # CREATE of an existing object fails
    assert again.returncode == 1, again.stderr
    [failed] = orjson.loads(again.stdout)
    assert not failed["ok"] and failed["failures"] == 1 and not failed["statements"][0]["ok"]

    broken = tmp_path / "broken.mdl"
    broken.write_text("CREATE Nonsense (")
    result = vaultjobs(env, "mdl", "apply", str(broken))
    assert result.returncode == 1 and "syntax" in result.stderr.lower()


def test_objects_list_and_records(env: dict[str, str], client: VaultClient) -> None:
    objects = as_json(vaultjobs(env, "objects", "list", "--json"))
    product = next(o for o in objects if o["name"] == "product__c")
    assert product["label"] == "Product" and product["status"] == "active__v"

    root, n = tree(client)
    records = as_json(vaultjobs(env, "objects", "records", "product__c", "--fields", "id,internal_name__c",
                                "--sort", "id desc", "--json"))
    assert records[0] == {"id": root, "internal_name__c": f"cli-{n}"}
    limited = as_json(vaultjobs(env, "objects", "records", "batch__c", "--limit", "1", "--json"))
    assert len(limited) == 1 and set(limited[0]) == {"id", "name__v"}
    table = vaultjobs(env, "objects", "records", "product__c", "--fields", "id,internal_name__c")
    assert table.returncode == 0 and f"cli-{n}" in table.stdout and root in table.stdout

    missing = vaultjobs(env, "objects", "records", "nothing__c", "--json")
    assert missing.returncode == 1 and "nothing__c" in missing.stdout + missing.stderr


def test_deep_copy_and_cascade_delete(env: dict[str, str], client: VaultClient) -> None:
    root, n = tree(client)
    started = as_json(vaultjobs(env, "objects", "deep-copy", "product__c", root,
                                "--set", f"internal_name__c=copy-{n}", "--set", "price__c=12.5", "--json"))
    job = client.wait(started["job_id"], timeout=60)
    assert job.status.value == "SUCCESS"
    copies = [r for r in client.objects.records("product__c", fields=["id", "internal_name__c", "price__c"])
              if r["internal_name__c"] == f"copy-{n}"]
    assert len(copies) == 1 and copies[0]["price__c"] == 12.5

    waited = as_json(vaultjobs(env, "objects", "cascade-delete", "product__c", copies[0]["id"], "--wait", "--json"))
    assert waited["status"] == "SUCCESS"
    assert not [r for r in client.objects.records("product__c", fields=["internal_name__c"])
                if r["internal_name__c"] == f"copy-{n}"]

    text = vaultjobs(env, "objects", "deep-copy", "product__c", root, "--wait", "--no-progress")
    assert text.returncode == 10, text.stderr  # internal_name__c is unique: ERRORS_ENCOUNTERED
    assert "ERRORS_ENCOUNTERED" in text.stdout + text.stderr

    bad = vaultjobs(env, "objects", "deep-copy", "product__c", root, "--set", "no-equals-sign")
    assert bad.returncode == 2 and "FIELD=VALUE" in bad.stderr


def test_create_edl(env: dict[str, str], client: VaultClient) -> None:
    n = next(_names)
    [template] = client.objects.create("edl__v", [{"name__v": f"CLI Template {n}", "template__v": True}])
    [item] = client.objects.create("edl_item__v", [{"name__v": f"Protocol {n}", "edl__v": template.id,
                                                   "document_type__v": "Protocol"}])
    [study] = client.objects.create("study__v", [{"name__v": f"CLI Study {n}", "template_edl__v": template.id}])
    assert template.ok and item.ok and study.ok and study.id is not None
    started = vaultjobs(env, "objects", "create-edl", study.id)
    assert started.returncode == 0 and "Started job" in started.stdout, started.stderr
    waited = as_json(vaultjobs(env, "objects", "create-edl", study.id, "--apply-where-edl-items-exist",
                               "--wait", "--json"))
    assert waited["status"] == "SUCCESS"
    edls = [e for e in client.objects.records("edl__v", fields=["id", "study__v"]) if e["study__v"] == study.id]
    assert len(edls) == 1


def test_serve_mdl_restarts_with_the_same_file_and_refuses_a_failing_one(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    database = vaultjobs_new_database()
    extra = tmp_path / "extra.mdl"
    extra.write_text("CREATE Object crate__c (label('Crate'), label_plural('Crates'));\n"
                     "RECREATE Picklist size__c (label('Size'), Picklistentry big__c (value('Big'), order(1)));\n")
    server = LiveServer(tmp_path / "data", database_url=database, mdl=f"{TREE_MDL} {extra}")
    server.start()
    try:
        with VaultClient(server.url, username="admin", password=server.admin_password) as vault:
            [crate] = vault.objects.create("crate__c", [{"name__v": "kept"}])
            assert crate.ok
    finally:
        server.stop()
    server.start()  # the same files again: CREATEs of existing components are skipped
    try:
        with VaultClient(server.url, username="admin", password=server.admin_password) as vault:
            assert [r["name__v"] for r in vault.objects.records("crate__c")] == ["kept"]
            assert {"product__c", "crate__c"} <= {o.name for o in vault.objects.list()}
    finally:
        server.stop()
    assert "CREATE skipped" in server.log_text()

    failing = tmp_path / "failing.mdl"
    failing.write_text("ALTER Object missing__c (ADD Field x__c (label('X'), type('String')));\n")
    refused = LiveServer(tmp_path / "data", database_url=database, mdl=str(failing))
    with pytest.raises(RuntimeError, match="did not start"):
        refused.start(timeout=20)
    assert "missing__c" in refused.log_text()


def test_mdl_apply_local_is_idempotent(tmp_path: Path, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the local mode is the same code on both backends; serve --mdl runs it on PostgreSQL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    data = tmp_path / "local"
    first = as_json(vaultjobs(env, "mdl", "apply", str(TREE_MDL), "--data-dir", str(data), "--json"))
    assert first[0]["ok"] and first[0]["skipped"] == [] and len(first[0]["statements"]) == 5
    second = as_json(vaultjobs(env, "mdl", "apply", str(TREE_MDL), "--data-dir", str(data), "--json"))
    assert second[0]["ok"] and second[0]["statements"] == [{"statement": 1, "command": "RECREATE",
                                                            "component": "Picklist.color__c", "ok": True,
                                                            "message": second[0]["statements"][0]["message"]}]
    assert second[0]["skipped"] == ["Object.product__c", "Object.batch__c", "Object.sample__c", "Object.audit__c"]
