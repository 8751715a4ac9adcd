"""Seed documents: users, job definitions, MDL, object records, documents and binders, in one JSON or
YAML document, applied idempotently and exported back.

Each kind has a natural key — the username, the definition name, the record's ``name__v`` within its
object, the document's or binder's ``name__v`` — and what exists already under that key is left
as it is: applying a seed twice creates nothing the second time, so ``serve --seed`` survives a
restart. The answer names the ids of what was created. ``GET /seed`` exports the current state in
the same format (passwords as their hashes), so export → reset → seed → export gives the same
document. The format is in ``docs/control-plane.md``.
"""

from __future__ import annotations

import base64
import io
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vaultjobs.accounts import check_password, check_timezone, check_username, hash_password
from vaultjobs.cli.mdl_files import apply_script
from vaultjobs.content.repository import ContentRepository
from vaultjobs.control.responses import ControlError, control_endpoint, control_json
from vaultjobs.definitions import DefinitionError, parse_definition
from vaultjobs.errors import InvalidData, VaultError
from vaultjobs.jobtypes.objects.catalogs import CatalogService
from vaultjobs.jobtypes.objects.records import COLUMN_FIELDS, Records, record_from_row
from vaultjobs.models import Definition, User
from vaultjobs.objects.catalog import Catalog
from vaultjobs.objects.mdl.render import render_object, render_picklist
from vaultjobs.objects.metadata import FieldType, ObjectDefinition
from vaultjobs.objects.values import to_json_value
from vaultjobs.settings import Settings
from vaultjobs.store import Store, UserExists
from vaultjobs.store.control_seed import latest_versions
from vaultjobs.timeutil import Clock

if TYPE_CHECKING:
    from vaultjobs.api.services import Services

SEED_KEYS = ("users", "definitions", "mdl", "records", "documents", "binders")
ADMIN = "admin"


class SeedError(ControlError):
    def __init__(self, message: str) -> None:
        super().__init__(400, "INVALID_SEED", message)


@dataclass
class Created:
    users: dict[str, int] = field(default_factory=dict)
    definitions: list[str] = field(default_factory=list)
    records: dict[str, dict[str, str]] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    binders: dict[str, int] = field(default_factory=dict)

    def answer(self) -> dict[str, Any]:
        return {"created": {"users": self.users, "documents": self.documents, "binders": self.binders,
                            "records": self.records, "definitions": self.definitions}}


def parse_seed(raw: bytes, content_type: str) -> dict[str, Any]:
    """A seed document from JSON, or YAML when the content type says so."""
    if "yaml" in content_type.lower():
        import yaml

        try:
            document = yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SeedError(f"the seed is not YAML: {exc}") from exc
    else:
        try:
            document = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise SeedError(f"the seed is not JSON: {exc}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise SeedError("a seed document is an object with users, definitions, mdl, records, documents, binders")
    unknown = sorted(set(document) - set(SEED_KEYS))
    if unknown:
        raise SeedError(f"unknown seed key [{unknown[0]}]; the keys are {', '.join(SEED_KEYS)}")
    return document


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key) or []
    if isinstance(value, str) and key == "mdl":
        return [value]
    if not isinstance(value, list):
        raise SeedError(f"[{key}] must be a list")
    return value


