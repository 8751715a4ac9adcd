"""``client.packages``: Vault packages (``.vpk``) through the API — import, validate and deploy, their
results and logs — and the export of a vault's objects (and records) as a package.

Laid out like the object endpoints, in one module: typed results (parsed leniently, keeping ``raw``,
since Vault adds keys), the endpoints as flows (see `_flow`), and `Packages` / `AsyncPackages`, thin
shells that run them. Import and Deploy answer a `JobStarted` that ``client.wait`` follows; the
package's id is in the finished job's ``artifacts`` link (`package_id_from`), because Import Package
does not answer it. Logs and MDL components are files, not Vault envelopes: they are read as bytes,
and an envelope in their place is the error it carries.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

from vaultjobs.packages import ComponentStep, DataStep, Dependency, Manifest, Package, Step, write_vpk

from . import _object_operations as object_ops
from ._core import ClientCore, _shape
from ._errors import UnexpectedResponse
from ._flow import AsyncDriver, Flow, SyncDriver
from ._models import Job, JobStarted
from ._objects import FieldInfo, ObjectMetadata
from ._operations import PageFlow, call, send_authorized
from ._parse import as_dict, as_int, as_list, as_str

__all__ = [
    "AsyncPackages",
    "DeployResults",
    "ImportResults",
    "PackageFile",
    "PackageLog",
    "PackageStep",
    "Packages",
    "StepDependency",
    "ValidationResults",
    "package_id_from",
]

#: What the file-taking methods accept: a path, the archive's bytes, or a `Package` (written here).
PackageFile = Path | bytes | Package

#: ``package_status__v`` values of a deploy that applied every step.
DEPLOYED = frozenset({"deployed__v", "deployed_with_warning__v"})
#: Fields a record export leaves out: the target vault sets them itself.
SYSTEM_FIELDS = frozenset({"id", "created_by__v", "created_date__v", "modified_by__v", "modified_date__v"})

_ARTIFACTS = re.compile(r"/vault_package__v/([^/?#]+)/actions/(?:import|deploy)/results")


# -- results -----------------------------------------------------------------------------------------


def _bool(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class PackageLog:
    """A log file of a package (``Validation.log``, ``Deployment.log``, data logs): `Packages.download_log`
    reads its ``url``. ``created_date`` is as Vault writes it (``YYYY-MM-DD HH:MM:SS.mmm``, not ISO)."""

    filename: str
    url: str
    created_date: str | None = None

    @classmethod
    def list_from(cls, payload: Any) -> tuple[PackageLog, ...]:
        logs = []
        for raw in as_list(payload):
            item = as_dict(raw)
            logs.append(cls(filename=as_str(item.get("filename")) or "", url=as_str(item.get("url")) or "",
                            created_date=as_str(item.get("created_date__v"))))
        return tuple(logs)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class StepDependency:
    """A component a step needs, and whether the target vault (or the package) has it (``status``:
    ``In Target``, ``Missing - Block`` …)."""

    component_name: str
    component_type: str | None = None
    subcomponent_name: str | None = None
    subcomponent_type: str | None = None
    status: str | None = None

    @classmethod
    def list_from(cls, payload: Any) -> tuple[StepDependency, ...]:
        out = []
        for raw in as_list(payload):
            item = as_dict(raw)
            out.append(cls(
                component_name=as_str(item.get("component_name")) or "",
                component_type=as_str(item.get("component_type")),
                subcomponent_name=as_str(item.get("subcomponent_name")),
                subcomponent_type=as_str(item.get("subcomponent_type")),
                status=as_str(item.get("status")),
            ))
        return tuple(out)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class PackageStep:
    """One step of a package as import, validate and deploy results show it. ``status`` is
    ``deployment_status__v``: an API name (``verified__v``, ``deployed__v``…) in import and deploy
    results, a label (``Verified``, ``Blocked``) in validation results."""

    name: str
    step_type: str | None = None
    label: str | None = None
    step_name: str | None = None
    type: str | None = None
    status: str | None = None
    id: str | None = None
    #: Validation only: ``Update``, ``Add (missing in Vault)`` …
    deployment_action: str | None = None
    dependencies: tuple[StepDependency, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_payload(cls, payload: Any) -> PackageStep:
        item = as_dict(payload)
        return cls(
            name=as_str(item.get("name__v")) or "",
            step_type=as_str(item.get("step_type__v")),
            label=as_str(item.get("step_label__v")),
            step_name=as_str(item.get("step_name__v")),
            type=as_str(item.get("type__v")),
            status=as_str(item.get("deployment_status__v")),
            id=as_str(item.get("id")),
            deployment_action=as_str(item.get("deployment_action")),
            dependencies=StepDependency.list_from(item.get("dependencies")),
            raw=dict(item),
        )

    @classmethod
    def list_from(cls, payload: Any) -> tuple[PackageStep, ...]:
        return tuple(cls.from_payload(item) for item in as_list(payload))


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ImportResults:
    """Import results: the inbound package (``vault_package__v`` record) the import created."""

    package_id: str
    name: str | None = None
    status: str | None = None
    #: ``verified__v`` (deployable) or ``blocked__v`` (a blocking dependency is missing).
    package_status: str | None = None
    logs: tuple[PackageLog, ...] = ()
    steps: tuple[PackageStep, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def blocked(self) -> bool:
        return self.package_status == "blocked__v"

    @property
    def validation_log(self) -> PackageLog | None:
        return next((log for log in self.logs if log.filename.endswith("Validation.log")), None)

    @classmethod
    def from_payload(cls, body: Any) -> ImportResults:
        item = as_dict(as_dict(body).get("vaultPackage"))
        package_id = as_str(item.get("id"))
        if package_id is None:
            raise ValueError("response has no 'vaultPackage' with an id")
        return cls(
            package_id=package_id,
            name=as_str(item.get("name")),
            status=as_str(item.get("status")),
            package_status=as_str(item.get("package_status")),
            logs=PackageLog.list_from(item.get("log")),
            steps=PackageStep.list_from(item.get("package_steps")),
            raw=dict(item),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ValidationResults:
    """Validate Package (from a file: ``package_id`` None) and Validate Inbound Package."""

    package_name: str | None
    package_id: str | None
    #: A label: ``Verified`` or ``Blocked``.
    package_status: str | None
    total_steps: int = 0
    total_steps_blocked: int = 0
    summary: str | None = None
    author: str | None = None
    source_vault: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    package_error: str | None = None
    steps: tuple[PackageStep, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def blocked(self) -> bool:
        return (self.package_status or "").lower() != "verified" or bool(self.package_error)

    @classmethod
    def from_payload(cls, body: Any) -> ValidationResults:
        details = as_dict(as_dict(body).get("responseDetails"))
        if not details:
            raise ValueError("response has no 'responseDetails'")
        package_id = as_str(details.get("package_id"))
        blocked = as_int(details.get("total_steps_blocked"))
        if blocked is None:  # Validate Inbound's name for it, in Vault's documentation
            blocked = as_int(details.get("total_component_steps_blocked"))
        return cls(
            package_name=as_str(details.get("package_name")),
            package_id=None if package_id in (None, "N/A") else package_id,
            package_status=as_str(details.get("package_status")),
            total_steps=as_int(details.get("total_steps")) or 0,
            total_steps_blocked=blocked or 0,
            summary=as_str(details.get("summary")),
            author=as_str(details.get("author")),
            source_vault=as_str(details.get("source_vault")),
            start_time=as_str(details.get("start_time")),
            end_time=as_str(details.get("end_time")),
            package_error=as_str(details.get("package_error")),
            steps=PackageStep.list_from(details.get("package_steps")),
            raw=dict(details),
        )


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class DeployResults:
    """Retrieve Package Deploy Results: the counters, the package's status, its logs and its steps."""

    package_status: str | None
    total_steps: int = 0
    deployed: int = 0
    deployed_with_warnings: int = 0
    deployed_with_failures: int = 0
    deployed_with_error: int = 0
    failed: int = 0
    skipped: int = 0
    #: ``[Validation.log, Deployment.log]``.
    deployment_log: tuple[PackageLog, ...] = ()
    #: Only when the package has data steps.
    data_deployment_log: tuple[PackageLog, ...] = ()
    steps: tuple[PackageStep, ...] = ()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """Every step applied (warnings allowed): nothing failed, nothing ended in error."""
        return (self.package_status in DEPLOYED
                and not (self.failed or self.deployed_with_failures or self.deployed_with_error))

    @property
    def deployment_log_file(self) -> PackageLog | None:
        return next((log for log in self.deployment_log if log.filename.endswith("Deployment.log")), None)

    @classmethod
    def from_payload(cls, body: Any) -> DeployResults:
        envelope = as_dict(body)
        details = as_dict(envelope.get("responseDetails"))
        if not details:
            raise ValueError("response has no 'responseDetails'")
        # Vault puts package_steps beside responseDetails; accept them inside as well
        steps = envelope.get("package_steps", details.get("package_steps"))
        return cls(
            package_status=as_str(details.get("package_status__v")),
            total_steps=as_int(details.get("total_steps")) or 0,
            deployed=as_int(details.get("deployed")) or 0,
            deployed_with_warnings=as_int(details.get("deployed_with_warnings")) or 0,
            deployed_with_failures=as_int(details.get("deployed_with_failures")) or 0,
            deployed_with_error=as_int(details.get("deployed_with_error")) or 0,
            failed=as_int(details.get("failed")) or 0,
            skipped=as_int(details.get("skipped")) or 0,
            deployment_log=PackageLog.list_from(details.get("deployment_log")),
            data_deployment_log=PackageLog.list_from(details.get("data_deployment_log")),
            steps=PackageStep.list_from(steps),
            raw=dict(details),
        )


