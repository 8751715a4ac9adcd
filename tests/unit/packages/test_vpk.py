"""The VPK format (`vaultjobs.packages.vpk`): a written package reads back equal, and every way a file
can fail to be a package is refused with a message that says what and where."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from vaultjobs.packages import (
    ComponentStep,
    DataStep,
    Dependency,
    Manifest,
    Package,
    PackageFormatError,
    build_directory,
    read_vpk,
    write_vpk,
)

PRODUCT_MDL = """RECREATE Object product__c (
   label('Product''s'),
   label_plural('Products'),
   Field code__c (label('Code'), type('String'), unique(true))
);
"""
BATCH_MDL = """RECREATE Object batch__c (
   label('Batch'),
   label_plural('Batches'),
   Field product__c (label('Product'), type('Object'), object('product__c'), relationship_type('parent'))
);
"""
PRODUCT_CSV = b"name__v,code__c\nAlpha,a\n\"Beta, the second\",b\n"


def sample() -> Package:
    return Package(
        manifest=Manifest(name="PKG-0001", source_vault="vaultjobs", author="admin", summary="Two objects"),
        steps=(
            ComponentStep(number="00010", component_type="Object", component_name="product__c", text=PRODUCT_MDL),
            ComponentStep(
                number="00020", component_type="Object", component_name="batch__c", text=BATCH_MDL,
                dependencies=(Dependency(
                    in_package=True, blocking_type="block__sys", source_label="Batch", source_name="batch__c",
                    source_type="Object", target_label="Product", target_name="product__c", target_type="Object",
                ),),
            ),
            DataStep(number="00030", label="product__c", object_name="product__c", csv=PRODUCT_CSV),
            DataStep(number="00040", label="batches", object_name="batch__c", csv=b"name__v,code__c\nB1,b1\n",
                     action="Upsert", id_param="code__c"),
        ),
    )


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name), content)
    return out.getvalue()


def changed(replace: dict[str, bytes | None]) -> bytes:
    """The sample package with entries replaced (None: removed)."""
    files = entries(write_vpk(sample()))
    for name, content in replace.items():
        if content is None:
            del files[name]
        else:
            files[name] = content
    return rezip(files)


def with_entries(**extra: bytes) -> dict[str, bytes]:
    files = entries(write_vpk(sample()))
    files.update(extra)
    return files


# -- round trip --------------------------------------------------------------------------------------


def test_written_package_reads_back_equal() -> None:
    package = sample()
    assert read_vpk(write_vpk(package)) == package


def test_written_layout_md5_and_header() -> None:
    files = entries(write_vpk(sample()))
    assert sorted(files) == [
        "components/00010/Object.product__c.md5", "components/00010/Object.product__c.mdl",
        "components/00020/Object.batch__c.dep", "components/00020/Object.batch__c.md5",
        "components/00020/Object.batch__c.mdl",
        "components/00030/product__c.csv", "components/00030/product__c.xml",
        "components/00040/batches.csv", "components/00040/batches.xml",
        "vaultpackage.xml",
    ]
    digest = hashlib.md5(PRODUCT_MDL.encode()).hexdigest()
    assert files["components/00010/Object.product__c.md5"].decode() == f"{digest} Object.product__c"
    header = files["components/00030/product__c.xml"].decode()
    assert f"<checksum>{hashlib.md5(PRODUCT_CSV).hexdigest()}</checksum>" in header
    assert "<recordcount>2</recordcount>" in header and "<action>Create</action>" in header
    assert files["components/00020/Object.batch__c.dep"].startswith(b'"In Package","Blocking Type"')


def test_step_properties() -> None:
    package = sample()
    product, batch, data, upsert = package.steps
    assert isinstance(product, ComponentStep) and isinstance(data, DataStep) and isinstance(upsert, DataStep)
    assert product.label == "Product's" and product.component == "Object.product__c"
    assert isinstance(batch, ComponentStep) and batch.dependencies[0].blocking
    assert data.columns == ("name__v", "code__c") and data.record_count == 2
    assert list(data.records()) == [{"name__v": "Alpha", "code__c": "a"},
                                    {"name__v": "Beta, the second", "code__c": "b"}]
    assert package.step("00040") is upsert and package.step("00050") is None


def test_manifest_reads_the_vault_fixture_verbatim() -> None:
    manifest = Manifest.from_xml(
        b'<vaultpackage xmlns="https://veevavault.com/"><name>PKG-0004</name><source><vault>174587</vault>'
        b"<author>vapil.test@developersupport.com</author></source><packagetype>migration__v</packagetype>"
        b"<summary>VAPIL Test</summary><description>Desc</description></vaultpackage>"
    )
    assert manifest == Manifest(name="PKG-0004", source_vault="174587", author="vapil.test@developersupport.com",
                                summary="VAPIL Test", description="Desc")


def test_macos_clutter_and_folders_are_ignored() -> None:
    files = with_entries(**{"__MACOSX/._vaultpackage.xml": b"x", "components/00010/.DS_Store": b"x"})
    assert read_vpk(rezip(files)) == sample()


# -- format errors ----------------------------------------------------------------------------------


def refused(data: bytes, message: str) -> None:
    with pytest.raises(PackageFormatError, match=message):
        read_vpk(data)


def test_not_a_zip() -> None:
    refused(b"PK but not really", "not a ZIP archive")


def test_no_manifest() -> None:
    refused(changed({"vaultpackage.xml": None}), "has no vaultpackage.xml")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (b"<vaultpackage><name></name></vaultpackage>", "has no <name>"),  # a name is required
        (b"<package><name>X</name></package>", "root element must be <vaultpackage>"),
        (b"<vaultpackage><name>X</name><packagetype>other__v</packagetype></vaultpackage>", "not one of"),
        (b"<vaultpackage><name>a/b</name></vaultpackage>", "is not valid"),  # names become file names
        (b"<vaultpackage><name>X</name>", "not valid XML"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><vaultpackage><name>&a;</name></vaultpackage>', "document type"),
    ],
)
def test_bad_manifest(manifest: bytes, message: str) -> None:
    refused(changed({"vaultpackage.xml": manifest}), message)


def test_md5_mismatch() -> None:
    data = changed({"components/00010/Object.product__c.mdl": PRODUCT_MDL.replace("Code", "Kode").encode()})
    refused(data, r"Step 00010 \(Object.product__c\): the md5 in Object.product__c.md5 does not match")


def test_md5_naming_another_component() -> None:
    digest = hashlib.md5(PRODUCT_MDL.encode()).hexdigest()
    data = changed({"components/00010/Object.product__c.md5": f"{digest} Object.batch__c".encode()})
    refused(data, r"names \[Object.batch__c\], not \[Object.product__c\]")


def test_md5_missing() -> None:
    refused(changed({"components/00010/Object.product__c.md5": None}), "Object.product__c.md5 is missing")


@pytest.mark.parametrize(
    "name",
    [
        "components/0010/Object.x__c.mdl",  # four digits
        "components/abcde/Object.x__c.mdl",
        "components/00010/nested/Object.x__c.mdl",  # steps hold files, not folders
        "data/00010/x.csv",  # no data/ folder in a VPK
        "readme.txt",
    ],
)
def test_bad_step_folder_or_stray_entry(name: str) -> None:
    refused(rezip(with_entries(**{name: b"x"})), "Unexpected entry")


@pytest.mark.parametrize("name", ["../evil.mdl", "components/../../evil", "c:/windows/evil"])
def test_unsafe_entry(name: str) -> None:
    refused(rezip(with_entries(**{name: b"x"})), "Unsafe entry")


def test_javasdk_is_refused_by_name() -> None:
    files = with_entries(**{"javasdk/src/main/java/com/veeva/vault/custom/Hello.java": b"class Hello {}"})
    refused(rezip(files), r"Java SDK code \(javasdk/\) is not supported")


def test_bad_dep_blocking_type() -> None:
    dep = entries(write_vpk(sample()))["components/00020/Object.batch__c.dep"].replace(b"block__sys", b"maybe__sys")
    refused(changed({"components/00020/Object.batch__c.dep": dep}),
            r"Step 00020 \(Object.batch__c\): .dep line 2: Blocking Type \[maybe__sys\]")


def test_dep_missing_columns() -> None:
    refused(changed({"components/00020/Object.batch__c.dep": b'"In Package","Blocking Type"\n'}),
            "lacks the column")


def test_step_with_two_components_or_component_and_data() -> None:
    refused(rezip(with_entries(**{"components/00010/Object.other__c.mdl": b"x"})), "one component per step")
    refused(rezip(with_entries(**{"components/00010/data.csv": b"a\n"})), "not both")


def test_empty_step_and_unexpected_file_in_step() -> None:
    files = with_entries()
    files["components/00050/notes.txt"] = b"x"
    refused(rezip(files), "no component")
    refused(rezip(with_entries(**{"components/00010/Object.product__c.txt": b"x"})), "unexpected file")


def test_data_step_checksum_mismatch() -> None:
    refused(changed({"components/00030/product__c.csv": PRODUCT_CSV + b"Gamma,g\n"}),
            r"Step 00030 \(product__c\): the checksum in product__c.xml does not match product__c.csv")


def test_data_step_record_count_mismatch() -> None:
    header = DataStep(number="00030", label="product__c", object_name="product__c", csv=PRODUCT_CSV).header_xml()
    lying = header.replace(b"<recordcount>2</recordcount>", b"<recordcount>3</recordcount>")
    refused(changed({"components/00030/product__c.xml": lying}), "says 3 records but product__c.csv holds 2")


def test_data_step_duplicate_columns() -> None:
    csv = b"name__v,code__c,name__v\nA,a,A\n"
    header = DataStep(number="00030", label="product__c", object_name="product__c", csv=csv).header_xml()
    refused(changed({"components/00030/product__c.csv": csv, "components/00030/product__c.xml": header}),
            "repeats the column")


def test_data_step_header_missing() -> None:
    refused(changed({"components/00030/product__c.xml": None}), "product__c.xml is missing")


def test_upsert_without_idparam() -> None:
    header = entries(write_vpk(sample()))["components/00040/batches.xml"]
    no_idparam = header.replace(b"<idparam>code__c</idparam>", b"<idparam />")
    refused(changed({"components/00040/batches.xml": no_idparam}),
            r"Step 00040 \(batches\): an Upsert names its unique field in <idparam>")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"<action>Create</action>", b"<action>Delete</action>", r"action \[Delete\] is not one of"),
        (b"<datatype>Object</datatype>", b"<datatype>Document</datatype>", r"data type \[Document\]"),
        (b"<object>product__c</object>", b"<object />", "names no <object>"),
    ],
)
def test_bad_data_step_header(old: bytes, new: bytes, message: str) -> None:
    header = entries(write_vpk(sample()))["components/00030/product__c.xml"]
    assert old in header
    refused(changed({"components/00030/product__c.xml": header.replace(old, new)}), message)


def test_data_step_not_utf8_or_not_csv() -> None:
    for csv, message in ((b"name__v\n\xff\xfe\n", "not UTF-8"), (b'name__v\n"open\n', "not valid CSV")):
        header = DataStep(number="00030", label="product__c", object_name="product__c",
                          csv=b"name__v\nx\n").header_xml()
        # the checksum is left out so that the CSV itself is what fails
        header = header.replace(hashlib.md5(b"name__v\nx\n").hexdigest().encode(), b"")
        refused(changed({"components/00030/product__c.csv": csv, "components/00030/product__c.xml": header}),
                message)


# -- building from a folder ---------------------------------------------------------------------------


def write_folder(root: Path, *, data_header: bool) -> None:
    (root / "vaultpackage.xml").write_bytes(Manifest(name="PKG-DIR").to_xml())
    step = root / "components" / "00010"
    step.mkdir(parents=True)
    (step / "Object.product__c.mdl").write_text(PRODUCT_MDL)
    (step / "Object.product__c.md5").write_text("stale 0000 Object.product__c")  # recomputed on write
    data = root / "components" / "00020"
    data.mkdir()
    (data / "product__c.csv").write_bytes(PRODUCT_CSV)
    if data_header:
        header = DataStep(number="00020", label="products", object_name="product__c", csv=b"x\n",
                          action="Upsert", id_param="code__c").header_xml()
        (data / "product__c.xml").write_bytes(header)  # a stale checksum and count: recomputed too


def test_build_directory_with_data_header(tmp_path: Path) -> None:
    write_folder(tmp_path, data_header=True)
    package = build_directory(tmp_path)
    _, data = package.steps
    assert isinstance(data, DataStep)
    assert (data.label, data.object_name, data.action, data.id_param) == ("products", "product__c", "Upsert",
                                                                          "code__c")
    again = read_vpk(write_vpk(package))
    assert again == package
    again_data = again.steps[1]
    assert isinstance(again_data, DataStep) and again_data.record_count == 2


def test_build_directory_without_data_header(tmp_path: Path) -> None:
    write_folder(tmp_path, data_header=False)
    package = build_directory(tmp_path)
    component, data = package.steps
    assert isinstance(component, ComponentStep) and component.text == PRODUCT_MDL
    assert isinstance(data, DataStep)
    assert (data.label, data.object_name, data.action, data.id_param) == ("product__c", "product__c", "Create",
                                                                          None)
    assert read_vpk(write_vpk(package)) == package


def test_build_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(PackageFormatError, match="no vaultpackage.xml"):
        build_directory(tmp_path)
    write_folder(tmp_path, data_header=False)
    (tmp_path / "components" / "10").mkdir()
    with pytest.raises(PackageFormatError, match="five digits"):
        build_directory(tmp_path)
    (tmp_path / "components" / "10").rmdir()
    (tmp_path / "components" / "00010" / "extra.csv").write_bytes(b"a\n")
    with pytest.raises(PackageFormatError, match="exactly one"):
        build_directory(tmp_path)
    (tmp_path / "components" / "00010" / "extra.csv").unlink()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(PackageFormatError, match="unexpected"):
        build_directory(tmp_path)
