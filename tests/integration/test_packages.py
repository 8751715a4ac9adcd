"""Import, Validate and Deploy Package through real HTTP on a real server, on SQLite and PostgreSQL:
a package that creates two related objects and loads records into them, from import to a deep copy
of a deployed record; blocked packages; every bad package refused with nothing kept; a deploy that
fails part-way without a half-applied step; and a server killed in the middle of a deploy."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from vaultjobs.packages import ComponentStep, DataStep, Dependency, Manifest, Package, write_vpk
from vaultjobs.testing import LiveServer, V
from vaultjobs.testing import all_records as records
from vaultjobs.testing import failed_with as fails
from vaultjobs.testing import succeeded as ok

FINISHED = ("SUCCESS", "ERRORS_ENCOUNTERED")
_names = iter(range(10**6))

PRODUCT_MDL = """RECREATE Object {p}_product__c (
   label('Packaged Product'), label_plural('Packaged Products'),
   Field code__c (label('Code'), type('String'), required(true), unique(true), max_length(40))
);"""
BATCH_MDL = """RECREATE Object {p}_batch__c (
   label('Packaged Batch'), label_plural('Packaged Batches'),
   Field product__c (label('Product'), type('Object'), object('{p}_product__c'), relationship_type('parent'),
      relationship_deletion('cascade'), required(true)),
   Field lot__c (label('Lot'), type('String'), max_length(40))
);"""


def component(number: str, name: str, text: str, *deps: Dependency) -> ComponentStep:
    return ComponentStep(number=number, component_type="Object", component_name=name, text=text, dependencies=deps)


def data(number: str, object_name: str, rows: list[list[str]], **kwargs: Any) -> DataStep:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return DataStep(number=number, label=f"DSET-{number}-{object_name}", object_name=object_name,
                    csv=out.getvalue().encode(), **kwargs)


def needs(source: str, target: str, *, blocking: bool = True, in_package: bool = True) -> Dependency:
    return Dependency(in_package=in_package, blocking_type="block__sys" if blocking else "ignore__sys",
                      source_label=source, source_name=source, source_type="Object", target_label=target,
                      target_name=target, target_type="Object")


def related_package(p: str, products: int = 3, batches_each: int = 2) -> Package:
    """Two related objects named after ``p`` and records in both (batches name their product)."""
    return Package(manifest=Manifest(name=f"PKG-{p}", author="admin@vaultjobs", source_vault="4242",
                                     summary="Products and batches"), steps=(
        component("00010", f"{p}_product__c", PRODUCT_MDL.format(p=p)),
        component("00020", f"{p}_batch__c", BATCH_MDL.format(p=p), needs(f"{p}_batch__c", f"{p}_product__c")),
        data("00030", f"{p}_product__c", [["name__v", "code__c"]]
             + [[f"Product {i}", f"{p}-{i}"] for i in range(products)]),
        data("00040", f"{p}_batch__c", [["name__v", "product__cr.name__v", "lot__c"]]
             + [[f"Batch {i}.{b}", f"Product {i}", f"L{b}"] for i in range(products) for b in range(batches_each)]),
    ))


def prefix() -> str:
    return f"pk{next(_names)}"


def eight_loads(p: str) -> Package:
    """An object, then eight data steps of 2,500 of its records each: a deploy long enough to kill."""
    steps: list[ComponentStep | DataStep] = [component("00010", f"{p}_product__c", PRODUCT_MDL.format(p=p))]
    for n in range(8):
        steps.append(data(f"{n + 2:03d}00", f"{p}_product__c", [["name__v", "code__c"]]
                          + [[f"P{n}.{i}", f"{n}-{i}"] for i in range(2500)]))
    return Package(manifest=Manifest(name=f"PKG-{p}"), steps=tuple(steps))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    vaultjobs_new_database: Callable[[], str],
    content_server: Callable[..., AbstractContextManager[LiveServer]],
) -> Iterator[LiveServer]:
    with content_server(tmp_path_factory.mktemp("packages"), vaultjobs_new_database(), status_window=0.1) as srv:
        yield srv


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers={"Authorization": server.login()}) as client:
        yield client


def upload(client: httpx.Client, path: str, vpk: bytes, method: str = "PUT") -> httpx.Response:
    return client.request(method, path, files={"file": ("package.vpk", vpk, "application/zip")})


def finish(server: LiveServer, client: httpx.Client, job_id: int, timeout: float = 120) -> dict[str, Any]:
    return server.wait_for_status(str(client.headers["Authorization"]), job_id, lambda s: s in FINISHED,
                                  timeout=timeout)


def import_package(server: LiveServer, client: httpx.Client, vpk: bytes) -> tuple[str, dict[str, Any]]:
    """Import ``vpk``; its package id (from the job's ``artifacts`` link) and the import results."""
    started = ok(upload(client, f"/api/{V}/services/package", vpk))
    assert isinstance(started["job_id"], int) and started["url"] == f"/api/{V}/services/jobs/{started['job_id']}"
    status = finish(server, client, started["job_id"])
    assert status["status"] == "SUCCESS", client.get(f"/api/{V}/services/jobs/{started['job_id']}/log").text
    links = status["links"]
    assert links[0]["rel"] == "self" and links[1]["rel"] == "artifacts", links
    href = links[1]["href"]
    assert href.startswith(f"/api/{V}/vobject/vault_package__v/") and href.endswith("/actions/import/results")
    package_id = href.split("/")[5]
    return package_id, ok(client.get(href))["vaultPackage"]


def deploy(server: LiveServer, client: httpx.Client, package_id: str, timeout: float = 120) -> dict[str, Any]:
    started = ok(client.post(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}))
    return finish(server, client, started["job_id"], timeout)


