"""``client.packages`` over `FakeVault` with package endpoints in front (`FakePackages`), on
`VaultClient` and `AsyncVaultClient` alike: request shapes (multipart ``file``, paths, methods), typed
results, the package id from a job's ``artifacts`` link, logs, MDL components and export."""

from __future__ import annotations

import csv
import email.parser
import email.policy
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from vaultjobs.client import (
    DEFAULT_API_VERSION,
    DeployResults,
    HTTPStatusError,
    ImportResults,
    InvalidRequest,
    Job,
    OperationNotAllowed,
    UnexpectedResponse,
    VaultClient,
    package_id_from,
)
from vaultjobs.client.testing import FakeVault
from vaultjobs.packages import (
    ComponentStep,
    DataStep,
    Manifest,
    Package,
    PackageFormatError,
    read_vpk,
    write_vpk,
)

URL = "https://fake.vault"
MDL = {
    "Object.product__c": "RECREATE Object product__c (\n   label('Product')\n);\n",
    "Object.batch__c": "RECREATE Object batch__c (\n   label('Batch')\n);\n",
    "Picklist.color__c": "RECREATE Picklist color__c (\n   label('Color')\n);\n",
}


def _failure(error_type: str, message: str) -> dict[str, Any]:
    return {"responseStatus": "FAILURE", "errors": [{"type": error_type, "message": message}]}


def _form_file(request: httpx.Request) -> bytes | None:
    """The multipart field ``file`` of a request, or None."""
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