def package_id_from(job: Job) -> str:
    """The package an Import or Deploy job worked on, from its ``artifacts`` link (present once the job
    has finished); ValueError when the job has none."""
    link = job.link("artifacts")
    found = _ARTIFACTS.search(link.href) if link is not None else None
    if found is None:
        raise ValueError(f"job {job.id} has no package artifacts link (is it a finished package job?)")
    return urllib.parse.unquote(found.group(1))


# -- flows -------------------------------------------------------------------------------------------


def _package_id(value: str) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise ValueError(f"not a package id: {value!r}")
    return urllib.parse.quote(value, safe="")


def _file_bytes(file: PackageFile) -> tuple[bytes, str]:
    """The archive and the file name to send it as."""
    if isinstance(file, Package):
        return write_vpk(file), f"{file.manifest.name}.vpk"
    if isinstance(file, bytes):
        return file, "package.vpk"
    return Path(file).read_bytes(), Path(file).name


def _multipart(data: bytes, filename: str) -> tuple[bytes, dict[str, str]]:
    """``data`` as the multipart form field ``file``: the body and its Content-Type (with boundary)."""
    form = httpx.Request("POST", "http://form.invalid/", files={"file": (filename, data, "application/zip")})
    return form.read(), {"Content-Type": form.headers["Content-Type"]}


