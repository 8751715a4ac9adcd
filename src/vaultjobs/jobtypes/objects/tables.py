"""Record tables in and out: request bodies as JSON or CSV, answers as CSV.

JSON bodies are a list of objects, or one object taken as a one-element list (a Python client sends
that [U]). CSV bodies are RFC 4180 with a header line, UTF-8 (a byte-order mark is dropped); an empty
cell is no value. CSV answers quote as needed and end lines with CRLF, as Python's csv module does.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from vaultjobs import errors
from vaultjobs.objects.values import Origin

CSV_MEDIA_TYPE = "text/csv"


def is_csv(content_type: str | None) -> bool:
    return bool(content_type) and "text/csv" in (content_type or "").lower()


def wants_csv(accept: str | None) -> bool:
    return bool(accept) and "text/csv" in (accept or "").lower()


def read_records(body: bytes, content_type: str | None) -> tuple[list[dict[str, Any]], Origin]:
    """The records of a request body, and whether they came from JSON or CSV."""
    if is_csv(content_type):
        return read_csv(body), "csv"
    if not body.strip():
        raise errors.InvalidData("The request body is empty")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidData(f"The request body is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise errors.InvalidData("The request body must be a JSON list of records")
    return data, "json"


def read_csv(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.InvalidData("The CSV body is not UTF-8") from exc
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise errors.InvalidData(f"The CSV body is not valid CSV: {exc}") from exc
    if not rows:
        raise errors.InvalidData("The CSV body has no header line")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or any(not h for h in header):
        raise errors.InvalidData("The CSV header names a column twice or has an empty column name")
    out = []
    for number, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise errors.InvalidData(f"CSV line {number} has {len(row)} values; the header has {len(header)}")
        out.append({h: (v if v != "" else None) for h, v in zip(header, row, strict=True)})
    return out


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def error_cell(error_items: Iterable[tuple[str, str]]) -> str:
    """Deep copy's failure ``errors`` cell: each ``TYPE|message`` double-quoted, joined by commas
    (the csv writer then quotes the whole cell, doubling the inner quotes, as Vault's example shows)."""
    return ",".join('"' + f"{t}|{m}".replace('"', '""') + '"' for t, m in error_items)
