"""Reading request parameters the Vault way: bad values are INVALID_DATA naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping

from vaultjobs import errors

MAX_ID = 2**63 - 1


def parse_id(raw: str, name: str = "job_id") -> int:
    """A positive integer id that fits in 64 bits."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        raise errors.InvalidData(f"Invalid value for [{name}]: [{raw[:64]}] is not a valid id")
    return int(raw)


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise errors.InvalidData(f"Invalid value for parameter [{name}]: must be an integer from {low} to {high}")
    return int(raw)