def import_package(core: ClientCore, data: bytes, filename: str) -> Flow[JobStarted]:
    """Import Package: a job that checks the package and creates the inbound package record."""
    body, headers = _multipart(data, filename)
    response, vault = yield from call(core, "PUT", "services/package", content=body, headers=headers)
    return core.started(response, vault)


def import_results(core: ClientCore, package_id: str) -> Flow[ImportResults]:
    path = f"vobject/vault_package__v/{_package_id(package_id)}/actions/import/results"
    response, vault = yield from call(core, "GET", path)
    return _shape(response, lambda: ImportResults.from_payload(vault.body))


def validate(core: ClientCore, data: bytes, filename: str) -> Flow[ValidationResults]:
    """Validate Package: checks a file against this vault without importing it."""
    body, headers = _multipart(data, filename)
    response, vault = yield from call(core, "POST", "services/package/actions/validate", content=body,
                                      headers=headers)
    return _shape(response, lambda: ValidationResults.from_payload(vault.body))


def validate_inbound(core: ClientCore, package_id: str) -> Flow[ValidationResults]:
    path = f"services/vobject/vault_package__v/{_package_id(package_id)}/actions/validate"
    response, vault = yield from call(core, "POST", path)
    return _shape(response, lambda: ValidationResults.from_payload(vault.body))


