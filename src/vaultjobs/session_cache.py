"""Validated sessions kept in memory for a few seconds, so that most requests skip the session lookup.

A cached session counts only together with the store's session epoch read by the same request: the
database moves the epoch whenever any session ends or any user changes (store migration 0008 on
SQLite, 0005 on PostgreSQL), so a logout, a deactivation or a password change on any node is refused
at once on every node. The epoch rides along in a statement the request runs anyway (Retrieve Job
Status reads it with the job), or costs one primary-key read. An entry serves only while its
session's last-seen time is younger than the interval at which :class:`~vaultjobs.accounts.Accounts`
refreshes it; after that the full lookup runs again, refreshing it exactly as without the cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from vaultjobs.models import Session, User


@dataclass(frozen=True, slots=True)
class CachedSession:
    """A session as the store showed it, and the session epoch read in the same statement."""

    session: Session
    user: User
    epoch: int


class SessionCache:
    """At most ``max_entries`` sessions, each served while ``now - last_seen < fresh_for``."""

    def __init__(self, fresh_for: timedelta, max_entries: int = 10_000) -> None:
        self.fresh_for = fresh_for
        self.max_entries = max_entries
        self._entries: dict[bytes, CachedSession] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: bytes, now: datetime) -> CachedSession | None:
        entry = self._entries.get(token_hash)
        if entry is None or now - entry.session.last_seen >= self.fresh_for or now < entry.session.last_seen:
            return None
        return entry

    def put(self, entry: CachedSession) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries and entry.session.token_hash not in self._entries:
                # The oldest insertion goes: a burst of one-off sessions cannot grow the cache.
                self._entries.pop(next(iter(self._entries)))
            self._entries[entry.session.token_hash] = entry

    def discard(self, token_hash: bytes) -> None:
        with self._lock:
            self._entries.pop(token_hash, None)

    def __len__(self) -> int:
        return len(self._entries)
