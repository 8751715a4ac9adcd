"""The VPK format: a ZIP holding ``vaultpackage.xml`` and one folder per step, ``components/00010/``.

A component step holds ``{Type}.{name}.mdl`` (or ``.json``), its ``.md5`` (``<md5-hex> <Type.name>``)
and optionally a ``.dep`` CSV of dependencies; a data step holds ``{label}.csv`` and ``{label}.xml``,
the step header naming the object, the action and the CSV's checksum and record count. Reading checks
everything the format itself can tell — a ZIP, a manifest with a name, step folders of five digits,
every md5 and checksum against its file, the record counts, no unsafe or unexpected entries — and
raises :class:`PackageFormatError` with a message a user can act on. What only a vault can tell
(does a dependency exist, do a data step's columns fit its object) is checked by the service.

Writing computes every md5, checksum and record count, so a package built here always reads back.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

NAMESPACE = "https://veevavault.com/"
MANIFEST = "vaultpackage.xml"
STEP_FOLDER = re.compile(r"^[0-9]{5}$")
COMPONENT_FILE = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9_]*)\.(?P<name>[A-Za-z0-9_]+)\.(?P<ext>mdl|json)$")
PACKAGE_TYPES = ("migration__v", "test_data__sys")
DATA_ACTIONS = ("Create", "Upsert")
BLOCKING_TYPES = ("block__sys", "ignore__sys")
DEPENDENCY_HEADER = (
    "In Package", "Blocking Type", "Source Component Label", "Source Component Name", "Source Component Type",
    "Target Component Label", "Target Component Name", "Target Component Type", "Target Sub Component Name",
    "Target Sub Component Type",
)
#: Limits that keep a hostile archive (a ZIP bomb, a million entries) from exhausting the server.
MAX_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 1024**3


class PackageFormatError(ValueError):
    """The file is not a package vaultjobs can read; the message says what is wrong and where."""


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, kw_only=True, slots=True)
class Manifest:
    """``vaultpackage.xml``."""

    name: str
    package_type: str = "migration__v"
    source_vault: str = ""
    author: str = ""
    summary: str = ""
    description: str = ""

    def to_xml(self) -> bytes:
        root = ElementTree.Element("vaultpackage", {"xmlns": NAMESPACE})
        ElementTree.SubElement(root, "name").text = self.name
        source = ElementTree.SubElement(root, "source")
        ElementTree.SubElement(source, "vault").text = self.source_vault
        ElementTree.SubElement(source, "author").text = self.author
        ElementTree.SubElement(root, "packagetype").text = self.package_type
        ElementTree.SubElement(root, "summary").text = self.summary
        ElementTree.SubElement(root, "description").text = self.description
        return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))

    @classmethod
    def from_xml(cls, data: bytes) -> Manifest:
        root = _xml(data, MANIFEST)
        if _local(root.tag) != "vaultpackage":
            raise PackageFormatError(f"{MANIFEST}: the root element must be <vaultpackage>, not <{_local(root.tag)}>")
        name = _text(root, "name")
        if not name:
            raise PackageFormatError(f"{MANIFEST}: the package has no <name>")
        if len(name) > 128 or any(ch in name for ch in "/\\\r\n"):
            raise PackageFormatError(f"{MANIFEST}: the package name [{name[:128]}] is not valid")
        package_type = _text(root, "packagetype") or "migration__v"
        if package_type not in PACKAGE_TYPES:
            raise PackageFormatError(
                f"{MANIFEST}: <packagetype> [{package_type[:64]}] is not one of {', '.join(PACKAGE_TYPES)}"
            )
        source = _child(root, "source")
        return cls(
            name=name,
            package_type=package_type,
            source_vault=_text(source, "vault") if source is not None else "",
            author=_text(source, "author") if source is not None else "",
            summary=_text(root, "summary"),
            description=_text(root, "description"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Dependency:
    """One row of a step's ``.dep`` file: a component the step needs in the target vault."""

    in_package: bool
    blocking_type: str
    source_label: str
    source_name: str
    source_type: str
    target_label: str
    target_name: str
    target_type: str
    target_sub_name: str = ""
    target_sub_type: str = ""

    @property
    def blocking(self) -> bool:
        return self.blocking_type == "block__sys"

    def row(self) -> list[str]:
        return [
            "true" if self.in_package else "false", self.blocking_type, self.source_label, self.source_name,
            self.source_type, self.target_label, self.target_name, self.target_type, self.target_sub_name,
            self.target_sub_type,
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class ComponentStep:
    """A step that changes configuration: one component defined by MDL (or JSON, for the types Vault
    exports that way)."""

    number: str
    component_type: str
    component_name: str
    text: str
    extension: str = "mdl"
    dependencies: tuple[Dependency, ...] = ()

    step_type = "Component"

    @property
    def label(self) -> str:
        """The component's ``label('…')``, or its name."""
        found = re.search(r"\blabel\s*\(\s*'((?:[^']|'')*)'", self.text)
        return found.group(1).replace("''", "'") if found else self.component_name

    @property
    def component(self) -> str:
        """``Object.product__c``."""
        return f"{self.component_type}.{self.component_name}"

    @property
    def checksum(self) -> str:
        return md5_hex(self.text.encode("utf-8"))


@dataclass(frozen=True, kw_only=True, slots=True)
class DataStep:
    """A step that loads records: a CSV of one object's records and its header."""

    number: str
    label: str
    object_name: str
    csv: bytes
    action: str = "Create"
    id_param: str | None = None
    data_type: str = "Object"
    record_migration_mode: bool = False
    required: bool = False

    step_type = "Data"

    @property
    def checksum(self) -> str:
        return md5_hex(self.csv)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(next(_csv_rows(self.csv, self.number), []))

    def records(self) -> Iterator[dict[str, str]]:
        """The rows as ``{column: value}``, empty cells left out (as the bulk record API reads CSV)."""
        rows = _csv_rows(self.csv, self.number)
        header = next(rows, ())
        for row in rows:
            yield {c: v for c, v in zip(header, row, strict=False) if v != ""}

    @property
    def record_count(self) -> int:
        return sum(1 for _ in _csv_rows(self.csv, self.number)) - 1 if self.csv.strip() else 0

    def header_xml(self) -> bytes:
        root = ElementTree.Element("stepheader")
        ElementTree.SubElement(root, "label").text = self.label
        ElementTree.SubElement(root, "steprequired").text = "true" if self.required else "false"
        ElementTree.SubElement(root, "checksum").text = self.checksum
        data = ElementTree.SubElement(root, "datastepheader")
        ElementTree.SubElement(data, "object").text = self.object_name
        ElementTree.SubElement(data, "idparam").text = self.id_param or ""
        ElementTree.SubElement(data, "datatype").text = self.data_type
        ElementTree.SubElement(data, "action").text = self.action
        ElementTree.SubElement(data, "recordmigrationmode").text = "true" if self.record_migration_mode else "false"
        ElementTree.SubElement(data, "recordcount").text = str(self.record_count)
        return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


Step = ComponentStep | DataStep


@dataclass(frozen=True, kw_only=True, slots=True)
class Package:
    manifest: Manifest
    steps: tuple[Step, ...]

    def step(self, number: str) -> Step | None:
        return next((s for s in self.steps if s.number == number), None)


# -- reading -----------------------------------------------------------------------------------------


def read_vpk(data: bytes) -> Package:
    """The package in ``data``; :class:`PackageFormatError` when it is not one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise PackageFormatError("The file is not a VPK: it is not a ZIP archive") from exc
    with archive:
        files = _entries(archive)
        if MANIFEST not in files:
            raise PackageFormatError(f"The file is not a VPK: it has no {MANIFEST} at its root")
        manifest = Manifest.from_xml(_read(archive, files.pop(MANIFEST)))
        folders: dict[str, dict[str, zipfile.ZipInfo]] = {}
        for name, info in files.items():
            parts = name.split("/")
            if parts[0] == "javasdk":
                raise PackageFormatError(
                    f"[{name[:200]}]: Java SDK code (javasdk/) is not supported by vaultjobs; "
                    "remove it from the package"
                )
            if len(parts) != 3 or parts[0] != "components" or not STEP_FOLDER.match(parts[1]):
                raise PackageFormatError(
                    f"Unexpected entry [{name[:200]}]: a package holds {MANIFEST} and step folders components/NNNNN/"
                )
            folders.setdefault(parts[1], {})[parts[2]] = info
        steps = tuple(_read_step(archive, number, folders[number]) for number in sorted(folders))
    return Package(manifest=manifest, steps=steps)


def _entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise PackageFormatError(f"The package has {len(infos)} entries; at most {MAX_ENTRIES} are allowed")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise PackageFormatError(f"The package unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    files: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or ".." in name.split("/") or ":" in name:
            raise PackageFormatError(f"Unsafe entry [{name[:200]}] in the package")
        if info.is_dir() or name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1] == ".DS_Store":
            continue
        files[name] = info
    return files


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise PackageFormatError(f"[{info.filename[:200]}] cannot be read from the archive: {exc}") from exc


def _read_step(archive: zipfile.ZipFile, number: str, entries: dict[str, zipfile.ZipInfo]) -> Step:
    where = f"Step {number}"
    components = {n: i for n, i in entries.items() if COMPONENT_FILE.match(n)}
    csvs = {n: i for n, i in entries.items() if n.endswith(".csv")}
    if components and csvs:
        raise PackageFormatError(f"{where}: a step holds one component or one data file, not both")
    if len(components) > 1:
        raise PackageFormatError(f"{where}: one component per step; found {', '.join(sorted(components))}")
    if len(csvs) > 1:
        raise PackageFormatError(f"{where}: one data file per step; found {', '.join(sorted(csvs))}")
    if components:
        (filename, info), = components.items()
        return _read_component_step(archive, number, filename, info, entries)
    if csvs:
        (filename, info), = csvs.items()
        return _read_data_step(archive, number, filename, info, entries)
    raise PackageFormatError(
        f"{where}: no component (.mdl) or data (.csv) file; found {', '.join(sorted(entries)) or 'nothing'}"
    )


def _read_component_step(archive: zipfile.ZipFile, number: str, filename: str, info: zipfile.ZipInfo,
                         entries: dict[str, zipfile.ZipInfo]) -> ComponentStep:
    match = COMPONENT_FILE.match(filename)
    assert match is not None
    stem = filename.rsplit(".", 1)[0]
    where = f"Step {number} ({stem})"
    expected = {filename, f"{stem}.md5", f"{stem}.dep", f"{stem}.xml"}
    extra = sorted(set(entries) - expected)
    if extra:
        raise PackageFormatError(f"{where}: unexpected file(s) {', '.join(extra)}")
    raw = _read(archive, info)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageFormatError(f"{where}: {filename} is not UTF-8") from exc
    if f"{stem}.md5" in entries:
        line = _read(archive, entries[f"{stem}.md5"]).decode("utf-8", "replace").strip()
        digest, _, named = line.partition(" ")
        if digest.lower() != md5_hex(raw):
            raise PackageFormatError(f"{where}: the md5 in {stem}.md5 does not match {filename} (the file was changed)")
        if named.strip() and named.strip() != stem:
            raise PackageFormatError(f"{where}: {stem}.md5 names [{named.strip()[:200]}], not [{stem}]")
    elif f"{stem}.xml" in entries:
        header = _xml(_read(archive, entries[f"{stem}.xml"]), f"{where} {stem}.xml")
        checksum = _text(header, "checksum")
        if checksum and checksum.lower() != md5_hex(raw):
            raise PackageFormatError(f"{where}: the checksum in {stem}.xml does not match {filename}")
    else:
        raise PackageFormatError(f"{where}: {stem}.md5 is missing")
    dependencies: tuple[Dependency, ...] = ()
    if f"{stem}.dep" in entries:
        dependencies = _read_dependencies(_read(archive, entries[f"{stem}.dep"]), where)
    return ComponentStep(number=number, component_type=match["type"], component_name=match["name"], text=text,
                         extension=match["ext"], dependencies=dependencies)


def _read_dependencies(data: bytes, where: str) -> tuple[Dependency, ...]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", "replace"))))
    if not rows:
        return ()
    header = [h.strip() for h in rows[0]]
    missing = [h for h in DEPENDENCY_HEADER[:8] if h not in header]
    if missing:
        raise PackageFormatError(f"{where}: the .dep file lacks the column(s) {', '.join(missing)}")
    out: list[Dependency] = []
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        blocking = cells.get("Blocking Type", "")
        if blocking not in BLOCKING_TYPES:
            raise PackageFormatError(
                f"{where}: .dep line {line}: Blocking Type [{blocking[:64]}] is not one of {', '.join(BLOCKING_TYPES)}"
            )
        out.append(Dependency(
            in_package=cells.get("In Package", "").lower() == "true",
            blocking_type=blocking,
            source_label=cells.get("Source Component Label", ""),
            source_name=cells.get("Source Component Name", ""),
            source_type=cells.get("Source Component Type", ""),
            target_label=cells.get("Target Component Label", ""),
            target_name=cells.get("Target Component Name", ""),
            target_type=cells.get("Target Component Type", ""),
            target_sub_name=cells.get("Target Sub Component Name", ""),
            target_sub_type=cells.get("Target Sub Component Type", ""),
        ))
    return tuple(out)


def _read_data_step(archive: zipfile.ZipFile, number: str, filename: str, info: zipfile.ZipInfo,
                    entries: dict[str, zipfile.ZipInfo]) -> DataStep:
    stem = filename.removesuffix(".csv")
    where = f"Step {number} ({stem})"
    extra = sorted(set(entries) - {filename, f"{stem}.xml"})
    if extra:
        raise PackageFormatError(f"{where}: unexpected file(s) {', '.join(extra)}")
    if f"{stem}.xml" not in entries:
        raise PackageFormatError(f"{where}: the data step header {stem}.xml is missing")
    data = _read(archive, info)
    step = _data_step_from_header(number, stem, data, _read(archive, entries[f"{stem}.xml"]), where)
    header = _xml(_read(archive, entries[f"{stem}.xml"]), f"{where} {stem}.xml")
    checksum = _text(header, "checksum")
    if checksum and checksum.lower() != step.checksum:
        raise PackageFormatError(
            f"{where}: the checksum in {stem}.xml does not match {filename} (the file was changed)"
        )
    count = _text(_child(header, "datastepheader"), "recordcount")
    if count and count.isdigit() and int(count) != step.record_count:
        raise PackageFormatError(
            f"{where}: {stem}.xml says {count} records but {filename} holds {step.record_count}"
        )
    return step


def _data_step_from_header(number: str, stem: str, data: bytes, header_xml: bytes | None, where: str) -> DataStep:
    label, object_name, action, id_param, data_type = stem, stem, "Create", "", "Object"
    required = migration = False
    if header_xml is not None:
        header = _xml(header_xml, f"{where} {stem}.xml")
        if _local(header.tag) != "stepheader":
            raise PackageFormatError(f"{where}: {stem}.xml must be a <stepheader>")
        label = _text(header, "label") or stem
        required = _text(header, "steprequired").lower() == "true"
        body = _child(header, "datastepheader")
        if body is None:
            raise PackageFormatError(f"{where}: {stem}.xml has no <datastepheader>")
        object_name = _text(body, "object")
        action = _text(body, "action") or "Create"
        id_param = _text(body, "idparam")
        data_type = _text(body, "datatype") or "Object"
        migration = _text(body, "recordmigrationmode").lower() == "true"
    if not object_name:
        raise PackageFormatError(f"{where}: the step header names no <object>")
    if data_type != "Object":
        raise PackageFormatError(f"{where}: data type [{data_type[:64]}] is not supported; vaultjobs loads Object data")
    if action not in DATA_ACTIONS:
        raise PackageFormatError(f"{where}: action [{action[:64]}] is not one of {', '.join(DATA_ACTIONS)}")
    if action == "Upsert" and not id_param:
        raise PackageFormatError(f"{where}: an Upsert names its unique field in <idparam>")
    step = DataStep(number=number, label=label, object_name=object_name, csv=data, action=action,
                    id_param=id_param or None, data_type=data_type, record_migration_mode=migration,
                    required=required)
    columns = step.columns
    if not columns:
        raise PackageFormatError(f"{where}: {stem}.csv has no header row")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise PackageFormatError(f"{where}: {stem}.csv repeats the column(s) {', '.join(duplicated)}")
    return step


def _csv_rows(data: bytes, number: str) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageFormatError(f"Step {number}: the data file is not UTF-8") from exc
    try:
        yield from csv.reader(io.StringIO(text, newline=""), strict=True)
    except csv.Error as exc:
        raise PackageFormatError(f"Step {number}: the data file is not valid CSV: {exc}") from exc


def _xml(data: bytes, where: str) -> ElementTree.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PackageFormatError(f"{where}: document type declarations are not allowed")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise PackageFormatError(f"{where} is not valid XML: {exc}") from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: ElementTree.Element | None, name: str) -> ElementTree.Element | None:
    if parent is None:
        return None
    return next((c for c in parent if _local(c.tag) == name), None)


def _text(parent: ElementTree.Element | None, name: str) -> str:
    found = _child(parent, name)
    return (found.text or "").strip() if found is not None else ""


# -- writing -----------------------------------------------------------------------------------------


def write_vpk(package: Package) -> bytes:
    """``package`` as a VPK, every md5, checksum and record count computed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, package.manifest.to_xml())
        for step in package.steps:
            folder = f"components/{step.number}"
            if isinstance(step, ComponentStep):
                stem = step.component
                archive.writestr(f"{folder}/{stem}.{step.extension}", step.text.encode("utf-8"))
                archive.writestr(f"{folder}/{stem}.md5", f"{step.checksum} {stem}")
                if step.dependencies:
                    text = io.StringIO()
                    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
                    writer.writerow(DEPENDENCY_HEADER)
                    writer.writerows(d.row() for d in step.dependencies)
                    archive.writestr(f"{folder}/{stem}.dep", text.getvalue())
            else:
                stem = _safe_stem(step.label)
                archive.writestr(f"{folder}/{stem}.csv", step.csv)
                archive.writestr(f"{folder}/{stem}.xml", step.header_xml())
    return out.getvalue()