class Seeder:
    """Applies and exports seed documents over one node's store."""

    def __init__(self, store: Store, clock: Clock, content: ContentRepository) -> None:
        self.store = store
        self.clock = clock
        self.content = content
        self.catalogs = CatalogService(store, clock)
        self.records = Records(store, self.catalogs, clock)

    # -- applying ----------------------------------------------------------------------------

    def apply(self, document: dict[str, Any]) -> Created:
        created = Created()
        self._users(_list(document, "users"), created)
        owners = {u.username: u.id for u in self.store.users.list_users()}
        self._definitions(_list(document, "definitions"), owners, created)
        self._mdl(_list(document, "mdl"), owners)
        records = document.get("records") or {}
        if not isinstance(records, dict):
            raise SeedError("[records] must map object names to lists of records")
        self._records(records, created)
        self._documents(_list(document, "documents"), owners, created, binder=False)
        self._documents(_list(document, "binders"), owners, created, binder=True)
        return created

    def _users(self, entries: list[Any], created: Created) -> None:
        existing = {u.username for u in self.store.users.list_users()}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
                raise SeedError("each user needs a username")
            name = entry["username"]
            if name in existing:
                continue
            try:
                check_username(name)
                timezone = check_timezone(str(entry.get("timezone", "UTC")))
                if "password_hash" in entry:
                    password_hash = str(entry["password_hash"])
                else:
                    password_hash = hash_password(check_password(str(entry.get("password", ""))))
            except ValueError as exc:
                raise SeedError(f"user [{name}]: {exc}") from exc
            try:
                user = self.store.users.create_user(username=name, password_hash=password_hash, timezone=timezone,
                                                    is_admin=bool(entry.get("admin", False)), now=self.clock.now())
            except UserExists:
                continue  # made by another node at the same moment
            if entry.get("active", True) is False:
                self.store.users.set_active(user.id, False)
            existing.add(name)
            created.users[name] = user.id

    def _definitions(self, entries: list[Any], owners: dict[str, int], created: Created) -> None:
        present = {d.name for d in self.store.schedules.list_definitions()}
        for entry in entries:
            if not isinstance(entry, dict):
                raise SeedError("each definition is an object, as a [[job]] of the definitions file")
            try:
                definition = parse_definition(entry, owners)
            except DefinitionError as exc:
                raise SeedError(str(exc)) from exc
            if definition.name in present:
                continue
            self.store.schedules.upsert_definition(definition, self.clock.now(), keep_enabled=False)
            present.add(definition.name)
            created.definitions.append(definition.name)

    def _mdl(self, scripts: list[Any], owners: dict[str, int]) -> None:
        for n, script in enumerate(scripts, 1):
            if not isinstance(script, str):
                raise SeedError("[mdl] holds MDL scripts (strings)")
            try:
                outcome = apply_script(self.catalogs, script, f"mdl {n}", owners.get(ADMIN, 1))
            except VaultError as exc:
                raise SeedError(exc.message) from exc
            failed = [r for r in outcome.results if not r.success]
            if failed:
                raise SeedError(f"mdl {n}: {failed[0].component}: {failed[0].message}")

    def _records(self, by_object: dict[str, Any], created: Created) -> None:
        admin = self._admin()
        for object_name, rows in by_object.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("name__v") for r in rows):
                raise SeedError(f"records of [{object_name}]: a list of records, each with a name__v")
            taken = self.store.objects.ids_by_name(object_name, [str(r["name__v"]) for r in rows])
            new = [r for r in rows if str(r["name__v"]) not in taken]
            if not new:
                continue
            try:
                outcomes = self.records.create(admin, object_name, new, origin="json")
            except VaultError as exc:
                raise SeedError(f"records of [{object_name}]: {exc.message}") from exc
            for row, outcome in zip(new, outcomes, strict=True):
                if outcome.error is not None:
                    raise SeedError(f"record [{row['name__v']}] of [{object_name}]: {outcome.error.message}")
                assert outcome.id is not None
                created.records.setdefault(object_name, {})[str(row["name__v"])] = outcome.id

    def _documents(self, entries: list[Any], owners: dict[str, int], created: Created, *, binder: bool) -> None:
        kind = "binder" if binder else "document"
        present = {name: doc_id for doc_id, _, _, name in latest_versions(self.store.dialect, binder=binder) if name}
        documents = {name: (doc_id, major, minor) for doc_id, major, minor, name in
                     latest_versions(self.store.dialect, binder=False) if name}
        for entry in entries:
            fields = entry.get("fields") if isinstance(entry, dict) else None
            if not isinstance(fields, dict) or not all(fields.get(k) for k in ("name__v", "type__v", "lifecycle__v")):
                raise SeedError(f"each {kind} needs fields with name__v, type__v and lifecycle__v")
            name = str(fields["name__v"])
            if name in present:
                continue
            major, minor = _version(entry.get("version", "0.1"), name)
            owner = entry.get("owner", ADMIN)
            if owner not in owners:
                raise SeedError(f"{kind} [{name}]: owner [{owner}] is not a user")
            stored = None if binder else self._file(entry.get("file"), name)
            now = self.clock.now()
            doc_id = self.store.content.create_document(
                binder=binder, fields=dict(fields), file=stored, major=major, minor=minor, roles={},
                created_by=owners[owner], now=now)
            for bound in entry.get("documents", []) if binder else []:
                if bound not in documents:
                    raise SeedError(f"binder [{name}]: no document named [{bound}]")
                target, doc_major, doc_minor = documents[bound]
                self.store.content.add_node(doc_id, major, minor, parent_id="rootNode", kind="document",
                                            name=str(bound), order=None, now=now, document_id=target,
                                            binding_rule="default", doc_major=doc_major, doc_minor=doc_minor)
            present[name] = doc_id
            (created.binders if binder else created.documents)[name] = doc_id

    def _file(self, spec: Any, name: str) -> Any:
        if spec is None:
            return None
        if not isinstance(spec, dict) or not isinstance(spec.get("filename"), str):
            raise SeedError(f"document [{name}]: file needs a filename and text or base64")
        if "base64" in spec:
            try:
                data = base64.b64decode(str(spec["base64"]), validate=True)
            except ValueError as exc:
                raise SeedError(f"document [{name}]: file base64 does not decode") from exc
        else:
            data = str(spec.get("text", "")).encode("utf-8")
        mime = spec.get("mime") or mimetypes.guess_type(spec["filename"])[0]
        return self.content.save_file(io.BytesIO(data), spec["filename"], mime)

    def _admin(self) -> User:
        admin = self.store.users.get_user_by_name(ADMIN)
        if admin is None:
            raise SeedError("the seed needs the admin user")
        return admin

    # -- exporting ---------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        users = self.store.users.list_users()
        names = {u.id: u.username for u in users}
        catalog = self.catalogs.current()
        document: dict[str, Any] = {
            "users": [{"username": u.username, "password_hash": self.store.users.get_password_hash(u.id),
                       "timezone": u.timezone, "admin": u.is_admin, "active": u.active}
                      for u in users if u.username != ADMIN],
            "definitions": [_definition_entry(d, names) for d in self.store.schedules.list_definitions()],
            "mdl": _custom_mdl(catalog),
            "records": self._export_records(catalog),
            "documents": self._export_documents(names, binder=False),
            "binders": self._export_documents(names, binder=True),
        }
        return {key: value for key, value in document.items() if value}

    def _export_records(self, catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for definition in _in_reference_order(catalog.objects):
            editable = [f for f in definition.fields if f.editable and f.name not in COLUMN_FIELDS]
            rows: list[dict[str, Any]] = []
            offset = 0
            while True:
                _, page = self.store.objects.page(definition.name, sort="id", descending=False, limit=1000,
                                                  offset=offset)
                for row in page:
                    record = record_from_row(definition, row)
                    rows.append({f.name: to_json_value(record.values[f.name]) for f in editable
                                 if record.values.get(f.name) is not None})
                if len(page) < 1000:
                    break
                offset += 1000
            if rows:
                out[definition.name] = rows
        return out

    def _export_documents(self, names: dict[int, str], *, binder: bool) -> list[dict[str, Any]]:
        out = []
        for doc_id, major, minor, _ in latest_versions(self.store.dialect, binder=binder):
            version = self.store.content.version(doc_id, major, minor)
            document = self.store.content.get_document(doc_id)
            if version is None or document is None:
                continue
            entry: dict[str, Any] = {"fields": version.fields, "version": f"{major}.{minor}",
                                     "owner": names.get(document.created_by, ADMIN)}
            if version.file is not None:
                with self.content.open_file(version.file) as handle:
                    data = handle.read()
                entry["file"] = {"filename": version.file.filename, "base64": base64.b64encode(data).decode()}
                if version.file.mime:
                    entry["file"]["mime"] = version.file.mime
            if binder:
                entry["documents"] = [node.name for node in self.store.content.nodes(doc_id, major, minor)
                                      if node.kind == "document"]
            out.append(entry)
        return out


def _version(raw: Any, name: str) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in str(raw).split("."))
    except ValueError as exc:
        raise SeedError(f"[{name}]: version must look like 0.1") from exc
    return major, minor


