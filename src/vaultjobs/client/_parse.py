"""Decoding Vault bodies (JSON or XML) into one plain payload shape, and coercing its values.

JSON decodes as usual. XML follows Vault's (and vaultjobs') rules: the root element holds one child per
top-level key; an element whose children all carry the key's singular name (``errors/error``,
``jobs/job``) or ``item`` (``data/item``, ``progress/item``) is a list; any other element with children is
an object; a leaf is text. XML therefore yields strings everywhere, and the model constructors coerce
through the helpers below so both formats build the same models.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = [
    "as_datetime",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "decode_body",
    "is_xml",
]

Payload = dict[str, Any]


def is_xml(content_type: str | None) -> bool:
    return content_type is not None and "xml" in content_type.lower()


def decode_body(content: bytes, content_type: str | None) -> Payload:
    """Decode a response body into a dict; raises ``ValueError`` if it is neither a JSON object nor XML."""
    text = content.lstrip()
    if is_xml(content_type) or text.startswith(b"<"):
        try:
            root = ET.fromstring(content)
        except ET.ParseError as exc:
            raise ValueError(f"body is not well-formed XML: {exc}") from exc
        value = _xml_value(root)
        return value if isinstance(value, dict) else {}
    try:
        decoded = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise ValueError("body is not a JSON object")
    return decoded


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_value(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    tag = _local(element.tag)
    names = {_local(child.tag) for child in children}
    singular = tag[:-1] if tag.endswith("s") else None
    if len(names) == 1 and (names == {"item"} or names == {singular}):
        return [_xml_value(child) for child in children]
    result: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        value = _xml_value(child)
        if name in result:  # repeated element inside an object: gather it into a list
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[name] = value
    return result


def as_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return str(value)


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(f"expected an integer, got {value!r}")


def as_datetime(value: Any) -> dt.datetime | None:
    """Parse an ISO 8601 date-time (``Z`` or an offset) into an aware datetime; naive input is UTC."""
    text = as_str(value)
    if text is None:
        return None
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def as_list(value: Any) -> list[Any]:
    """A list from JSON, or from XML where a one-element list and an empty one may look like scalars."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: Any) -> Mapping[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return value
    raise ValueError(f"expected an object, got {type(value).__name__}")
