"""Limit overrides set through the control plane: name → JSON value, read by every replica."""

from __future__ import annotations

from typing import Any

import orjson

from vaultjobs.store.dialect import Dialect


class ControlLimits:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def overrides(self) -> dict[str, Any]:
        rows = self.db.connection().execute("SELECT name, value FROM control_limits").fetchall()
        return {str(name): orjson.loads(value) for name, value in rows}

    def set(self, values: dict[str, Any]) -> None:
        with self.db.write() as conn:
            for name, value in values.items():
                conn.execute(
                    "INSERT INTO control_limits (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (name, orjson.dumps(value).decode()),
                )

    def clear(self) -> None:
        self.db.write_one("DELETE FROM control_limits")
