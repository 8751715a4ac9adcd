"""``vaultjobs package`` against real ``vaultjobs serve`` processes (both backends), as subprocesses:
build a folder into a package, validate, import and deploy it; export objects with their records
from one server and deploy them into another; and the ways a package is refused or fails."""

from __future__ import annotations

import csv
import io
import itertools
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from vaultjobs.client import VaultClient
from vaultjobs.packages import Manifest
from vaultjobs.testing import LiveServer

TREE_MDL = Path(__file__).with_name("objects_tree.mdl")
_names = itertools.count()


def _server(folder: Path, database_url: str, **settings: Any) -> LiveServer:
    """Every command signs in afresh: lift the 20-a-minute limit (as test_cli_objects does)."""
    server = LiveServer(folder, status_window=0.1, database_url=database_url, auth_attempts_per_minute=1000,
                        **settings)
    return server.start()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory,
           vaultjobs_new_database: Callable[[], str]) -> Iterator[LiveServer]:
    """A server with the object tree (a custom picklist, product ← batch) to export from."""
    server = _server(tmp_path_factory.mktemp("pkg-source"), vaultjobs_new_database(), mdl=str(TREE_MDL))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory,
           vaultjobs_new_database: Callable[[], str]) -> Iterator[LiveServer]:
    """A server with no custom objects: what it has, a package made."""
    server = _server(tmp_path_factory.mktemp("pkg-target"), vaultjobs_new_database())
    yield server
    server.stop()


def environment(server: LiveServer, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    return {
        **base,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VAULT_URL": server.url,
        "VAULT_USERNAME": "admin",
        "VAULT_PASSWORD": server.admin_password,
        "VAULT_POLL_INTERVAL": "0.1",
        "VAULTJOBS_MIN_POLL_INTERVAL": "0.1",
    }


@pytest.fixture
def env(target: LiveServer, tmp_path: Path) -> dict[str, str]:
    return environment(target, tmp_path)


def connect(server: LiveServer) -> VaultClient:
    return VaultClient(server.url, username="admin", password=server.admin_password, poll_interval=0.5,
                       min_poll_interval=0.5)


def vaultjobs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultjobs", *args], env=env, capture_output=True, text=True, timeout=180
    )


