"""The control plane's reset: the store emptied of everything a test made, in one transaction.

What stays: the schema, the user ``keep_user`` (admin, with its password), the workers and leases
of the running nodes, the control plane's event log (a stream that spans the reset still gets the
events it had not read yet, then the reset's own), and the object catalog's revision counter
(moved on, so every node's cached catalog is read again). The session epoch moves with the
sessions deleted, so every node's session cache forgets them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from vaultjobs.store.dialect import Connection, Dialect
from vaultjobs.timeutil import to_ms

#: Emptied in this order (children before parents); tables a store does not have are skipped.
TABLES = (
    # jobs
    "control_scripted_jobs", "content_job_results", "object_job_results", "object_job_plans", "status_polls",
    "tasks", "job_log", "job_transitions", "submissions", "content_requests", "object_requests", "object_deletions",
    "jobs", "job_history_counts", "job_definitions",
    # content
    "binder_nodes", "renditions", "document_versions", "documents", "content_blob_chunks", "content_blobs",
    "content_files",
    # objects
    "object_references", "object_unique_values", "object_records", "object_sequences", "object_stamps",
    "object_files",
    # sessions and the rest
    "sessions", "auth_attempts", "burst_windows",
    "control_limits", "control_scripts", "control_faults", "control_requests",
)


def existing_tables(conn: Connection, db: Dialect) -> set[str]:
    if db.modifying_cte:  # PostgreSQL
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()
    else:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(row[0]) for row in rows}


def wipe(db: Dialect, *, keep_user: str, standard_catalog: dict[str, Any], now: datetime) -> None:
    """Empty the store but for ``keep_user``; the catalog becomes ``standard_catalog`` again."""
    with db.write() as conn:
        present = existing_tables(conn, db)
        for table in TABLES:
            if table in present:
                conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM users WHERE username <> ?", (keep_user,))
        conn.execute("UPDATE users SET failed_logins = 0, locked_until = NULL, active = 1 WHERE username = ?",
                     (keep_user,))
        if "object_catalog" in present:
            conn.execute("UPDATE object_catalog SET revision = revision + 1, body = ?, modified_at = ?",
                         (orjson.dumps(standard_catalog).decode(), to_ms(now)))
        conn.execute("UPDATE session_epoch SET epoch = epoch + 1 WHERE id = 1")
        conn.execute("UPDATE control_clock SET frozen_at = NULL, offset_ms = 0, version = version + 1 WHERE id = 1")