def deploy_results(client: httpx.Client, package_id: str) -> dict[str, Any]:
    return ok(client.get(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy/results"))


def download(client: httpx.Client, url: str) -> httpx.Response:
    response = client.get(url)
    assert response.status_code == 200 and response.headers.get("x-vaultapi-status") != "FAILURE", response.text
    return response


def package_count(client: httpx.Client) -> int:
    return len(records(client, "vault_package__v", "id"))


def test_import_validate_deploy_then_deep_copy_a_deployed_record(server: LiveServer, admin: httpx.Client) -> None:
    p = prefix()
    vpk = write_vpk(related_package(p))
    package_id, imported = import_package(server, admin, vpk)
    assert imported["id"] == package_id and imported["name"] == f"PKG-{p}"
    assert imported["package_status"] == "verified__v"
    assert [s["name__v"] for s in imported["package_steps"]] == ["00010", "00020", "00030", "00040"]
    assert [s["step_type__v"] for s in imported["package_steps"]] == ["Component", "Component", "Data", "Data"]
    first = imported["package_steps"][0]
    assert first["step_name__v"] == f"{p}_product__c" and first["type__v"] == "Object"
    assert first["package_components"][0]["component_name__v"] == f"{p}_product__c"
    data_step = imported["package_steps"][3]["package_data"][0]
    assert data_step["object__v"] == f"{p}_batch__c" and data_step["record_count__sys"] == "6"
    assert imported["log"][0]["filename"].endswith("Validation.log")
    assert "Verified" in download(admin, imported["log"][0]["url"]).text

    # Validate (the file: no record) and Validate Inbound (the record), with labels.
    before = package_count(admin)
    checked = ok(upload(admin, f"/api/{V}/services/package/actions/validate", vpk, "POST"))["responseDetails"]
    assert checked["package_id"] == "N/A" and checked["package_status"] == "Verified"
    assert checked["package_name"] == f"PKG-{p}-1" and checked["total_steps"] == 4 and checked["author"]
    assert checked["package_steps"][0]["deployment_action"] == "Add (missing in Vault)"
    assert checked["package_steps"][1]["dependencies"][0]["status"] == "In Package"
    assert package_count(admin) == before
    inbound = ok(admin.post(f"/api/{V}/services/vobject/vault_package__v/{package_id}/actions/validate"))
    assert inbound["responseDetails"]["package_id"] == package_id
    assert all(s["deployment_status__v"] == "Verified" for s in inbound["responseDetails"]["package_steps"])
    assert deploy_results(admin, package_id)["responseDetails"]["deployed"] == 0

    status = deploy(server, admin, package_id)
    assert status["status"] == "SUCCESS", admin.get(f"/api/{V}/services/jobs/{status['id']}/log").text
    assert status["links"][1]["href"] == f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy/results"
    results = deploy_results(admin, package_id)
    details = results["responseDetails"]
    assert {k: details[k] for k in ("total_steps", "deployed", "deployed_with_warnings", "deployed_with_failures",
                                    "deployed_with_error", "failed", "skipped")} == {
        "total_steps": 4, "deployed": 4, "deployed_with_warnings": 0, "deployed_with_failures": 0,
        "deployed_with_error": 0, "failed": 0, "skipped": 0}
    assert details["package_status__v"] == "deployed__v"
    logs = details["deployment_log"]
    assert [entry["filename"] for entry in logs] == [f"PKG-{p}-Validation.log", f"PKG-{p}-Deployment.log"]
    assert "Deployed" in download(admin, logs[1]["url"]).text
    archive = zipfile.ZipFile(io.BytesIO(download(admin, details["data_deployment_log"][-1]["url"]).content))
    success = next(n for n in archive.namelist() if n.endswith("_success.csv"))
    assert len(list(csv.DictReader(io.StringIO(archive.read(success).decode())))) == 6
    assert [s["deployment_status__v"] for s in results["package_steps"]] == ["deployed__v"] * 4

    # What the deploy made is there: metadata, records, relationships; and it deep-copies.
    metadata = ok(admin.get(f"/api/{V}/metadata/vobjects/{p}_batch__c"))["object"]
    assert any(f["name"] == "product__c" for f in metadata["fields"])
    products = {r["name__v"]: r["id"] for r in records(admin, f"{p}_product__c", "id,name__v")}
    batches = records(admin, f"{p}_batch__c", "id,product__c")
    assert len(products) == 3 and len(batches) == 6
    assert sum(1 for b in batches if b["product__c"] == products["Product 0"]) == 2
    copy = ok(admin.post(f"/api/{V}/vobjects/{p}_product__c/{products['Product 0']}/actions/deepcopy",
                         json={"code__c": f"{p}-copy"}))
    assert finish(server, admin, copy["job_id"])["status"] == "SUCCESS"
    assert len(records(admin, f"{p}_batch__c", "id")) == 8

    # Deployed: nothing left to deploy. Imported again: the name takes a suffix.
    assert "cannot be deployed" in fails(
        admin.post(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy"), "OPERATION_NOT_ALLOWED")
    _, again = import_package(server, admin, vpk)
    assert again["name"] == f"PKG-{p}-1"
    steps = {s["name__v"]: s for s in again["package_steps"]}
    assert steps["00010"]["deployment_status__v"] == "verified__v"


def test_a_raw_body_import_and_the_mdl_of_a_component(server: LiveServer, admin: httpx.Client) -> None:
    p = prefix()
    vpk = write_vpk(related_package(p))
    started = ok(admin.put(f"/api/{V}/services/package", content=vpk,
                           headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert finish(server, admin, started["job_id"])["status"] == "SUCCESS"
    text = admin.get("/api/mdl/components/Object.vault_package__v").text
    assert text.startswith("RECREATE Object vault_package__v")
    fails(admin.get("/api/mdl/components/Object.nothing__c"), "INVALID_DATA")


def test_a_blocked_package_imports_blocked_and_cannot_deploy(server: LiveServer, admin: httpx.Client) -> None:
    p = prefix()
    package = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        component("00010", f"{p}_product__c", PRODUCT_MDL.format(p=p).replace(
                      "max_length(40))", "max_length(40)),\n   Field thing__c (label('Thing'), type('Object'), "
                      "object('missing_thing__c'))"),
                  needs(f"{p}_product__c", "missing_thing__c", in_package=False),
                  needs(f"{p}_product__c", "optional_thing__c", in_package=False, blocking=False)),
        # Loads the blocked step's object: blocked with it, not a bad package.
        data("00020", f"{p}_product__c", [["name__v", "code__c"], ["One", "c1"]]),
    ))
    vpk = write_vpk(package)
    checked = ok(upload(admin, f"/api/{V}/services/package/actions/validate", vpk, "POST"))["responseDetails"]
    assert checked["package_status"] == "Blocked" and checked["total_steps_blocked"] == 2
    assert [s["deployment_status__v"] for s in checked["package_steps"]] == ["Blocked", "Blocked"]
    assert [d["status"] for d in checked["package_steps"][0]["dependencies"]] == ["Missing - Block",
                                                                                  "Missing - Ignore"]
    package_id, imported = import_package(server, admin, vpk)
    assert imported["package_status"] == "blocked__v"
    assert imported["package_steps"][0]["deployment_status__v"] == "blocked__v"
    assert "missing_thing__c" in download(admin, imported["log"][0]["url"]).text
    fails(admin.post(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy"), "OPERATION_NOT_ALLOWED")
    fails(admin.get(f"/api/{V}/metadata/vobjects/{p}_product__c"), "INVALID_DATA")


def _tampered(vpk: bytes, name: str, body: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(vpk)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, body if info.filename == name else source.read(info))
    return out.getvalue()


def _without(vpk: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(vpk)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info.filename, source.read(info))
    return out.getvalue()


def test_bad_packages_are_refused_and_change_nothing(server: LiveServer, admin: httpx.Client) -> None:
    p = prefix()
    good = write_vpk(related_package(p))
    unknown = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        component("00010", f"{p}_nowhere_batch__c", BATCH_MDL.format(p=f"{p}_nowhere")),))
    bad_columns = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        component("00010", f"{p}_product__c", PRODUCT_MDL.format(p=p)),
        data("00020", f"{p}_product__c", [["name__v", "colour__c"], ["A", "red"]]),))
    unknown_object = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        data("00010", "nothing_here__c", [["name__v"], ["A"]]),))
    wrong_component = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        component("00010", f"{p}_other__c", PRODUCT_MDL.format(p=p)),))
    cases = {
        "not a ZIP": (b"this is not a zip file", "not a ZIP"),
        "no manifest": (_without(good, "vaultpackage.xml"), "vaultpackage.xml"),
        "md5 mismatch": (_tampered(good, f"components/00010/Object.{p}_product__c.mdl",
                                   PRODUCT_MDL.format(p=p).replace("Code", "Kode").encode()), "md5"),
        "unknown component": (write_vpk(unknown), f"{p}_nowhere_product__c"),
        "columns": (write_vpk(bad_columns), "colour__c"),
        "unknown object": (write_vpk(unknown_object), "nothing_here__c"),
        "another component": (write_vpk(wrong_component), "not the step's component"),
        "syntax": (write_vpk(Package(manifest=Manifest(name="X"), steps=(
            component("00010", f"{p}_s__c", f"RECREATE Object {p}_s__c (label('S')"),))), "line 1"),
    }
    before = package_count(admin)
    for case, (vpk, expected) in cases.items():
        for path, method in ((f"/api/{V}/services/package", "PUT"),
                             (f"/api/{V}/services/package/actions/validate", "POST")):
            message = fails(upload(admin, path, vpk, method), "INVALID_DATA")
            assert expected in message, (case, message)
    fails(admin.put(f"/api/{V}/services/package", files={"other": ("x", b"y")}), "INVALID_DATA")
    fails(admin.put(f"/api/{V}/services/package", content=b""), "PARAMETER_REQUIRED")
    assert package_count(admin) == before
    fails(admin.get(f"/api/{V}/metadata/vobjects/{p}_product__c"), "INVALID_DATA")
    for path in (f"/api/{V}/vobject/vault_package__v/0PI999999999999/actions/import/results",
                 f"/api/{V}/vobject/vault_package__v/nonsense/actions/deploy/results"):
        fails(admin.get(path), "INVALID_DATA")