def as_json(result: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert result.returncode == code, result.stdout + result.stderr
    return orjson.loads(result.stdout)


def package_folder(root: Path, n: int, *, duplicate: bool = False) -> Path:
    """A folder package: shelf{n}__c, box{n}__c (child of a shelf, by lookup on the shelf's unique code)
    and their records; ``duplicate`` gives two boxes the same unique label."""
    (root / "components").mkdir(parents=True)
    (root / "vaultpackage.xml").write_bytes(Manifest(name=f"PKG-CLI-{n}", summary="Shelves and boxes").to_xml())
    steps = {
        "00010": (f"Object.shelf{n}__c.mdl",
                  f"RECREATE Object shelf{n}__c (\n   label('Shelf {n}'),\n   label_plural('Shelves'),\n"
                  f"   Field code__c (label('Code'), type('String'), unique(true), max_length(10))\n);\n"),
        "00020": (f"Object.box{n}__c.mdl",
                  f"RECREATE Object box{n}__c (\n   label('Box {n}'),\n   label_plural('Boxes'),\n"
                  f"   Field shelf__c (label('Shelf'), type('Object'), object('shelf{n}__c'),\n"
                  f"      relationship_type('parent'), required(true)),\n"
                  f"   Field tag__c (label('Tag'), type('String'), unique(true))\n);\n"),
        "00030": (f"shelf{n}__c.csv", "name__v,code__c\nTop,t\nBottom,b\n"),
        "00040": (f"box{n}__c.csv",
                  "name__v,shelf__cr.code__c,tag__c\nBox 1,t,x1\nBox 2,b,x2\nBox 3,b,"
                  + ("x2" if duplicate else "x3") + "\n"),
    }
    for number, (filename, text) in steps.items():
        folder = root / "components" / number
        folder.mkdir()
        (folder / filename).write_text(text)
    return root


def records(client: VaultClient, object_name: str, *fields: str) -> list[dict[str, Any]]:
    return list(client.objects.records(object_name, fields=["id", *fields]))


def test_build_validate_import_and_deploy_a_folder(env: dict[str, str], target: LiveServer, tmp_path: Path) -> None:
    n = next(_names)
    vpk = tmp_path / "shelves.vpk"
    built = as_json(vaultjobs(env, "package", "build", str(package_folder(tmp_path / "src", n)), "-o", str(vpk),
                              "--json"))
    assert [(s["step"], s["type"]) for s in built["steps"]] == [
        ("00010", "Component"), ("00020", "Component"), ("00030", "Data"), ("00040", "Data")]
    assert built["steps"][3]["records"] == 3 and vpk.stat().st_size == built["bytes"]

    checked = as_json(vaultjobs(env, "package", "validate", str(vpk), "--json"))
    assert checked["ok"] and checked["package_status"] == "Verified" and checked["package_id"] is None
    assert checked["total_steps"] == 4 and checked["total_steps_blocked"] == 0

    imported = as_json(vaultjobs(env, "package", "import", str(vpk), "--json"))
    assert imported["ok"] and imported["import"]["package_status"] == "verified__v"
    package_id = imported["package_id"]
    assert imported["import"]["name"] == f"PKG-CLI-{n}"
    assert [s["name"] for s in imported["import"]["steps"]] == ["00010", "00020", "00030", "00040"]

    inbound = as_json(vaultjobs(env, "package", "validate-inbound", package_id, "--json"))
    assert inbound["ok"] and inbound["package_id"] == package_id

    logs = tmp_path / "logs"
    deployed = as_json(vaultjobs(env, "package", "deploy", package_id, "--json", "--logs", str(logs)))
    results = deployed["deploy"]
    assert deployed["ok"] and results["package_status"] == "deployed__v"
    assert (results["total_steps"], results["deployed"], results["failed"], results["skipped"]) == (4, 4, 0, 0)
    assert [log["filename"].rsplit("-", 1)[-1] for log in results["deployment_log"]] == [
        "Validation.log", "Deployment.log"]
    saved = {Path(p).name: Path(p) for p in deployed["logs"]}
    deployment_log = next(p for name, p in saved.items() if name.endswith("Deployment.log"))
    assert "00040" in deployment_log.read_text()

    with connect(target) as client:
        shelves = {r["code__c"]: r["id"] for r in records(client, f"shelf{n}__c", "code__c")}
        boxes = {r["tag__c"]: r["shelf__c"] for r in records(client, f"box{n}__c", "tag__c", "shelf__c")}
    assert set(shelves) == {"t", "b"}
    assert boxes == {"x1": shelves["t"], "x2": shelves["b"], "x3": shelves["b"]}

    again = vaultjobs(env, "package", "deploy", package_id)  # deployed already: Vault refuses
    assert again.returncode == 1 and "cannot be deployed" in again.stderr


def test_build_in_a_client_only_install(tmp_path: Path) -> None:
    """``package build`` needs none of the server's dependencies (tests/client_only.py refuses them)."""
    client_only = Path(__file__).parents[1] / "client_only.py"
    vpk = tmp_path / "shelves.vpk"
    folder = package_folder(tmp_path / "src", next(_names))
    (folder / "components" / "00030" / "extra.csv").write_text("name__v\nX\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "VAULTJOBS_"))}
    run = [sys.executable, str(client_only), "package", "build", str(folder), "-o", str(vpk)]
    refused = subprocess.run(run, env=base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "exactly one" in refused.stderr and not vpk.exists()
    (folder / "components" / "00030" / "extra.csv").unlink()
    built = subprocess.run(run, env=base, capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    assert "00040" in built.stdout and "Create 3 records" in built.stdout and vpk.is_file()


def test_text_output_and_deploy_of_a_file(env: dict[str, str], target: LiveServer, tmp_path: Path) -> None:
    n = next(_names)
    vpk = tmp_path / "shelves.vpk"
    assert vaultjobs(env, "package", "build", str(package_folder(tmp_path / "src", n)), "-o", str(vpk)).returncode == 0
    result = vaultjobs(env, "package", "deploy", str(vpk), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "verified__v" in result.stdout and "deployed__v" in result.stdout
    assert f"Object.box{n}__c" in result.stdout and "4 deployed" in result.stdout


def test_export_from_one_server_and_deploy_into_another(source: LiveServer, target: LiveServer,
                                                       tmp_path: Path) -> None:
    with connect(source) as client:
        [product] = client.objects.create("product__c", [
            {"name__v": "Exported", "internal_name__c": "exp-1", "color__c": ["red__c", "blue__c"], "price__c": 9.5}])
        made = client.objects.create("batch__c", [
            {"name__v": f"EB{b}", "product__c": product.id, "code__c": f"eb{b}", "made__c": f"2026-01-0{b}"}
            for b in (1, 2)])
        assert product.ok and all(b.ok for b in made), made
    vpk = tmp_path / "export.vpk"
    exported = as_json(vaultjobs(environment(source, tmp_path), "package", "export", "--object", "batch__c",
                                 "--object", "product__c", "--records", "--name", "PKG-TREE", "-o", str(vpk),
                                 "--json"))
    assert [s.get("component") or s.get("object") for s in exported["steps"]] == [
        "Picklist.color__c", "Object.product__c", "Object.batch__c", "product__c", "batch__c"]
    with zipfile.ZipFile(vpk) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("components/00050/batch__c.csv").decode())))
    assert {"product__cr.internal_name__c", "code__c"} <= set(rows[0]) and "id" not in rows[0]
    assert {r["product__cr.internal_name__c"] for r in rows if r["code__c"] in ("eb1", "eb2")} == {"exp-1"}

    deployed = as_json(vaultjobs(environment(target, tmp_path), "package", "deploy", str(vpk), "--json"))
    assert deployed["ok"] and deployed["deploy"]["package_status"] == "deployed__v"
    with connect(target) as client:
        [copy] = [r for r in records(client, "product__c", "internal_name__c", "color__c", "price__c")
                  if r["internal_name__c"] == "exp-1"]
        assert sorted(copy["color__c"]) == ["blue__c", "red__c"] and copy["price__c"] == 9.5
        batches = {r["code__c"]: r["product__c"] for r in records(client, "batch__c", "code__c", "product__c")}
    assert batches["eb1"] == batches["eb2"] == copy["id"]  # the lookups found the copy in the other vault


def test_bad_and_blocked_packages(env: dict[str, str], target: LiveServer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.vpk"
    junk.write_bytes(b"not a zip")
    for command in ("import", "validate"):
        result = vaultjobs(env, "package", command, str(junk))
        assert result.returncode == 1 and "not a ZIP" in result.stderr, result.stderr

    n = next(_names)
    folder = package_folder(tmp_path / "src", n)
    for later in ("00020", "00030", "00040"):  # only the shelf, which depends on an object nowhere to be found
        shutil.rmtree(folder / "components" / later)
    dep = folder / "components" / "00010" / f"Object.shelf{n}__c.dep"
    dep.write_text('"In Package","Blocking Type","Source Component Label","Source Component Name",'
                   '"Source Component Type","Target Component Label","Target Component Name","Target Component Type"\n'
                   f'"false","block__sys","Shelf","shelf{n}__c","Object","Nowhere","nowhere__c","Object"\n')
    vpk = tmp_path / "blocked.vpk"
    assert vaultjobs(env, "package", "build", str(folder), "-o", str(vpk)).returncode == 0
    checked = as_json(vaultjobs(env, "package", "validate", str(vpk), "--json"), code=1)
    assert not checked["ok"] and checked["package_status"] == "Blocked"
    assert checked["steps"][0]["dependencies"][0]["status"] == "Missing - Block"

    imported = as_json(vaultjobs(env, "package", "import", str(vpk), "--json"), code=1)
    assert not imported["ok"] and imported["import"]["package_status"] == "blocked__v"
    refused = vaultjobs(env, "package", "deploy", imported["package_id"])
    assert refused.returncode == 1 and "Blocked" in refused.stderr
    assert vaultjobs(env, "package", "deploy", str(vpk), "--no-progress").returncode == 1  # import, then stop
    with connect(target) as client:
        assert f"shelf{n}__c" not in {o.name for o in client.objects.list()}


def test_deploy_with_failed_rows_exits_1(env: dict[str, str], target: LiveServer, tmp_path: Path) -> None:
    n = next(_names)
    vpk = tmp_path / "dup.vpk"
    assert vaultjobs(env, "package", "build", str(package_folder(tmp_path / "src", n, duplicate=True)),
                     "-o", str(vpk)).returncode == 0
    deployed = as_json(vaultjobs(env, "package", "deploy", str(vpk), "--json"), code=1)
    results = deployed["deploy"]
    assert not deployed["ok"] and results["package_status"] == "deployed_with_failures__v"
    assert results["deployed_with_failures"] == 1 and results["data_deployment_log"]
    with connect(target) as client:
        assert len(records(client, f"box{n}__c")) == 2  # the row that failed is not there; the others are


def test_deploy_job_that_ends_in_errors_prints_its_results_and_exits_10(env: dict[str, str], tmp_path: Path) -> None:
    n = next(_names)
    vpk = tmp_path / "shelves.vpk"
    assert vaultjobs(env, "package", "build", str(package_folder(tmp_path / "src", n)), "-o", str(vpk)).returncode == 0
    assert as_json(vaultjobs(env, "package", "deploy", str(vpk), "--json"))["ok"]

    again = vaultjobs(env, "package", "deploy", str(vpk), "--json")  # every shelf row clashes with the first deploy's
    failed = as_json(again, code=10)
    assert not failed["ok"] and failed["error"] == "JobFailed" and failed["job"]["status"] == "ERRORS_ENCOUNTERED"
    assert failed["import"]["name"] == f"PKG-CLI-{n}-1"  # a second package of the name
    results = failed["deploy"]
    assert results["package_status"] == "deployed_with_error__v"
    assert [s["status"] for s in results["steps"]] == ["deployed__v", "deployed__v", "error__v", "skipped__v"]

    text = vaultjobs(env, "package", "deploy", failed["package_id"], "--no-progress")  # error__v: deployable again
    assert text.returncode == 10 and "error__v" in text.stdout and "ERRORS_ENCOUNTERED" in text.stderr
