"""The control plane's event log: ordered by id, shared through the store, bounded, cleared by a reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vaultjobs.store import Store
from vaultjobs.store.control_events import KEPT_EVENTS

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_events_are_read_in_order_after_an_id(store: Store) -> None:
    events = store.control_events
    assert events.latest_id() == 0
    first = events.publish("clock.advanced", T0, {"seconds": 5})
    second = events.publish("fault.fired", T0 + timedelta(seconds=1), {"rule": 3}, job_id=42)
    assert second > first == events.since(0)[0].id
    read = events.since(first)
    later = T0 + timedelta(seconds=1)
    assert [(e.kind, e.job_id, e.data, e.at) for e in read] == [("fault.fired", 42, {"rule": 3}, later)]
    assert events.latest_id() == second
    assert events.since(0, limit=1)[0].id == first


def test_a_reset_clears_events_but_never_reuses_an_id(store: Store) -> None:
    events = store.control_events
    before = events.publish("clock.frozen", T0, {})
    events.clear()
    assert events.since(0) == [] and events.latest_id() == 0
    assert events.publish("clock.resumed", T0, {}) > before


def test_the_log_keeps_only_the_newest_events(store: Store, backend: str) -> None:
    events = store.control_events
    with store.dialect.write() as conn:  # jump the ids close to a pruning point without 10,000 publishes
        conn.execute("INSERT INTO control_events (id, at, kind, data) VALUES (?, 0, 'old', '{}')", (1,))
        conn.execute("INSERT INTO control_events (id, at, kind, data) VALUES (?, 0, 'old', '{}')",
                     (KEPT_EVENTS + 98,))
        if backend == "postgres":  # explicit ids do not move a sequence
            conn.execute("SELECT setval(pg_get_serial_sequence('control_events', 'id'), ?)", (KEPT_EVENTS + 98,))
    newest = events.publish("new", T0, {})
    assert newest == KEPT_EVENTS + 99
    # the next publish at a multiple of 100 prunes what fell out of the window
    pruning = events.publish("new", T0, {})
    assert pruning % 100 == 0
    assert [e.id for e in events.since(0)] == [KEPT_EVENTS + 98, newest, pruning]