class FakePackages:
    """Vault's package endpoints in front of a `FakeVault`: packages are read with `read_vpk`; a step
    of object ``blocked__c`` blocks the package; deploying reports ``deploy_outcome``."""

    def __init__(self, vault: FakeVault) -> None:
        self.vault = vault
        self.packages: dict[str, Package] = {}
        self.requests: list[httpx.Request] = []
        self.deploy_outcome: dict[str, Any] = {"package_status__v": "deployed__v", "deployed": None, "failed": 0}
        #: Answers for the next package requests, whatever they are.
        self.faults: list[httpx.Response] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        mdl = re.fullmatch(r"/api/mdl/components/(.+)", path)
        match = re.fullmatch(r"/api/(v\d+\.\d+)/(.*)", path)
        package_path = match is not None and ("package" in match.group(2) or "vault_package__v" in match.group(2))
        if mdl is None and not package_path:
            return self.vault.handle(request)
        self.requests.append(request)
        if self.faults:
            return self.faults.pop(0)
        if request.headers.get("authorization") not in self.vault.sessions:
            return self._json(_failure("INVALID_SESSION_ID", "Invalid or expired session ID."))
        if mdl is not None:
            text = MDL.get(mdl.group(1))
            if text is None:
                return self._json(_failure("INVALID_DATA", f"Component [{mdl.group(1)}] not found"))
            return httpx.Response(200, text=text, headers={"Content-Type": "text/plain;charset=UTF-8"})
        assert match is not None
        version, rest = match.groups()
        if log := re.fullmatch(r"vobjects/vault_package__v/([^/]+)/attachments/(\d+)/versions/1/file", rest):
            return httpx.Response(200, text=f"log {log.group(2)} of {log.group(1)}\n",
                                  headers={"Content-Type": "text/plain"})
        return self._json(self._route(request, version, rest))

    @staticmethod
    def _json(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, content=orjson.dumps(body), headers={"Content-Type": "application/json"})

    def _read(self, request: httpx.Request) -> Package | dict[str, Any]:
        data = _form_file(request)
        if data is None:
            return _failure("PARAMETER_REQUIRED", "Missing required parameter [file]")
        try:
            return read_vpk(data)
        except PackageFormatError as exc:
            return _failure("INVALID_DATA", str(exc))

    def _blocked(self, package: Package) -> bool:
        return any(isinstance(s, ComponentStep) and s.component_name == "blocked__c" for s in package.steps)

    def _steps(self, package: Package, *, labels: bool) -> list[dict[str, Any]]:
        steps = []
        for step in package.steps:
            blocked = isinstance(step, ComponentStep) and step.component_name == "blocked__c"
            status = ("Blocked" if blocked else "Verified") if labels else ("blocked__v" if blocked else "verified__v")
            entry: dict[str, Any] = {
                "name__v": step.number, "step_type__v": step.step_type, "step_label__v": step.label,
                "step_name__v": step.component_name if isinstance(step, ComponentStep) else step.object_name,
                "type__v": step.component_type if isinstance(step, ComponentStep) else "Object",
                "deployment_status__v": status, "surprise_key": 1,
            }
            if labels:
                entry["deployment_action"] = "Add (missing in Vault)"
                entry["dependencies"] = [{"component_name": "missing__c", "component_type": "Object",
                                          "subcomponent_name": "", "subcomponent_type": "",
                                          "status": "Missing - Block" if blocked else "In Target"}]
            else:
                entry["id"] = f"0IS{step.number}"
            steps.append(entry)
        return steps

    def _log(self, version: str, package_id: str, attachment: int, filename: str) -> dict[str, str]:
        return {"filename": filename, "created_date__v": "2026-01-05 10:00:09.000",
                "url": f"{URL}/api/{version}/vobjects/vault_package__v/{package_id}/attachments/{attachment}"
                       "/versions/1/file"}

    def _validation(self, package: Package, package_id: str) -> dict[str, Any]:
        blocked = self._blocked(package)
        return {"summary": package.manifest.summary, "author": package.manifest.author,
                "package_name": package.manifest.name, "package_id": package_id,
                "source_vault": package.manifest.source_vault, "package_status": "Blocked" if blocked else "Verified",
                "total_steps": len(package.steps), "total_steps_blocked": int(blocked),
                "start_time": "01:05:2026 10:00:00", "end_time": "01:05:2026 10:00:01", "package_error": "",
                "package_steps": self._steps(package, labels=True)}

    def _route(self, request: httpx.Request, version: str, rest: str) -> dict[str, Any]:
        ok = {"responseStatus": "SUCCESS"}
        if rest == "services/package" and request.method == "PUT":
            package = self._read(request)
            if not isinstance(package, Package):
                return package
            package_id = f"0PI{len(self.packages) + 1:012d}"
            self.packages[package_id] = package
            href = f"/api/{version}/vobject/vault_package__v/{package_id}/actions/import/results"
            job_id = self.vault.add_job(["RUNNING", "SUCCESS"], links=[{"rel": "artifacts", "href": href}])
            return {**ok, "url": f"/api/{version}/services/jobs/{job_id}", "job_id": job_id}
        if rest == "services/package/actions/validate" and request.method == "POST":
            package = self._read(request)
            if not isinstance(package, Package):
                return package
            return {**ok, "responseDetails": self._validation(package, "N/A")}
        found = re.fullmatch(r"(?:services/)?vobject/vault_package__v/([^/]+)/actions/(.+)", rest)
        if found is None or found.group(1) not in self.packages:
            return _failure("INVALID_DATA", f"unknown package path {rest}")
        package_id, action = found.groups()
        package = self.packages[package_id]
        if action == "import/results" and request.method == "GET" and not rest.startswith("services/"):
            return {**ok, "vaultPackage": {
                "id": package_id, "name": package.manifest.name, "status": "active__v",
                "package_status": "blocked__v" if self._blocked(package) else "verified__v",
                "log": [self._log(version, package_id, 1, f"{package.manifest.name}-Validation.log")],
                "package_steps": self._steps(package, labels=False), "package_code": []}}
        if action == "validate" and request.method == "POST" and rest.startswith("services/"):
            details = self._validation(package, package_id)
            details["total_component_steps_blocked"] = details.pop("total_steps_blocked")
            return {**ok, "responseDetails": details}
        if action == "deploy" and request.method == "POST":
            if self._blocked(package):
                return _failure("OPERATION_NOT_ALLOWED", "The package is blocked")
            href = f"/api/{version}/vobject/vault_package__v/{package_id}/actions/deploy/results"
            job_id = self.vault.add_job(["QUEUED", "RUNNING", "SUCCESS"], links=[{"rel": "artifacts", "href": href}])
            return {**ok, "url": f"/api/{version}/services/jobs/{job_id}", "job_id": job_id}
        if action == "deploy/results" and request.method == "GET":
            outcome = self.deploy_outcome
            total = len(package.steps)
            details = {"total_steps": total, "deployed": outcome["deployed"] if outcome["deployed"] is not None
                       else total - outcome["failed"], "deployed_with_warnings": 0, "deployed_with_failures": 0,
                       "deployed_with_error": 0, "failed": outcome["failed"], "skipped": 0,
                       "package_status__v": outcome["package_status__v"],
                       "deployment_log": [self._log(version, package_id, 1, "P-Validation.log"),
                                          self._log(version, package_id, 2, "P-Deployment.log")]}
            steps = self._steps(package, labels=False)
            for step in steps:
                step["deployment_status__v"] = "deployed__v"
            return {**ok, "responseDetails": details, "package_steps": steps}
        return _failure("MALFORMED_URL", f"unknown path {rest}")


