"""Vault's MDL, read into :mod:`~vaultjobs.objects.mdl.syntax`: a tokenizer and a recursive-descent
parser that never skips what it does not understand.

What it reads (Vault's command syntax, for the component types vaultjobs models)::

    CREATE|RECREATE Object name__c ( attr(value), …, Field f__c ( attr(value), … ), … );
    ALTER Object name__c ( attr(value), ADD Field f__c (…), MODIFY Field f__c (…),
                           RENAME Field old__c TO new__c, DROP Field f__c );
    RENAME Object old__c TO new__c;
    DROP Object name__c;

and the same for ``Picklist`` with ``Picklistentry``. Values are ``'strings'`` (``\\'`` and ``\\\\``
escape [I]), numbers, ``true``/``false``, lists ``('a', 'b')`` and the empty ``()``. Choices [I]:

* ``#`` starts a comment to the end of the line (Vault's own ALTER example uses it);
* commands and ``TO`` are case-insensitive; component type names are case-sensitive, as Vault says;
* the ``;`` after the last statement may be left out;
* Vault's other component types, the ``IF EXISTS`` operators and XMLString/SdkCode/Expression values
  are errors naming what was found and where, never skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from vaultjobs.objects.mdl.errors import MdlSyntaxError
from vaultjobs.objects.mdl.syntax import (
    Attribute,
    Command,
    Component,
    Position,
    Scalar,
    Statement,
    SubAction,
    SubCommand,
)

#: Component types vaultjobs understands, and the subcomponent types each may hold.
COMPONENT_TYPES: dict[str, str] = {"Object": "Field", "Picklist": "Picklistentry"}

_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_WORD_CHARS = re.compile(r"[A-Za-z0-9_.]")
_UNSUPPORTED_OPENERS = {"{": "XMLString", "<": "SdkCode", "[": "Expression"}


class Kind(Enum):
    WORD = "word"
    STRING = "string"
    NUMBER = "number"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    SEMICOLON = ";"
    END = "end of script"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    position: Position

    def describe(self) -> str:
        if self.kind is Kind.END:
            return "the end of the script"
        if self.kind is Kind.STRING:
            return f"the string '{self.text}'"
        return f"[{self.text}]"


def tokenize(script: str) -> list[Token]:
    """The tokens of ``script``, ending with an END token; :class:`MdlSyntaxError` at the first
    character that starts none."""
    tokens: list[Token] = []
    i, line, line_start = 0, 1, 0
    n = len(script)

    def here(at: int) -> Position:
        return Position(line, at - line_start + 1)

    while i < n:
        ch = script[i]
        if ch == "\n":
            i += 1
            line, line_start = line + 1, i
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == "#":
            while i < n and script[i] != "\n":
                i += 1
            continue
        start = here(i)
        if ch in "(),;":
            kind = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA, ";": Kind.SEMICOLON}[ch]
            tokens.append(Token(kind, ch, start))
            i += 1
            continue
        if ch == "'":
            text: list[str] = []
            j = i + 1
            start_line, start_line_start = line, line_start
            while True:
                if j >= n:
                    raise MdlSyntaxError("Unterminated string", Position(start_line, i - start_line_start + 1))
                c = script[j]
                if c == "\\" and j + 1 < n and script[j + 1] in "'\\":
                    text.append(script[j + 1])
                    j += 2
                    continue
                if c == "'":
                    break
                if c == "\n":
                    line, line_start = line + 1, j + 1
                text.append(c)
                j += 1
            tokens.append(Token(Kind.STRING, "".join(text), start))
            i = j + 1
            continue
        if _WORD_CHARS.match(ch) or (ch == "-" and i + 1 < n and script[i + 1].isdigit()):
            j = i + 1
            while j < n and _WORD_CHARS.match(script[j]):
                j += 1
            text_run = script[i:j]
            if _NUMBER.fullmatch(text_run):
                tokens.append(Token(Kind.NUMBER, text_run, start))
            elif text_run.startswith("-") or set(text_run) <= set("0123456789."):
                raise MdlSyntaxError(f"Invalid number [{text_run}]", start)
            else:
                tokens.append(Token(Kind.WORD, text_run, start))
            i = j
            continue
        if ch in _UNSUPPORTED_OPENERS:
            raise MdlSyntaxError(
                f"Unsupported attribute value starting [{ch}]: {_UNSUPPORTED_OPENERS[ch]} values are not supported",
                start,
            )
        raise MdlSyntaxError(f"Unexpected character [{ch}]", start)
    tokens.append(Token(Kind.END, "", here(i)))
    return tokens


def parse(script: str) -> tuple[Statement, ...]:
    """Every statement of ``script``, or :class:`MdlSyntaxError` with the line and column of the
    first thing that is not MDL vaultjobs understands. Nothing is applied here."""
    return _Parser(tokenize(script)).script()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # -- token helpers ---------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def at_end(self) -> bool:
        return self.current.kind is Kind.END

    def advance(self) -> Token:
        token = self.current
        if token.kind is not Kind.END:
            self.i += 1
        return token

    def expect(self, kind: Kind, what: str) -> Token:
        token = self.current
        if token.kind is not kind:
            raise MdlSyntaxError(f"Expected {what}, found {token.describe()}", token.position)
        return self.advance()

    def name(self, what: str) -> Token:
        token = self.current
        if token.kind is Kind.WORD and token.text.upper() == "IF":
            raise MdlSyntaxError("Unsupported operator [IF EXISTS / IF NOT EXISTS]", token.position)
        return self.expect(Kind.WORD, what)

    # -- grammar ---------------------------------------------------------------------------------

    def script(self) -> tuple[Statement, ...]:
        if self.current.kind is Kind.END:
            raise MdlSyntaxError(
                "The script is empty; it must start with CREATE, RECREATE, RENAME, ALTER or DROP",
                self.current.position,
            )
        statements: list[Statement] = []
        while not self.at_end():
            statements.append(self.statement(len(statements) + 1))
        return tuple(statements)

    def statement(self, number: int) -> Statement:
        token = self.current
        if token.kind is not Kind.WORD or token.text.upper() not in Command.__members__:
            raise MdlSyntaxError(
                f"Unsupported command {token.describe()}: a statement starts with CREATE, RECREATE, RENAME, "
                "ALTER or DROP",
                token.position,
            )
        self.advance()
        command = Command(token.text.upper())
        type_token = self.expect(Kind.WORD, "a component type")
        if type_token.text not in COMPONENT_TYPES:
            raise MdlSyntaxError(
                f"Unsupported component type [{type_token.text}]: vaultjobs supports "
                + ", ".join(sorted(COMPONENT_TYPES)),
                type_token.position,
            )
        name_token = self.name("a component name")
        component = Component(type=type_token.text, name=name_token.text, position=type_token.position)
        subcommands: tuple[SubCommand, ...] = ()
        new_name: str | None = None
        if command is Command.DROP:
            pass
        elif command is Command.RENAME:
            self.keyword("TO")
            new_name = self.name("the new name").text
        elif command is Command.ALTER:
            attributes, subcommands = self.alter_body(type_token.text)
            component = Component(
                type=component.type, name=component.name, attributes=attributes, position=component.position
            )
        else:
            component = self.component_body(component, COMPONENT_TYPES[type_token.text])
        self.end_of_statement()
        return Statement(
            number=number,
            command=command,
            component=component,
            position=token.position,
            subcommands=subcommands,
            new_name=new_name,
        )

    def keyword(self, word: str) -> Token:
        token = self.current
        if token.kind is not Kind.WORD or token.text.upper() != word:
            raise MdlSyntaxError(f"Expected {word}, found {token.describe()}", token.position)
        return self.advance()

    def end_of_statement(self) -> None:
        if self.current.kind is Kind.END:
            return
        self.expect(Kind.SEMICOLON, "[;] at the end of the statement")

    def component_body(self, component: Component, subtype: str | None) -> Component:
        """``( attr(…), Subtype name ( … ), … )`` after a component's name."""
        self.expect(Kind.LPAREN, "[(]")
        attributes: list[Attribute] = []
        subcomponents: list[Component] = []
        if self.current.kind is not Kind.RPAREN:
            while True:
                token = self.current
                if token.kind is Kind.WORD and self.peek().kind is Kind.LPAREN:
                    self.add_attribute(attributes, self.attribute())
                elif token.kind is Kind.WORD and self.peek().kind is Kind.WORD:
                    sub = self.subcomponent(component.type, subtype)
                    if any(s.name == sub.name for s in subcomponents):
                        raise MdlSyntaxError(f"{sub.type} [{sub.name}] is given twice", sub.position)
                    subcomponents.append(sub)
                else:
                    raise MdlSyntaxError(f"Expected an attribute, found {token.describe()}", token.position)
                if self.current.kind is Kind.COMMA:
                    self.advance()
                    continue
                break
        self.expect(Kind.RPAREN, "[,] or [)]")
        return Component(
            type=component.type,
            name=component.name,
            attributes=tuple(attributes),
            subcomponents=tuple(subcomponents),
            position=component.position,
        )

    def subcomponent(self, parent_type: str, subtype: str | None) -> Component:
        type_token = self.advance()
        if type_token.text.upper() in SubAction.__members__:
            raise MdlSyntaxError(f"[{type_token.text}] is only allowed in ALTER", type_token.position)
        if subtype is None or type_token.text != subtype:
            raise MdlSyntaxError(
                f"Unsupported subcomponent type [{type_token.text}] in {parent_type}"
                + (f": {parent_type} holds {subtype}" if subtype else ""),
                type_token.position,
            )
        name_token = self.name(f"a {subtype} name")
        return self.component_body(
            Component(type=subtype, name=name_token.text, position=type_token.position), subtype=None
        )

    def alter_body(self, component_type: str) -> tuple[tuple[Attribute, ...], tuple[SubCommand, ...]]:
        subtype = COMPONENT_TYPES[component_type]
        self.expect(Kind.LPAREN, "[(]")
        attributes: list[Attribute] = []
        subcommands: list[SubCommand] = []
        if self.current.kind is not Kind.RPAREN:
            while True:
                token = self.current
                if token.kind is Kind.WORD and self.peek().kind is Kind.LPAREN:
                    self.add_attribute(attributes, self.attribute())
                elif token.kind is Kind.WORD and token.text.upper() in SubAction.__members__:
                    subcommands.append(self.subcommand(component_type, subtype))
                elif token.kind is Kind.WORD and self.peek().kind is Kind.WORD:
                    raise MdlSyntaxError(
                        f"In ALTER, [{token.text}] needs ADD, MODIFY, RENAME or DROP before it", token.position
                    )
                else:
                    raise MdlSyntaxError(
                        f"Expected an attribute or ADD, MODIFY, RENAME, DROP, found {token.describe()}",
                        token.position,
                    )
                if self.current.kind is Kind.COMMA:
                    self.advance()
                    continue
                break
        self.expect(Kind.RPAREN, "[,] or [)]")
        return tuple(attributes), tuple(subcommands)

    def subcommand(self, component_type: str, subtype: str) -> SubCommand:
        action_token = self.advance()
        action = SubAction(action_token.text.upper())
        type_token = self.expect(Kind.WORD, "a subcomponent type")
        if type_token.text != subtype:
            raise MdlSyntaxError(
                f"Unsupported subcomponent type [{type_token.text}] in {component_type}: "
                f"{component_type} holds {subtype}",
                type_token.position,
            )
        name_token = self.name(f"a {subtype} name")
        position = action_token.position
        if action is SubAction.DROP:
            return SubCommand(action=action, type=subtype, name=name_token.text, position=position)
        if action is SubAction.RENAME:
            self.keyword("TO")
            new_name = self.name("the new name").text
            return SubCommand(
                action=action, type=subtype, name=name_token.text, new_name=new_name, position=position
            )
        component = self.component_body(
            Component(type=subtype, name=name_token.text, position=type_token.position), subtype=None
        )
        return SubCommand(action=action, type=subtype, name=name_token.text, component=component, position=position)

    @staticmethod
    def add_attribute(attributes: list[Attribute], attribute: Attribute) -> None:
        if any(a.name == attribute.name for a in attributes):
            raise MdlSyntaxError(f"Attribute [{attribute.name}] is given twice", attribute.position)
        attributes.append(attribute)

    def attribute(self) -> Attribute:
        name_token = self.advance()
        self.expect(Kind.LPAREN, "[(]")
        values: list[Scalar] = []
        if self.current.kind is not Kind.RPAREN:
            while True:
                values.append(self.value())
                if self.current.kind is Kind.COMMA:
                    self.advance()
                    continue
                break
        self.expect(Kind.RPAREN, f"[,] or [)] closing [{name_token.text}]")
        return Attribute(name=name_token.text, values=tuple(values), position=name_token.position)

    def value(self) -> Scalar:
        token = self.current
        if token.kind is Kind.STRING:
            self.advance()
            return token.text
        if token.kind is Kind.NUMBER:
            self.advance()
            return Decimal(token.text) if "." in token.text else int(token.text)
        if token.kind is Kind.WORD and token.text in ("true", "false"):
            self.advance()
            return token.text == "true"
        raise MdlSyntaxError(
            f"Expected a value ('text', a number, true or false), found {token.describe()}", token.position
        )