def deploy(core: ClientCore, package_id: str) -> Flow[JobStarted]:
    path = f"vobject/vault_package__v/{_package_id(package_id)}/actions/deploy"
    response, vault = yield from call(core, "POST", path)
    return core.started(response, vault)


def deploy_results(core: ClientCore, package_id: str) -> Flow[DeployResults]:
    path = f"vobject/vault_package__v/{_package_id(package_id)}/actions/deploy/results"
    response, vault = yield from call(core, "GET", path)
    return _shape(response, lambda: DeployResults.from_payload(vault.body))


def _on_this_vault(core: ClientCore, url: str) -> str:
    """``url`` (absolute, or a path from the host) as a path relative to the base URL. A URL of another
    host is refused: the session must not travel to it."""
    parsed = httpx.URL(url)
    base = core.base_url
    if parsed.is_absolute_url and (parsed.scheme, parsed.host, parsed.port) != (base.scheme, base.host, base.port):
        raise ValueError(f"{url} is not on this vault ({base}); the session is not sent elsewhere")
    path = parsed.raw_path.decode("ascii")
    path = path[len(base.path):] if path.startswith(base.path) else path.lstrip("/")
    if not path.startswith("api/"):
        raise ValueError(f"not an API URL of this vault: {url}")
    return path


def _file(core: ClientCore, path: str, accept: str) -> Flow[tuple[httpx.Response, bool]]:
    """GET a file: the response, and whether it was a Vault envelope (an error envelope raises)."""
    request = core.build_request("GET", path, headers={"Accept": accept})
    response = yield from send_authorized(core, request)
    envelope = "json" in response.headers.get("content-type", "").lower()
    if envelope or not response.is_success:
        core.interpret(response)
    return response, envelope


def download(core: ClientCore, url: str) -> Flow[bytes]:
    """A package log (or any attachment file of this vault) by the ``url`` results give."""
    response, _ = yield from _file(core, _on_this_vault(core, url), "text/plain, */*")
    return response.content


def component_mdl(core: ClientCore, component: str) -> Flow[str]:
    """Retrieve Component Record (MDL): ``RECREATE`` text for ``Type.name``."""
    kind, dot, name = component.partition(".")
    if not dot or not kind or not name or "/" in component:
        raise ValueError(f"not a component (Type.name): {component!r}")
    path = f"api/mdl/components/{urllib.parse.quote(component, safe='.')}"
    response, envelope = yield from _file(core, path, "text/plain, application/json")
    if envelope:
        raise UnexpectedResponse(f"expected MDL text for {component}, got a Vault envelope", response=response)
    return response.content.decode("utf-8")


# -- export ------------------------------------------------------------------------------------------


def _target(f: FieldInfo) -> str | None:
    """The object an Object field points at (its metadata's ``object.name``)."""
    target = f.raw.get("object")
    return as_str(target.get("name")) if f.type == "Object" and isinstance(target, dict) else None


def _references(meta: ObjectMetadata) -> list[tuple[FieldInfo, str]]:
    """The Object fields of ``meta`` with the object each points at."""
    return [(f, target) for f in meta.fields if (target := _target(f)) is not None]


def _custom_picklists(meta: ObjectMetadata) -> list[str]:
    """Custom picklists (``__c``) the object's fields use; standard ones exist in every vault."""
    names = [as_str(f.raw.get("picklist")) for f in meta.fields if f.type == "Picklist"]
    return [n.removeprefix("Picklist.") for n in names if n and n.endswith("__c")]