@pytest.fixture
def fake(vault: FakeVault) -> FakePackages:
    return FakePackages(vault)


@pytest.fixture
def client(make_client: Callable[..., VaultClient], fake: FakePackages) -> VaultClient:
    return make_client(transport=fake.transport())


@pytest.fixture
def packages(client: Any) -> Any:
    """``client.packages``; for the async client, wrapped as conftest wraps ``client.objects``."""
    wrapped = getattr(client, "wrapped", None)
    if wrapped is None:
        return client.packages
    return type(client)(wrapped.packages, client._runner)


def sample(*objects: str, name: str = "PKG-0001") -> Package:
    steps: list[ComponentStep | DataStep] = [
        ComponentStep(number=f"{(i + 1) * 10:05d}", component_type="Object", component_name=o,
                      text=f"RECREATE Object {o} (label('{o}'));\n")
        for i, o in enumerate(objects or ("product__c",))
    ]
    steps.append(DataStep(number=f"{(len(steps) + 1) * 10:05d}", label="products", object_name="product__c",
                          csv=b"name__v\nA\nB\n"))
    return Package(manifest=Manifest(name=name, author="me", summary="Sample"), steps=tuple(steps))


def imported(client: VaultClient, packages: Any, package: Package) -> tuple[Job, ImportResults]:
    started = packages.import_package(package)
    job = client.wait(started.job_id, timeout=120)
    return job, packages.import_results(packages.package_id(job))


# -- import --------------------------------------------------------------------------------------------


def test_import_sends_the_file_as_multipart_and_finds_the_package(
    client: VaultClient, packages: Any, fake: FakePackages, tmp_path: Path
) -> None:
    path = tmp_path / "export.vpk"
    path.write_bytes(write_vpk(sample()))
    started = packages.import_package(path)
    [put] = [r for r in fake.requests if r.method == "PUT"]
    assert put.url.path == f"/api/{DEFAULT_API_VERSION}/services/package"
    assert put.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="export.vpk"' in put.content
    assert read_vpk(_form_file(put) or b"") == sample()

    job = client.wait(started.job_id, timeout=120)
    assert package_id_from(job) == packages.package_id(job) == "0PI000000000001"
    results = packages.import_results("0PI000000000001")
    assert (results.package_id, results.name, results.package_status, results.blocked) == (
        "0PI000000000001", "PKG-0001", "verified__v", False)
    assert [(s.name, s.step_type, s.step_name, s.status) for s in results.steps] == [
        ("00010", "Component", "product__c", "verified__v"), ("00020", "Data", "product__c", "verified__v")]
    assert results.steps[0].raw["surprise_key"] == 1  # keys Vault adds are kept, not refused
    assert results.validation_log is not None and results.validation_log.filename == "PKG-0001-Validation.log"
    assert results.validation_log.created_date == "2026-01-05 10:00:09.000"


def test_import_of_bytes_and_of_a_blocked_package(client: VaultClient, packages: Any) -> None:
    _, results = imported(client, packages, sample("product__c", "blocked__c"))
    assert results.blocked and results.package_status == "blocked__v"
    assert [s.status for s in results.steps] == ["verified__v", "blocked__v", "verified__v"]
    started = packages.import_package(write_vpk(sample(name="PKG-BYTES")))
    job = client.wait(started.job_id, timeout=120)
    assert packages.import_results(packages.package_id(job)).name == "PKG-BYTES"


def test_import_of_a_bad_file_raises_the_vault_error(packages: Any, fake: FakePackages) -> None:
    with pytest.raises(InvalidRequest, match="not a ZIP archive") as caught:
        packages.import_package(b"not a package")
    assert caught.value.type == "INVALID_DATA"
    assert not fake.packages