def test_users_cannot_touch_packages(server: LiveServer) -> None:
    with server.client(headers={"Authorization": server.login("alice", "alice-password")}) as alice:
        vpk = write_vpk(related_package(prefix()))
        fails(upload(alice, f"/api/{V}/services/package", vpk), "INSUFFICIENT_ACCESS")
        fails(upload(alice, f"/api/{V}/services/package/actions/validate", vpk, "POST"), "INSUFFICIENT_ACCESS")


def test_a_failing_deploy_reports_each_step_and_leaves_no_half_applied_step(
    server: LiveServer, admin: httpx.Client
) -> None:
    p = prefix()
    target = f"{p}_target__c"
    half = f"""RECREATE Object {p}_half__c (label('Half'), label_plural('Halves'),
   Field a__c (label('A'), type('String')));
ALTER Object {p}_half__c (ADD Field target__c (label('Target'), type('Object'), object('{target}')));"""
    package = Package(manifest=Manifest(name=f"PKG-{p}"), steps=(
        component("00010", f"{p}_product__c", PRODUCT_MDL.format(p=p)),
        data("00020", f"{p}_product__c", [["name__v", "code__c"], ["One", "c1"], ["No code", ""], ["Two", "c2"],
                                          ["Again", "c1"]]),
        component("00030", f"{p}_half__c", half),
        ComponentStep(number="00040", component_type="Docfield", component_name=f"{p}_field__c",
                      text=f"RECREATE Docfield {p}_field__c (label('F'));"),
        data("00050", f"{p}_product__c", [["name__v", "code__c"], ["Three", "c3"]]),
    ))
    ok(admin.post("/api/mdl/execute", content=f"RECREATE Object {target} (label('T'), label_plural('Ts'));"))
    package_id, imported = import_package(server, admin, write_vpk(package))
    assert [s["deployment_status__v"] for s in imported["package_steps"]] == [
        "verified__v", "verified__v", "verified__v", "not_supported__v", "verified__v"]
    ok(admin.post("/api/mdl/execute", content=f"DROP Object {target};"))  # step 00030 can no longer apply

    status = deploy(server, admin, package_id)
    assert status["status"] == "ERRORS_ENCOUNTERED"
    results = deploy_results(admin, package_id)
    steps = {s["name__v"]: s for s in results["package_steps"]}
    assert [steps[n]["deployment_status__v"] for n in sorted(steps)] == [
        "deployed__v", "deployed_with_failures__v", "error__v", "skipped__v", "skipped__v"]
    assert "statement 2" in steps["00030"]["deployment_message__v"]
    details = results["responseDetails"]
    counters = (details["deployed"], details["deployed_with_failures"], details["failed"], details["skipped"])
    assert counters == (1, 1, 1, 2)
    assert details["package_status__v"] == "deployed_with_error__v"
    fails(admin.get(f"/api/{V}/metadata/vobjects/{p}_half__c"), "INVALID_DATA")  # nothing of step 00030
    assert sorted(r["name__v"] for r in records(admin, f"{p}_product__c", "name__v")) == ["One", "Two"]
    archive = zipfile.ZipFile(io.BytesIO(download(admin, details["data_deployment_log"][-1]["url"]).content))
    failure = next(n for n in archive.namelist() if n.endswith("_failure.csv"))
    failed_rows = list(csv.DictReader(io.StringIO(archive.read(failure).decode())))
    assert [r["line number"] for r in failed_rows] == ["3", "5"]
    assert failed_rows[0]["errors"].startswith("PARAMETER_REQUIRED")
    log = download(admin, details["deployment_log"][1]["url"]).text
    assert f"Step 00030 Object.{p}_half__c: Error - statement 2" in log
    assert f"Step 00040 Docfield.{p}_field__c: Skipped - an earlier step failed" in log

    # Fixed vault, deployed again: the deployed steps are skipped, the rest run; Docfield still fails.
    ok(admin.post("/api/mdl/execute", content=f"RECREATE Object {target} (label('T'), label_plural('Ts'));"))
    again = deploy(server, admin, package_id)
    assert again["status"] == "ERRORS_ENCOUNTERED"
    steps = {s["name__v"]: s for s in deploy_results(admin, package_id)["package_steps"]}
    assert steps["00030"]["deployment_status__v"] == "deployed__v"
    assert steps["00040"]["deployment_status__v"] == "error__v"
    assert "Docfield" in steps["00040"]["deployment_message__v"]
    assert "not supported" in steps["00040"]["deployment_message__v"]
    assert len(records(admin, f"{p}_product__c", "id")) == 2  # step 00020 not loaded twice