def dependency_order(metadata: Sequence[ObjectMetadata]) -> list[ObjectMetadata]:
    """Objects ordered so that each comes after the objects it references (its parent among them):
    given order kept where references allow. ValueError on a cycle, which no order can deploy."""
    by_name = {m.name: m for m in metadata}
    needs = {m.name: {t for _, t in _references(m) if t in by_name and t != m.name} for m in metadata}
    ordered: list[ObjectMetadata] = []
    placed: set[str] = set()
    while len(ordered) < len(metadata):
        ready = [m for m in metadata if m.name not in placed and needs[m.name] <= placed]
        if not ready:
            rest = sorted(set(by_name) - placed)
            raise ValueError(f"the objects {', '.join(rest)} reference each other in a cycle; "
                             "a package cannot create them in any order")
        ordered.append(ready[0])
        placed.add(ready[0].name)
    return ordered


def _dependencies(meta: ObjectMetadata, in_package: set[str], label: str) -> tuple[Dependency, ...]:
    """The ``.dep`` rows of an object step: the objects it references and its custom picklists
    (``in_package`` holds ``Type.name`` of the package's components)."""
    rows = []
    seen: set[str] = set()
    for f, target in _references(meta):
        if target == meta.name or target in seen:
            continue
        seen.add(target)
        target_label = as_str(as_dict(f.raw.get("object")).get("label")) or target
        rows.append(Dependency(
            in_package=f"Object.{target}" in in_package, blocking_type="block__sys", source_label=label,
            source_name=meta.name, source_type="Object", target_label=target_label, target_name=target,
            target_type="Object",
        ))
    for picklist in dict.fromkeys(_custom_picklists(meta)):
        rows.append(Dependency(
            in_package=f"Picklist.{picklist}" in in_package, blocking_type="block__sys", source_label=label,
            source_name=meta.name, source_type="Object", target_label=picklist, target_name=picklist,
            target_type="Picklist",
        ))
    return tuple(rows)