def test_package_id_needs_an_artifacts_link() -> None:
    job = Job.from_payload({"id": 5, "status": "SUCCESS", "links": [{"rel": "self", "href": "/api/v25.2/x"}]})
    with pytest.raises(ValueError, match="no package artifacts link"):
        package_id_from(job)
    deploy = Job.from_payload({"id": 6, "status": "SUCCESS", "links": [
        {"rel": "self", "href": "/x"},
        {"rel": "artifacts", "href": "/api/v25.2/vobject/vault_package__v/0PI01/actions/deploy/results"}]})
    assert package_id_from(deploy) == "0PI01"


# -- validate ------------------------------------------------------------------------------------------


def test_validate_a_file_and_an_inbound_package(client: VaultClient, packages: Any, fake: FakePackages) -> None:
    checked = packages.validate(sample("product__c", "blocked__c"))
    [post] = [r for r in fake.requests if r.url.path.endswith("/services/package/actions/validate")]
    assert post.method == "POST" and _form_file(post) is not None
    assert (checked.package_id, checked.package_name, checked.package_status) == (None, "PKG-0001", "Blocked")
    assert checked.blocked and (checked.total_steps, checked.total_steps_blocked) == (3, 1)
    blocked_step = checked.steps[1]
    assert (blocked_step.status, blocked_step.deployment_action) == ("Blocked", "Add (missing in Vault)")
    assert [(d.component_name, d.status) for d in blocked_step.dependencies] == [("missing__c", "Missing - Block")]

    _, results = imported(client, packages, sample())
    inbound = packages.validate_inbound(results.package_id)
    assert fake.requests[-1].url.path == (
        f"/api/{DEFAULT_API_VERSION}/services/vobject/vault_package__v/{results.package_id}/actions/validate")
    assert fake.requests[-1].content == b""
    assert (inbound.package_id, inbound.package_status, inbound.blocked) == (results.package_id, "Verified", False)
    assert inbound.total_steps_blocked == 0 and inbound.start_time == "01:05:2026 10:00:00"


def test_validate_refuses_bad_ids_before_sending(packages: Any, fake: FakePackages) -> None:
    for bad in ("", "a/b"):
        with pytest.raises(ValueError, match="not a package id"):
            packages.validate_inbound(bad)
    assert not fake.requests


# -- deploy --------------------------------------------------------------------------------------------


def test_deploy_and_its_results(client: VaultClient, packages: Any, fake: FakePackages) -> None:
    _, results = imported(client, packages, sample())
    started = packages.deploy(results.package_id)
    deploy_request = fake.requests[-1]
    assert (deploy_request.method, deploy_request.url.path) == (
        "POST", f"/api/{DEFAULT_API_VERSION}/vobject/vault_package__v/{results.package_id}/actions/deploy")
    job = client.wait(started.job_id, timeout=120)
    assert packages.package_id(job) == results.package_id
    deployed = packages.deploy_results(results.package_id)
    assert isinstance(deployed, DeployResults) and deployed.ok
    assert (deployed.total_steps, deployed.deployed, deployed.failed, deployed.package_status) == (
        2, 2, 0, "deployed__v")
    assert [log.filename for log in deployed.deployment_log] == ["P-Validation.log", "P-Deployment.log"]
    assert deployed.deployment_log_file is deployed.deployment_log[1]
    assert [s.status for s in deployed.steps] == ["deployed__v", "deployed__v"]  # read beside responseDetails


def test_deploy_results_with_a_failed_step_are_not_ok(client: VaultClient, packages: Any,
                                                      fake: FakePackages) -> None:
    _, results = imported(client, packages, sample())
    fake.deploy_outcome = {"package_status__v": "error__v", "deployed": None, "failed": 1}
    assert not packages.deploy_results(results.package_id).ok
    fake.deploy_outcome = {"package_status__v": "deployed_with_warning__v", "deployed": 2, "failed": 0}
    assert packages.deploy_results(results.package_id).ok


def test_deploy_of_a_blocked_package_raises(client: VaultClient, packages: Any) -> None:
    _, results = imported(client, packages, sample("blocked__c"))
    with pytest.raises(OperationNotAllowed, match="blocked"):
        packages.deploy(results.package_id)


