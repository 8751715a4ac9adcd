"""The control plane's fault rules and their counts, shared by every replica.

A rule is stored as the JSON its caller posted (validated by :mod:`vaultjobs.control.faults`);
the store only keeps it and counts. :meth:`ControlFaults.count_call` is the one atomic step that
makes the counts exact on a cluster: a call that matches a rule takes the next call number under
the row's lock, the rule decides from that number whether it fires, and a firing is counted in the
same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from vaultjobs.store.dialect import Dialect


@dataclass(frozen=True)
class StoredFault:
    id: int
    rule: dict[str, Any]
    #: Matching calls seen, fired or not.
    calls: int
    #: Calls the rule answered.
    hits: int


def _fault(row: Any) -> StoredFault:
    return StoredFault(int(row[0]), orjson.loads(row[1]), int(row[2]), int(row[3]))


class ControlFaults:
    def __init__(self, db: Dialect) -> None:
        self.db = db

    def add(self, rule: dict[str, Any]) -> StoredFault:
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO control_faults (rule) VALUES (?) RETURNING id, rule, calls, hits",
                (orjson.dumps(rule).decode(),),
            ).fetchone()
        return _fault(row)

    def list(self) -> list[StoredFault]:
        """Every rule, oldest first (the order in which they are tried)."""
        rows = self.db.connection().execute("SELECT id, rule, calls, hits FROM control_faults ORDER BY id").fetchall()
        return [_fault(row) for row in rows]

    def delete(self, fault_id: int) -> bool:
        """Remove one rule; whether it existed."""
        return self.db.write_one("DELETE FROM control_faults WHERE id = ?", (fault_id,)).rowcount > 0

    def clear(self) -> None:
        self.db.write_one("DELETE FROM control_faults")

    def count_call(self, fault_id: int, fires: Callable[[int], bool]) -> bool | None:
        """Count one matching call of rule ``fault_id``; whether ``fires(call_number)`` said it fires
        (then counted as a hit too). None when the rule is gone."""
        with self.db.write() as conn:
            row = conn.execute(
                "UPDATE control_faults SET calls = calls + 1 WHERE id = ? RETURNING calls", (fault_id,)
            ).fetchone()
            if row is None:
                return None
            fired = fires(int(row[0]))
            if fired:
                conn.execute("UPDATE control_faults SET hits = hits + 1 WHERE id = ?", (fault_id,))
        return fired