def _csv_cell(value: Any) -> str:
    """A record value (as Vault's JSON gives it) as the CSV cell the bulk API reads back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _lookup_candidates(target: ObjectMetadata) -> list[str]:
    """Fields that can name a record of ``target`` in another vault: the unique fields a caller sets
    (each resolves to exactly one record), then ``name__v``."""
    unique = [f.name for f in target.fields
              if f.unique and f.name not in SYSTEM_FIELDS and f.type != "ID" and _bool(f.raw.get("editable", True))]
    return [*unique, "name__v"]


def _choose_lookup(candidates: list[str], targets: list[dict[str, Any]], wanted: set[str]) -> str | None:
    """The first candidate that names every record in ``wanted`` (ids) by a value no other record of
    the target object has; None when none does."""
    for key in candidates:
        holders: dict[str, int] = {}
        for record in targets:
            value = _csv_cell(record.get(key))
            holders[value] = holders.get(value, 0) + 1
        named = {str(r["id"]): _csv_cell(r.get(key)) for r in targets}
        if all(named.get(i) and holders[named[i]] == 1 for i in wanted):
            return key
    return None


def _all_records(core: ClientCore, object_name: str, fields: list[str]) -> Flow[list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    flow: PageFlow[dict[str, Any]] | None = object_ops.record_pages(
        core, object_name, fields=fields, sort="id", page_size=200
    )
    while flow is not None:
        page, flow = yield from flow
        records.extend(page.items)
    return records


def _data_csv(core: ClientCore, meta: ObjectMetadata, targets: dict[str, ObjectMetadata]) -> Flow[tuple[bytes, int]]:
    """One object's records as CSV: the fields a caller sets; references as relationship lookups by
    the first field that names each referenced record unambiguously (see `_lookup_candidates`)."""
    fields = [f for f in meta.fields
              if f.name not in SYSTEM_FIELDS and f.type != "ID" and _bool(f.raw.get("editable", True))]
    records = yield from _all_records(core, meta.name, ["id", *(f.name for f in fields)])
    columns: list[str] = []
    lookups: dict[str, dict[str, str]] = {}  # field → target id → the value naming it
    for f in fields:
        target = _target(f)
        relationship = as_str(f.raw.get("relationship_outbound_name"))
        if target is None or not relationship:
            columns.append(f.name)
            continue
        target_meta = targets.get(target)
        if target_meta is None:
            target_meta = yield from object_ops.metadata(core, target)
            targets[target] = target_meta
        candidates = _lookup_candidates(target_meta)
        target_records = yield from _all_records(core, target, ["id", *candidates])
        wanted = {str(r[f.name]) for r in records if r.get(f.name)}
        key = _choose_lookup(candidates, target_records, wanted)
        if key is None:
            raise ValueError(f"{meta.name}.{f.name} points at {target} records that no unique field or name "
                             f"tells apart ({', '.join(candidates)}), or that do not exist: they cannot be named in "
                             "another vault")
        columns.append(f"{relationship}.{key}")
        lookups[f.name] = {str(r["id"]): _csv_cell(r.get(key)) for r in target_records}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        row = []
        for f in fields:
            value = record.get(f.name)
            if f.name in lookups and value:
                value = lookups[f.name][str(value)]
            row.append(_csv_cell(value))
        writer.writerow(row)
    return out.getvalue().encode("utf-8"), len(records)


def export(
    core: ClientCore,
    object_names: Iterable[str],
    *,
    records: bool,
    name: str,
    author: str,
    include_picklists: bool,
) -> Flow[Package]:
    """This vault's objects (and with ``records`` their records) as a package another vault can deploy.

    Steps: the custom picklists the objects use (``include_picklists``), the objects in dependency
    order (each after the objects it references), then a data step per object in the same order, so
    that a parent's records exist before the children that look them up.
    """
    wanted = list(dict.fromkeys(object_names))
    if not wanted:
        raise ValueError("give at least one object to export")
    metadata: list[ObjectMetadata] = []
    for object_name in wanted:
        metadata.append((yield from object_ops.metadata(core, object_name)))
    ordered = dependency_order(metadata)
    picklists = list(dict.fromkeys(p for m in ordered for p in _custom_picklists(m))) if include_picklists else []
    in_package = {f"Object.{n}" for n in wanted} | {f"Picklist.{p}" for p in picklists}
    steps: list[Step] = []

    def number() -> str:
        return f"{(len(steps) + 1) * 10:05d}"

    for picklist in picklists:
        text = yield from component_mdl(core, f"Picklist.{picklist}")
        steps.append(ComponentStep(number=number(), component_type="Picklist", component_name=picklist, text=text))
    for meta in ordered:
        text = yield from component_mdl(core, f"Object.{meta.name}")
        steps.append(ComponentStep(number=number(), component_type="Object", component_name=meta.name, text=text,
                                   dependencies=_dependencies(meta, in_package, meta.label or meta.name)))
    total = 0
    if records:
        targets = {m.name: m for m in metadata}
        for meta in ordered:
            data, count = yield from _data_csv(core, meta, targets)
            total += count
            steps.append(DataStep(number=number(), label=meta.name, object_name=meta.name, csv=data))
    summary = f"{len(ordered)} objects" + (f", {total} records" if records else "")
    manifest = Manifest(name=name, source_vault=core.base_url.netloc.decode("ascii"), author=author,
                        summary=summary, description="Exported by vaultjobs")
    return Package(manifest=manifest, steps=tuple(steps))


# -- the namespaces ----------------------------------------------------------------------------------


class Packages:
    """Vault packages through `VaultClient`: import, validate, deploy, results, logs and export.

    Import and deploy answer a `JobStarted`; ``client.wait(started.job_id)`` follows the job, and
    `package_id` reads the package's id from the finished job.
    """

    def __init__(self, core: ClientCore, driver: SyncDriver) -> None:
        self._core = core
        self._driver = driver

    @staticmethod
    def package_id(job: Job) -> str:
        """The package of a finished Import or Deploy job (its ``artifacts`` link)."""
        return package_id_from(job)

    def import_package(self, file: PackageFile) -> JobStarted:
        """Import Package: a job checking the package and creating the inbound package."""
        return self._driver.run(import_package(self._core, *_file_bytes(file)))

    def import_results(self, package_id: str) -> ImportResults:
        """The inbound package an import created: its status (verified or blocked), steps and log."""
        return self._driver.run(import_results(self._core, package_id))

    def validate(self, file: PackageFile) -> ValidationResults:
        """Validate Package: check a package against this vault without importing it."""
        return self._driver.run(validate(self._core, *_file_bytes(file)))

    def validate_inbound(self, package_id: str) -> ValidationResults:
        """Validate Inbound Package: check an imported package again."""
        return self._driver.run(validate_inbound(self._core, package_id))

    def deploy(self, package_id: str) -> JobStarted:
        """Deploy Package: a job applying the package's steps in order."""
        return self._driver.run(deploy(self._core, package_id))

    def deploy_results(self, package_id: str) -> DeployResults:
        """Retrieve Package Deploy Results."""
        return self._driver.run(deploy_results(self._core, package_id))

    def download_log(self, url: str) -> bytes:
        """A log file of the results (``PackageLog.url``)."""
        return self._driver.run(download(self._core, url))

    def component_mdl(self, component: str) -> str:
        """Retrieve Component Record (MDL): the ``RECREATE`` statement of ``Type.name``."""
        return self._driver.run(component_mdl(self._core, component))

    def export(
        self, object_names: Iterable[str], *, records: bool = False, name: str = "PKG-EXPORT", author: str = "",
        include_picklists: bool = True,
    ) -> Package:
        """The objects (with ``records``, their records too) as a `Package`; ``write_vpk`` makes the file."""
        return self._driver.run(export(self._core, object_names, records=records, name=name, author=author,
                                       include_picklists=include_picklists))


