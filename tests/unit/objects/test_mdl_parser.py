"""The MDL parser: every command and component it supports, and errors that point at the exact line
and column of what it does not understand (it never skips anything)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from vaultjobs.objects.mdl import (
    Command,
    MdlSyntaxError,
    Position,
    SubAction,
    parse,
    tokenize,
)


def test_vapil_recreate_script_parses_with_every_attribute_in_order(script: Callable[[str], str]) -> None:
    (statement,) = parse(script("vapil_recreate"))
    assert statement.command is Command.RECREATE
    assert statement.label == "Object.vapil_test_mdl_object__c"
    assert statement.position == Position(1, 1)
    names = [a.name for a in statement.component.attributes]
    assert names[:4] == ["label", "label_plural", "active", "description"]
    assert len(names) == 21
    help_content = statement.component.attribute("help_content")
    assert help_content is not None and help_content.values == ()
    label = statement.component.attribute("label")
    assert label is not None and label.values == ("VAPIL Test MDL Object",) and label.position == Position(2, 4)
    order = statement.component.attribute("order")
    assert order is not None and order.values == (0,)


def test_vapil_alter_script_parses_an_add_field(script: Callable[[str], str]) -> None:
    (statement,) = parse(script("vapil_alter"))
    assert statement.command is Command.ALTER
    (sub,) = statement.subcommands
    assert (sub.action, sub.type, sub.name, sub.position) == (
        SubAction.ADD,
        "Field",
        "test_alter_field__c",
        Position(2, 1),
    )
    assert sub.component is not None
    assert [a.name for a in sub.component.attributes] == [
        "label",
        "type",
        "active",
        "required",
        "list_column",
        "unique",
        "order",
    ]


def test_drop_and_rename_and_several_statements(script: Callable[[str], str]) -> None:
    statements = parse(script("vapil_drop") + "\nRENAME Object a__c TO b__c;\nrecreate Picklist p__c (label('P'));")
    assert [s.command for s in statements] == [Command.DROP, Command.RENAME, Command.RECREATE]
    assert [s.number for s in statements] == [1, 2, 3]
    assert statements[1].new_name == "b__c"
    assert statements[2].position == Position(3, 1)


def test_picklist_with_entries(script: Callable[[str], str]) -> None:
    (statement,) = parse(script("vault_picklist"))
    entries = statement.component.subcomponents
    assert [(e.type, e.name) for e in entries] == [("Picklistentry", "red__c"), ("Picklistentry", "blue__c")]
    assert entries[1].position == Position(9, 4)


def test_alter_with_attributes_and_every_subcommand() -> None:
    text = """ALTER Picklist color__c (
   label('Colours'),
   ADD Picklistentry green__c (value('Green'), order(3), active(true)),
   MODIFY Picklistentry red__c (value('Crimson')),
   RENAME Picklistentry blue__c TO navy__c,
   DROP Picklistentry yellow__c
);"""
    (statement,) = parse(text)
    assert [a.name for a in statement.component.attributes] == ["label"]
    actions = [(s.action, s.name, s.new_name) for s in statement.subcommands]
    assert actions == [
        (SubAction.ADD, "green__c", None),
        (SubAction.MODIFY, "red__c", None),
        (SubAction.RENAME, "blue__c", "navy__c"),
        (SubAction.DROP, "yellow__c", None),
    ]


def test_values_strings_numbers_booleans_lists_and_escapes() -> None:
    text = r"""CREATE Object a__c (label('It\'s a \\ test'), order(-3), x(1.50), y(true, false), z('a', 'b'));"""
    (statement,) = parse(text)
    values = {a.name: a.values for a in statement.component.attributes}
    assert values == {
        "label": ("It's a \\ test",),
        "order": (-3,),
        "x": (Decimal("1.50"),),
        "y": (True, False),
        "z": ("a", "b"),
    }


def test_comments_and_a_missing_final_semicolon_are_accepted() -> None:
    (statement,) = parse("# make it\nDROP Object a__c # trailing words\n")
    assert statement.component.name == "a__c"


def test_names_may_start_with_a_digit_and_strings_may_span_lines() -> None:
    (statement,) = parse("CREATE Object 10k_raw__c (description('two\nlines'), label('L'));")
    assert statement.component.name == "10k_raw__c"
    label = statement.component.attribute("label")
    assert label is not None and label.position == Position(2, 10)


def test_tokens_carry_positions() -> None:
    tokens = tokenize("DROP\n  Object x__c;")
    assert [(t.text, t.position.line, t.position.column) for t in tokens[:3]] == [
        ("DROP", 1, 1),
        ("Object", 2, 3),
        ("x__c", 2, 10),
    ]


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        # nothing to run
        ("   \n# only a comment\n", "The script is empty", 3, 1),
        # a command Vault does not have
        ("SELECT Object a__c;", "Unsupported command [SELECT]", 1, 1),
        # a component type vaultjobs does not model, named with its position
        ("DROP Object a__c;\nCREATE Docfield my_field__c (label('x'));", "Unsupported component type [Docfield]", 2, 8),
        # component types are case-sensitive
        ("DROP object a__c;", "Unsupported component type [object]", 1, 6),
        # a subcomponent type the component does not hold
        (
            "CREATE Object a__c (\n  label('A'),\n  Index idx__c (label('i'))\n);",
            "Unsupported subcomponent type [Index]",
            3,
            3,
        ),
        (
            "ALTER Object a__c (ADD Picklistentry p__c (value('x')));",
            "Unsupported subcomponent type [Picklistentry]",
            1,
            24,
        ),
        # the IF EXISTS operators
        ("ALTER Object IF EXISTS a__c (label('x'));", "Unsupported operator", 1, 14),
        # XMLString, SdkCode and Expression values
        ("CREATE Object a__c (label({<x/>}));", "XMLString values are not supported", 1, 27),
        ("CREATE Object a__c (\n   f([x__c = 1]));", "Expression values are not supported", 2, 6),
        # Vault's own doc slip: curly quotes
        ("CREATE Object a__c (label(\u2018x\u2019));", "Unexpected character [\u2018]", 1, 27),
        ("CREATE Object a__c (label('never closed));", "Unterminated string", 1, 27),
        ("CREATE Object a__c (label('A') label_plural('B'));", "Expected [,] or [)], found [label_plural]", 1, 32),
        ("CREATE Object a__c (label('A'),);", "Expected an attribute, found [)]", 1, 32),
        ("CREATE Object a__c (label(A));", "Expected a value", 1, 27),
        ("CREATE Object a__c (label('A'), label('B'));", "Attribute [label] is given twice", 1, 33),
        ("DROP Object a__c DROP Object b__c;", "Expected [;] at the end of the statement, found [DROP]", 1, 18),
        ("RENAME Object a__c b__c;", "Expected TO, found [b__c]", 1, 20),
        ("CREATE Object a__c label('x');", "Expected [(], found [label]", 1, 20),
        ("ALTER Object a__c (Field f__c (label('x')));", "needs ADD, MODIFY, RENAME or DROP", 1, 20),
        ("CREATE Object a__c (ADD Field f__c (label('x')));", "[ADD] is only allowed in ALTER", 1, 21),
        (
            "CREATE Object a__c (Field f__c (label('x')), Field f__c (label('y')));",
            "Field [f__c] is given twice",
            1,
            46,
        ),
        ("CREATE Object a__c (Field f__c (Field g__c (label('x'))));", "Unsupported subcomponent type [Field]", 1, 33),
        ("CREATE Object a__c (order(1.2.3));", "Invalid number [1.2.3]", 1, 27),
        ("DROP Object", "Expected a component name, found the end of the script", 1, 12),
    ],
)
def test_errors_name_what_and_where(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(MdlSyntaxError) as caught:
        parse(text)
    assert message in caught.value.reason
    assert caught.value.position == Position(line, column)
    assert str(caught.value).endswith(f"at line {line}, column {column}")