def test_results_of_an_unexpected_shape_raise(packages: Any, fake: FakePackages) -> None:
    fake.faults.append(httpx.Response(200, json={"responseStatus": "SUCCESS"}))
    with pytest.raises(UnexpectedResponse, match="vaultPackage"):
        packages.import_results("0PI1")


# -- files ---------------------------------------------------------------------------------------------


def test_download_log_on_this_vault_only(client: VaultClient, packages: Any, fake: FakePackages) -> None:
    _, results = imported(client, packages, sample())
    assert results.validation_log is not None
    text = packages.download_log(results.validation_log.url)
    assert text == f"log 1 of {results.package_id}\n".encode()
    assert fake.requests[-1].headers["authorization"] in fake.vault.sessions
    path = f"/api/{DEFAULT_API_VERSION}/vobjects/vault_package__v/{results.package_id}/attachments/7/versions/1/file"
    relative = packages.download_log(path)
    assert relative.startswith(b"log 7")
    sent = len(fake.requests)
    for elsewhere in ("https://evil.example/api/v25.2/vobjects/x/attachments/1/versions/1/file",
                      "http://fake.vault/api/v25.2/x", "https://fake.vault/not-the-api"):
        with pytest.raises(ValueError):
            packages.download_log(elsewhere)
    assert len(fake.requests) == sent  # the session went nowhere


def test_download_of_an_error_envelope_raises(packages: Any, fake: FakePackages) -> None:
    fake.faults.append(httpx.Response(200, json=_failure("INVALID_DATA", "No such attachment")))
    with pytest.raises(InvalidRequest, match="No such attachment"):
        packages.download_log(f"{URL}/api/v25.2/vobjects/vault_package__v/0PI1/attachments/9/versions/1/file")
    fake.faults.append(httpx.Response(404, text="gone"))
    with pytest.raises(HTTPStatusError):
        packages.download_log(f"{URL}/api/v25.2/vobjects/vault_package__v/0PI1/attachments/9/versions/1/file")


def test_component_mdl(packages: Any, fake: FakePackages) -> None:
    assert packages.component_mdl("Object.product__c") == MDL["Object.product__c"]
    assert fake.requests[-1].url.path == "/api/mdl/components/Object.product__c"
    with pytest.raises(InvalidRequest, match=r"Component \[Object.gone__c\] not found"):
        packages.component_mdl("Object.gone__c")
    with pytest.raises(ValueError, match="Type.name"):
        packages.component_mdl("product__c")


# -- export --------------------------------------------------------------------------------------------


def _field(name: str, type_: str = "String", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": name, "required": False, "unique": False, "editable": True,
            **extra}


SYSTEM = [_field("id", "ID", editable=False, unique=True), _field("created_date__v", "DateTime", editable=False),
          _field("modified_by__v", "Number", editable=False)]


@pytest.fixture
def tree(vault: FakeVault) -> FakeVault:
    """product__c (unique code, a custom picklist) ← batch__c (parent product, a lookup by code)."""
    objects = vault.objects
    objects.definitions["product__c"] = [
        *SYSTEM, _field("name__v"), _field("code__c", unique=True),
        _field("color__c", "Picklist", picklist="Picklist.color__c"),
        _field("status__v", "Picklist", picklist="Picklist.default_status__v"), _field("secret__c", editable=False),
    ]
    objects.definitions["batch__c"] = [
        *SYSTEM, _field("name__v"), _field("made__c", "Date"), _field("ok__c", "Boolean"),
        _field("product__c", "Object", object={"name": "product__c", "label": "Product"},
               relationship_type="parent", relationship_outbound_name="product__cr"),
    ]
    objects.records["product__c"] = {
        "V0A1": {"id": "V0A1", "name__v": "Alpha", "code__c": "a", "color__c": ["red__c", "blue__c"],
                 "status__v": ["active__v"], "secret__c": "s", "created_date__v": "2026-01-01T00:00:00.000Z"},
        "V0A2": {"id": "V0A2", "name__v": "Beta, two", "code__c": "b", "color__c": None},
    }
    objects.records["batch__c"] = {
        "V0B1": {"id": "V0B1", "name__v": "B1", "made__c": "2026-01-02", "ok__c": True, "product__c": "V0A2"},
        "V0B2": {"id": "V0B2", "name__v": "B2", "ok__c": False, "product__c": None},
    }
    return vault