def test_a_server_killed_mid_deploy_ends_as_its_results_say(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    srv = LiveServer(tmp_path / "killed", database_url=vaultjobs_new_database(), status_window=0.1, workers=1,
                     heartbeat_interval=0.3, heartbeat_timeout=1.5, shutdown_grace=0.2)
    srv.start()
    p = prefix()
    try:
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            package_id, _ = import_package(srv, admin, write_vpk(eight_loads(p)))
            started = ok(admin.post(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy"))
            deadline = time.monotonic() + 120
            deployed = 0
            while time.monotonic() < deadline:
                deployed = deploy_results(admin, package_id)["responseDetails"]["deployed"]
                if deployed >= 2:
                    break
                time.sleep(0.02)
        srv.kill()
        assert 2 <= deployed < 9, deployed  # killed in the middle
        srv.start()
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            # What the results say is what the store holds: whole steps only, each counted.
            before = deploy_results(admin, package_id)["responseDetails"]["deployed"]
            loaded = len(records(admin, f"{p}_product__c", "id"))
            after = deploy_results(admin, package_id)["responseDetails"]["deployed"]
            assert loaded % 2500 == 0 and 2500 * (before - 1) <= loaded <= 2500 * (after - 1), (before, loaded, after)
            status = srv.wait_for_status(str(admin.headers["Authorization"]), started["job_id"],
                                         lambda s: s in FINISHED, timeout=180)
            assert status["status"] == "SUCCESS", admin.get(f"/api/{V}/services/jobs/{started['job_id']}/log").text
            details = deploy_results(admin, package_id)["responseDetails"]
            assert details["deployed"] == 9 and details["package_status__v"] == "deployed__v"
            assert len(records(admin, f"{p}_product__c", "id")) == 8 * 2500
    finally:
        srv.stop()


def test_a_worker_process_killed_mid_deploy_leaves_results_that_say_what_is_there(
    tmp_path: Path, vaultjobs_new_database: Callable[[], str]
) -> None:
    """The API server runs no workers; a ``vaultjobs worker`` deploys and is killed with SIGKILL in the
    middle. Until another worker takes over, the deploy results describe exactly the steps whose
    records are in the store; the second worker finishes the deploy without loading a step twice."""
    srv = LiveServer(tmp_path / "workers", database_url=vaultjobs_new_database(), status_window=0.1, workers=0,
                     heartbeat_interval=0.3, heartbeat_timeout=1.5)
    srv.start()
    p = prefix()
    first = second = None
    try:
        with srv.client(headers={"Authorization": srv.login()}) as admin:
            started_import = ok(upload(admin, f"/api/{V}/services/package", write_vpk(eight_loads(p))))
            first = srv.start_worker("--workers", "2")
            status = finish(srv, admin, started_import["job_id"])
            package_id = status["links"][1]["href"].split("/")[5]
            started = ok(admin.post(f"/api/{V}/vobject/vault_package__v/{package_id}/actions/deploy"))
            deadline = time.monotonic() + 120
            deployed = 0
            while time.monotonic() < deadline and deployed < 2:
                deployed = deploy_results(admin, package_id)["responseDetails"]["deployed"]
                time.sleep(0.02)
            first.kill()
            first.wait(10)
            details = deploy_results(admin, package_id)["responseDetails"]
            assert 2 <= details["deployed"] < 9, details  # killed in the middle
            assert len(records(admin, f"{p}_product__c", "id")) == 2500 * (details["deployed"] - 1)
            second = srv.start_worker("--workers", "2")
            status = srv.wait_for_status(str(admin.headers["Authorization"]), started["job_id"],
                                         lambda s: s in FINISHED, timeout=180)
            assert status["status"] == "SUCCESS", admin.get(f"/api/{V}/services/jobs/{started['job_id']}/log").text
            details = deploy_results(admin, package_id)["responseDetails"]
            assert details["deployed"] == 9 and details["package_status__v"] == "deployed__v"
            assert len(records(admin, f"{p}_product__c", "id")) == 8 * 2500
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
        srv.stop()