def _safe_stem(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("._") or "data"


def build_directory(path: Path) -> Package:
    """The package laid out in the folder ``path`` as in a VPK (``vaultpackage.xml``,
    ``components/NNNNN/``), with md5s, checksums and record counts left out or stale: they are
    computed when the package is written. A data step may leave out its ``.xml``: the CSV's name is
    then its object, and its action Create."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise PackageFormatError(f"{path}: no {MANIFEST}")
    manifest = Manifest.from_xml(manifest_path.read_bytes())
    components = path / "components"
    steps: list[Step] = []
    if components.is_dir():
        for folder in sorted(components.iterdir()):
            if not folder.is_dir() or not STEP_FOLDER.match(folder.name):
                raise PackageFormatError(f"{folder}: step folders are named by five digits (00010, 00020, …)")
            steps.append(_build_step(folder))
    for other in sorted(path.iterdir()):
        if other.name not in (MANIFEST, "components") and not other.name.startswith("."):
            raise PackageFormatError(f"{other}: unexpected; a package holds {MANIFEST} and components/")
    return Package(manifest=manifest, steps=tuple(steps))


def _build_step(folder: Path) -> Step:
    number = folder.name
    files = {p.name: p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}
    components = [n for n in files if COMPONENT_FILE.match(n)]
    csvs = [n for n in files if n.endswith(".csv")]
    if len(components) + len(csvs) != 1:
        raise PackageFormatError(f"{folder}: a step folder holds exactly one .mdl (or .json) or one .csv file")
    if components:
        match = COMPONENT_FILE.match(components[0])
        assert match is not None
        stem = components[0].rsplit(".", 1)[0]
        dependencies: tuple[Dependency, ...] = ()
        if f"{stem}.dep" in files:
            dependencies = _read_dependencies(files[f"{stem}.dep"].read_bytes(), f"Step {number}")
        try:
            text = files[components[0]].read_text("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PackageFormatError(f"{files[components[0]]} is not UTF-8") from exc
        return ComponentStep(number=number, component_type=match["type"], component_name=match["name"],
                             text=text, extension=match["ext"], dependencies=dependencies)
    stem = csvs[0].removesuffix(".csv")
    header = files.get(f"{stem}.xml")
    return _data_step_from_header(number, stem, files[csvs[0]].read_bytes(),
                                  header.read_bytes() if header else None, f"Step {number} ({stem})")