def test_export_orders_objects_after_what_they_reference(packages: Any, tree: FakeVault) -> None:
    package = packages.export(["batch__c", "product__c"], name="PKG-X", author="me")
    assert package.manifest.name == "PKG-X" and package.manifest.author == "me"
    assert [(s.number, s.component) for s in package.steps if isinstance(s, ComponentStep)] == [
        ("00010", "Picklist.color__c"), ("00020", "Object.product__c"), ("00030", "Object.batch__c")]
    assert all(isinstance(s, ComponentStep) for s in package.steps)  # no records unless asked
    picklist, product, batch = package.steps
    assert isinstance(product, ComponentStep) and product.text == MDL["Object.product__c"]
    assert isinstance(batch, ComponentStep)
    assert [(d.target_type, d.target_name, d.in_package, d.blocking) for d in batch.dependencies] == [
        ("Object", "product__c", True, True)]
    assert [(d.target_type, d.target_name, d.in_package) for d in product.dependencies] == [
        ("Picklist", "color__c", True)]
    assert read_vpk(write_vpk(package)) == package


def test_export_with_records_writes_lookups_and_leaves_system_fields_out(packages: Any, tree: FakeVault) -> None:
    package = packages.export(["batch__c", "product__c"], records=True, include_picklists=False)
    assert package.manifest.name == "PKG-EXPORT" and package.manifest.summary == "2 objects, 4 records"
    assert [s.number for s in package.steps] == ["00010", "00020", "00030", "00040"]
    products, batches = package.steps[2:]
    assert isinstance(products, DataStep) and isinstance(batches, DataStep)
    assert (products.object_name, products.action, batches.object_name) == ("product__c", "Create", "batch__c")
    rows = list(csv.reader(io.StringIO(products.csv.decode())))
    assert rows == [["name__v", "code__c", "color__c", "status__v"],
                    ["Alpha", "a", "red__c,blue__c", "active__v"], ["Beta, two", "b", "", ""]]
    rows = list(csv.reader(io.StringIO(batches.csv.decode())))
    assert rows == [["name__v", "made__c", "ok__c", "product__cr.code__c"],
                    ["B1", "2026-01-02", "true", "b"], ["B2", "", "false", ""]]
    product_step, _, _, _ = package.steps
    assert isinstance(product_step, ComponentStep)
    assert [(d.target_name, d.in_package) for d in product_step.dependencies] == [("color__c", False)]
    assert read_vpk(write_vpk(package)) == package


def test_export_looks_up_by_name_when_the_unique_field_does_not_name_every_target(
    packages: Any, tree: FakeVault
) -> None:
    tree.objects.records["product__c"]["V0A2"]["code__c"] = None  # the referenced product has no code
    package = packages.export(["batch__c"], records=True, include_picklists=False)
    _, batches = package.steps
    assert isinstance(batches, DataStep)
    assert batches.columns[-1] == "product__cr.name__v"
    assert list(batches.records())[0]["product__cr.name__v"] == "Beta, two"


def test_export_refuses_references_nothing_can_name(packages: Any, tree: FakeVault) -> None:
    products = tree.objects.records["product__c"]
    products["V0A2"]["code__c"] = None
    products["V0A1"]["name__v"] = products["V0A2"]["name__v"]  # and its name is not its own
    with pytest.raises(ValueError, match=r"batch__c.product__c points at product__c records that no unique field"):
        packages.export(["batch__c"], records=True)


def test_export_refuses_a_cycle_and_nothing(packages: Any, tree: FakeVault) -> None:
    tree.objects.definitions["product__c"].append(
        _field("batch__c", "Object", object={"name": "batch__c"}, relationship_outbound_name="batch__cr"))
    with pytest.raises(ValueError, match="batch__c, product__c reference each other in a cycle"):
        packages.export(["product__c", "batch__c"])
    with pytest.raises(ValueError, match="at least one object"):
        packages.export([])


def test_export_of_an_unknown_object_raises(packages: Any, tree: FakeVault) -> None:
    with pytest.raises(InvalidRequest, match=r"Object \[gone__c\] not found"):
        packages.export(["gone__c"])
