from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vaultjobs.definitions import DefinitionError, load_definitions, next_run, parse_definition
from vaultjobs.models import Definition
from vaultjobs.store import SqliteStore
from vaultjobs.testing import ManualClock

OWNERS = {"admin": 1}


def definition(**kw: object) -> Definition:
    base: dict[str, object] = {"name": "d", "processor": "demo", "parameters": {}, "owner_id": 1}
    return Definition(**{**base, **kw})  # type: ignore[arg-type]


def test_cron_runs_at_local_wall_time_across_daylight_saving() -> None:
    nightly = definition(cron="0 2 * * *", timezone="America/Los_Angeles")
    winter = next_run(nightly, datetime(2026, 1, 10, 12, tzinfo=UTC), None)
    summer = next_run(nightly, datetime(2026, 7, 10, 12, tzinfo=UTC), None)
    assert winter.astimezone(UTC) == datetime(2026, 1, 11, 10, tzinfo=UTC)  # 02:00 PST = 10:00 UTC
    assert summer.astimezone(UTC) == datetime(2026, 7, 11, 9, tzinfo=UTC)  # 02:00 PDT = 09:00 UTC


def test_interval_keeps_its_phase_and_skips_what_was_missed() -> None:
    every = definition(interval=600.0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_run(every, start, None) == start + timedelta(minutes=10)
    assert next_run(every, start, start) == start + timedelta(minutes=10)
    # the server was down for 35 minutes: the next one keeps the :10 phase, after now
    assert next_run(every, start + timedelta(minutes=35), start) == start + timedelta(minutes=40)
    assert next_run(every, start + timedelta(minutes=40), start) == start + timedelta(minutes=50)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"processor": "demo", "interval": "1m"}, "name"),
        ({"name": "bad name", "processor": "demo", "interval": "1m"}, "name"),
        ({"name": "x", "interval": "1m"}, "processor is required"),
        ({"name": "x", "processor": "demo"}, "exactly one of cron and interval"),
        ({"name": "x", "processor": "demo", "interval": "1m", "cron": "* * * * *"}, "exactly one"),
        ({"name": "x", "processor": "demo", "cron": "every day"}, "not a valid cron"),
        ({"name": "x", "processor": "demo", "interval": "soon"}, "not a duration"),
        ({"name": "x", "processor": "demo", "interval": "0s"}, "more than zero"),
        ({"name": "x", "processor": "demo", "interval": "1m", "timezone": "Mars/Base"}, "time zone"),
        ({"name": "x", "processor": "demo", "interval": "1m", "owner": "ghost"}, "not a user"),
        ({"name": "x", "processor": "demo", "interval": "1m", "parameters": [1]}, "parameters"),
        ({"name": "x", "processor": "demo", "interval": "1m", "single_instance": "yes"}, "true or false"),
        ({"name": "x", "processor": "demo", "interval": "1m", "colour": "red"}, "unknown field [colour]"),
        ({"name": "x", "processor": "demo", "interval": "1m", "parameters": {"p": "x" * 9000}}, "8192 bytes"),
    ],
)
def test_bad_entries_are_named(entry: dict[str, object], message: str) -> None:
    with pytest.raises(DefinitionError, match=message.replace("[", r"\[")):
        parse_definition(entry, OWNERS)


def test_load_upserts_keeps_enabled_flag_and_disables_removed(
    tmp_path: Path, store: SqliteStore, clock: ManualClock
) -> None:
    store.users.create_user(username="admin", password_hash="x", timezone="UTC", is_admin=True, now=clock.now())
    path = tmp_path / "jobs.toml"
    path.write_text('[[job]]\nname = "a"\nprocessor = "demo"\ninterval = "1h"\n'
                    '[[job]]\nname = "b"\nprocessor = "demo"\ncron = "0 2 * * *"\nenabled = false\n')
    report = load_definitions(path, store, clock.now())
    assert report.loaded == ["a", "b"]
    assert {d.name: d.enabled for d in store.schedules.list_definitions()} == {"a": True, "b": False}
    store.schedules.set_definition_enabled("b", True, clock.now())
    path.write_text('[[job]]\nname = "b"\nprocessor = "demo"\ncron = "0 3 * * *"\nenabled = false\n')
    report = load_definitions(path, store, clock.now())
    assert report.disabled == ["a"]
    defs = {d.name: d for d in store.schedules.list_definitions()}
    assert defs["b"].enabled is True and defs["b"].cron == "0 3 * * *"  # the CLI's flag wins
    assert defs["a"].enabled is False


def test_duplicate_names_and_broken_files(tmp_path: Path, store: SqliteStore, clock: ManualClock) -> None:
    store.users.create_user(username="admin", password_hash="x", timezone="UTC", is_admin=True, now=clock.now())
    path = tmp_path / "jobs.toml"
    path.write_text('[[job]]\nname = "a"\nprocessor = "demo"\ninterval = "1h"\n' * 2)
    with pytest.raises(DefinitionError, match="defined twice"):
        load_definitions(path, store, clock.now())
    path.write_text("[[job]\n")
    with pytest.raises(DefinitionError, match="cannot read"):
        load_definitions(path, store, clock.now())
    assert store.schedules.list_definitions() == []
