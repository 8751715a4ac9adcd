"""Render a definition to MDL, parse it, apply it to a catalog without it: the same definition comes
back. This is what package export and import rely on, so it is held for generated definitions of
every field type and attribute, with text that needs escaping."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaultjobs.objects import (
    Catalog,
    FieldDefinition,
    FieldRelationship,
    FieldType,
    ObjectDefinition,
    Picklist,
    PicklistEntry,
    RelationshipDeletion,
)
from vaultjobs.objects.mdl import execute, parse, render_object, render_picklist
from vaultjobs.objects.mdl.attributes import FIELD_EXTRA_ATTRIBUTES, OBJECT_EXTRA_ATTRIBUTES
from vaultjobs.objects.metadata import standard_fields

PICKLIST = "roundtrip_colors__c"
OBJECT = "roundtrip_thing__c"

texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
optional_texts = st.none() | texts
stems = st.from_regex(r"[a-z][a-z0-9_]{0,10}[a-z0-9]", fullmatch=True).filter(lambda s: "__" not in s)
extra_values = (
    st.none() | st.booleans() | st.integers(-1000, 1000) | texts | st.lists(texts, min_size=2, max_size=3).map(tuple)
)


def extras(names: frozenset[str]) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    return st.dictionaries(st.sampled_from(sorted(names)), extra_values, max_size=3).map(lambda d: tuple(d.items()))


@st.composite
def picklists(draw: st.DrawFn) -> Picklist:
    names = draw(st.lists(stems, unique=True, max_size=4))
    entries = tuple(
        PicklistEntry(name=f"{n}__c", label=draw(texts), order=draw(st.integers(0, 99)), active=draw(st.booleans()))
        for n in names
    )
    return Picklist(name=PICKLIST, label=draw(texts), active=draw(st.booleans()), entries=entries)


@st.composite
def fields(draw: st.DrawFn, name: str, parent_taken: bool) -> FieldDefinition:
    kind = draw(st.sampled_from([t for t in FieldType if t is not FieldType.ID]))
    common: dict[str, Any] = dict(
        name=name,
        type=kind,
        label=draw(texts),
        active=draw(st.booleans()),
        required=draw(st.booleans()),
        unique=draw(st.booleans()),
        no_copy=draw(st.booleans()),
        editable=draw(st.booleans()),
        list_column=draw(st.booleans()),
        order=draw(st.integers(0, 500)),
        help_content=draw(optional_texts),
        description=draw(optional_texts),
        extra=draw(extras(FIELD_EXTRA_ATTRIBUTES)),
    )
    if kind is FieldType.STRING:
        common["max_length"] = draw(st.integers(1, 1500))
    if kind is FieldType.LONG_TEXT:
        common["max_length"] = draw(st.integers(1, 32000))
    if kind is FieldType.NUMBER:
        scale = draw(st.integers(0, 9))
        bounds = st.none() | st.decimals(-(10**6), 10**6, places=min(scale, 4))
        low, high = draw(bounds), draw(bounds)
        if low is not None and high is not None and low > high:
            low, high = high, low
        common.update(scale=scale, min_value=low, max_value=high)
    if kind is FieldType.PICKLIST:
        common.update(picklist=PICKLIST, multi_value=draw(st.booleans()))
    if kind is FieldType.OBJECT:
        parent = not parent_taken and draw(st.booleans())
        deletion = draw(st.sampled_from(list(RelationshipDeletion)))
        if parent and deletion is RelationshipDeletion.SETNULL:
            common["required"] = False
        common.update(
            object="study__v" if parent else draw(st.sampled_from(["study__v", OBJECT])),
            relationship_type=FieldRelationship.PARENT if parent else FieldRelationship.REFERENCE,
            relationship_outbound_name=f"{name[:-3]}__cr",
            relationship_inbound_name=f"{name[:-3]}_back__cr",
            relationship_inbound_label=draw(optional_texts),
            relationship_deletion=deletion,
            hierarchical_copy=draw(st.booleans()),
        )
    return FieldDefinition(**common)


@st.composite
def objects(draw: st.DrawFn, prefix: str) -> ObjectDefinition:
    names = draw(st.lists(stems, unique=True, max_size=6))
    custom: list[FieldDefinition] = []
    for n in names:
        has_parent = any(f.is_parent for f in custom)
        custom.append(draw(fields(f"{n}__c", has_parent)))
    standard = list(standard_fields())
    if draw(st.booleans()):
        standard[1] = standard[1].evolve(
            label=draw(texts), help_content=draw(optional_texts), order=draw(st.integers(0, 9))
        )
    return ObjectDefinition(
        name=OBJECT,
        label=draw(texts),
        label_plural=draw(texts),
        prefix=prefix,
        active=draw(st.booleans()),
        description=draw(optional_texts),
        help_content=draw(optional_texts),
        in_menu=draw(st.booleans()),
        order=draw(st.integers(0, 100)),
        audit=draw(st.booleans()),
        allow_attachments=draw(st.booleans()),
        dynamic_security=draw(st.booleans()),
        system_managed=draw(st.booleans()),
        allow_types=draw(st.booleans()),
        object_class=draw(st.sampled_from(["base", "custom_class"])),
        data_store=draw(st.sampled_from(["standard", "raw"])),
        available_lifecycles=tuple(draw(st.lists(stems.map(lambda s: f"{s}__c"), max_size=3))),
        fields=(*standard, *custom),
        extra=draw(extras(OBJECT_EXTRA_ATTRIBUTES)),
    )


BASE = Catalog.standard()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(picklist=picklists(), definition=objects(BASE.allocate_prefix()))
def test_render_parse_apply_gives_the_same_definition(picklist: Picklist, definition: ObjectDefinition) -> None:
    source = BASE.with_picklist(picklist).with_object(definition)
    assert source.problems() == []
    script = render_picklist(picklist) + render_object(definition)
    assert len(parse(script)) == 2
    after, results = execute(BASE, script)
    assert [r.message for r in results if not r.success] == []
    assert after.picklist(PICKLIST) == picklist
    assert after.object(OBJECT) == definition
    assert after == source


def test_rendering_is_what_vault_documents_for_a_picklist() -> None:
    picklist = Picklist(
        name="color__c",
        label="Color",
        entries=(
            PicklistEntry(name="red__c", label="Red", order=1),
            PicklistEntry(name="blue__c", label="Blue", order=2),
        ),
    )
    assert render_picklist(picklist) == (
        "RECREATE Picklist color__c (\n"
        "   label('Color'),\n"
        "   active(true),\n"
        "   Picklistentry red__c(\n"
        "      value('Red'),\n"
        "      order(1),\n"
        "      active(true)\n"
        "   ),\n"
        "   Picklistentry blue__c(\n"
        "      value('Blue'),\n"
        "      order(2),\n"
        "      active(true)\n"
        "   )\n"
        ");\n"
    )


def test_rendered_strings_escape_quotes_and_backslashes() -> None:
    definition = ObjectDefinition(
        name="q__c", label="It's", label_plural="a\\b", prefix="A00", fields=standard_fields()
    )
    text = render_object(definition)
    assert "label('It\\'s')" in text and "label_plural('a\\\\b')" in text
    after, _ = execute(BASE, text)
    assert after.object("q__c") == definition
