"""The store's virtual clock and limit overrides, on both stores, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vaultjobs.control.clock import StoreClock
from vaultjobs.control.limits import InvalidLimit, Limits
from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.testing import ManualClock

AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def test_frozen_running_and_resumed(store: Store, clock: ManualClock) -> None:
    virtual = StoreClock(store.control_clock, clock)
    assert virtual.now() == clock.now() and virtual.state().frozen_at is None  # a new store: real time
    virtual.freeze(AT)
    clock.advance(30)
    assert virtual.now() == AT  # frozen: the real clock moves, the virtual one does not
    virtual.stand_at(AT + timedelta(minutes=5), frozen=True)
    assert virtual.now() == AT + timedelta(minutes=5)
    virtual.resume()
    assert virtual.now() == AT + timedelta(minutes=5)
    clock.advance(2.5)
    assert virtual.now() == AT + timedelta(minutes=5, seconds=2.5)  # running on from where it stood
    assert virtual.view()["offset_seconds"] == (AT + timedelta(minutes=5) - (clock.now() - timedelta(seconds=2.5))
                                               ).total_seconds()
    virtual.reset()
    assert virtual.now() == clock.now()
    assert virtual.monotonic() == clock.monotonic()  # monotonic stays real


def test_another_reader_sees_a_change_at_once(store: Store, clock: ManualClock) -> None:
    one, other = StoreClock(store.control_clock, clock), StoreClock(store.control_clock, clock)
    versions = [other.state().version]
    one.freeze(AT)
    assert other.now() == AT
    versions.append(other.state().version)
    one.resume()
    versions.append(other.state().version)
    assert versions == sorted(set(versions))  # every change is a new version


def test_limits_read_the_store_only_with_overrides(store: Store, settings: Settings) -> None:
    fixed = Limits(settings)
    assert fixed.current() is fixed.defaults and fixed.defaults.cancel_batch_size == 500
    with pytest.raises(InvalidLimit):
        fixed.set({"status_window": 1})
    limits, elsewhere = Limits(settings, store.control_limits), Limits(settings, store.control_limits)
    limits.set({"status_window": 0.5, "job_timeout": 60})
    assert elsewhere.current().status_window == 0.5 and elsewhere.current().job_timeout == 60.0
    assert elsewhere.current().session_max_age == settings.session_max_age
    for bad in ({"status_window": -1}, {"nope": 1}, {"job_timeout": 0}, {"auth_attempts_per_minute": 1.5}):
        with pytest.raises(InvalidLimit):
            limits.set(bad)
    limits.clear()
    assert elsewhere.current() == elsewhere.defaults
