"""Vault envelopes as XML, by DESIGN.md's rules, safe against injection.

Root ``<VaultResponse>``; object keys become child elements; a list becomes a wrapper element named
after its key holding one element per item, named by the key without its trailing ``s``, or ``item``
(keys without a trailing ``s``, and ``progress``). Null fields are omitted. Text is escaped and
characters XML cannot carry are replaced; a key that is not a safe element name becomes
``<entry name="…">``, so nothing user-supplied ever becomes markup.
"""

from __future__ import annotations

import re
from typing import Any

_SAFE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ITEM_KEYS = frozenset({"progress"})


def escape_text(text: str) -> str:
    text = _INVALID_XML_CHARS.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(text: str) -> str:
    return escape_text(text).replace('"', "&quot;").replace("'", "&apos;")


def _open_close(name: str) -> tuple[str, str]:
    if _SAFE_NAME.match(name) and not name.lower().startswith("xml"):
        return f"<{name}>", f"</{name}>"
    return f'<entry name="{escape_attribute(name)}">', "</entry>"


def item_name(key: str) -> str:
    if key in _ITEM_KEYS or not key.endswith("s") or len(key) < 2:
        return "item"
    return key[:-1]


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return escape_text(str(value))


def _emit(parts: list[str], key: str, value: Any) -> None:
    if value is None:
        return
    open_tag, close_tag = _open_close(key)
    if isinstance(value, dict):
        parts.append(open_tag)
        for k, v in value.items():
            _emit(parts, str(k), v)
        parts.append(close_tag)
    elif isinstance(value, list | tuple):
        parts.append(open_tag)
        child = item_name(key)
        for v in value:
            _emit(parts, child, v)
        parts.append(close_tag)
    else:
        parts.append(open_tag + _scalar(value) + close_tag)


def render_xml(payload: dict[str, Any]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<VaultResponse>"]
    for key, value in payload.items():
        _emit(parts, str(key), value)
    parts.append("</VaultResponse>")
    return "".join(parts).encode("utf-8")