class AsyncPackages:
    """`Packages` for `AsyncVaultClient`: the same methods, awaited."""

    def __init__(self, core: ClientCore, driver: AsyncDriver) -> None:
        self._core = core
        self._driver = driver

    @staticmethod
    def package_id(job: Job) -> str:
        """The package of a finished Import or Deploy job (its ``artifacts`` link)."""
        return package_id_from(job)

    async def import_package(self, file: PackageFile) -> JobStarted:
        """Import Package."""
        return await self._driver.run(import_package(self._core, *_file_bytes(file)))

    async def import_results(self, package_id: str) -> ImportResults:
        """The inbound package an import created."""
        return await self._driver.run(import_results(self._core, package_id))

    async def validate(self, file: PackageFile) -> ValidationResults:
        """Validate Package."""
        return await self._driver.run(validate(self._core, *_file_bytes(file)))

    async def validate_inbound(self, package_id: str) -> ValidationResults:
        """Validate Inbound Package."""
        return await self._driver.run(validate_inbound(self._core, package_id))

    async def deploy(self, package_id: str) -> JobStarted:
        """Deploy Package."""
        return await self._driver.run(deploy(self._core, package_id))

    async def deploy_results(self, package_id: str) -> DeployResults:
        """Retrieve Package Deploy Results."""
        return await self._driver.run(deploy_results(self._core, package_id))

    async def download_log(self, url: str) -> bytes:
        """A log file of the results."""
        return await self._driver.run(download(self._core, url))

    async def component_mdl(self, component: str) -> str:
        """Retrieve Component Record (MDL)."""
        return await self._driver.run(component_mdl(self._core, component))

    async def export(
        self, object_names: Iterable[str], *, records: bool = False, name: str = "PKG-EXPORT", author: str = "",
        include_picklists: bool = True,
    ) -> Package:
        """The objects (and records) as a `Package`."""
        return await self._driver.run(export(self._core, object_names, records=records, name=name,
                                             author=author, include_picklists=include_picklists))