def _definition_entry(d: Definition, names: dict[int, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": d.name, "processor": d.processor, "owner": names.get(d.owner_id, ADMIN),
                             "parameters": d.parameters, "single_instance": d.single_instance, "enabled": d.enabled}
    if d.title is not None:
        entry["title"] = d.title
    if d.cron is not None:
        entry.update(cron=d.cron, timezone=d.timezone)
    else:
        entry["interval"] = d.interval
    for key in ("timeout", "inactivity_timeout"):
        if getattr(d, key) is not None:
            entry[key] = getattr(d, key)
    return entry


def _in_reference_order(objects: Iterable[ObjectDefinition]) -> list[ObjectDefinition]:
    """Objects with the objects their Object fields point at first (records can then be created in order)."""
    pending = {o.name: o for o in objects}
    ordered: list[ObjectDefinition] = []
    while pending:
        ready = [o for o in pending.values()
                 if not any(f.type is FieldType.OBJECT and f.object in pending and f.object != o.name
                            for f in o.fields)] or list(pending.values())[:1]
        for o in sorted(ready, key=lambda o: o.name):
            ordered.append(o)
            del pending[o.name]
    return ordered


def _custom_mdl(catalog: Catalog) -> list[str]:
    """RECREATE scripts for the picklists and objects that differ from the standard catalog."""
    standard = Catalog.standard()
    scripts = [render_picklist(p) for p in catalog.picklists if standard.picklist(p.name) != p]
    scripts += [render_object(o) for o in _in_reference_order(catalog.objects) if standard.object(o.name) != o]
    return scripts


def seeder_of(services: Services) -> Seeder:
    return seeder_for(services.store, services.settings, services.clock)


def seeder_for(store: Store, settings: Settings, clock: Clock) -> Seeder:
    return Seeder(store, clock, ContentRepository(store, settings.data_dir, clock, blobs=settings.content_blobs))


def apply_seed_file(path: Path, store: Store, settings: Settings, clock: Clock) -> Created:
    """``serve --seed FILE``: YAML for ``.yaml``/``.yml`` files, JSON otherwise. :class:`InvalidData`
    naming the file when it cannot be applied."""
    try:
        kind = "application/yaml" if path.suffix.lower() in (".yaml", ".yml") else "application/json"
        return seeder_for(store, settings, clock).apply(parse_seed(path.read_bytes(), kind))
    except ControlError as exc:
        raise InvalidData(f"{path}: {exc.message}") from exc


def routes(services: Services) -> Sequence[BaseRoute]:
    """``POST /seed`` (JSON, or YAML with a YAML content type) and ``GET /seed``."""
    import anyio.to_thread

    plane = services.control
    assert plane is not None
    seeder = seeder_of(services)

    @control_endpoint
    async def seed(request: Request) -> Response:
        if request.method == "GET":
            return control_json(await anyio.to_thread.run_sync(seeder.export))
        document = parse_seed(await request.body(), request.headers.get("content-type", ""))
        created = await anyio.to_thread.run_sync(seeder.apply, document)
        plane.publish("seed", created.answer()["created"])
        plane.wake_engine()
        return control_json(created.answer())

    return [Route("/seed", seed, methods=["GET", "POST"])]
