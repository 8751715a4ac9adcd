"""Job definitions: named, scheduled runs of a processor, loaded from a TOML file.

.. code-block:: toml

    [[job]]
    name = "nightly_export"          # letters, digits, underscores
    processor = "demo"
    title = "Nightly export"         # optional; defaults to the name
    owner = "admin"                  # the user the instances run as
    cron = "0 2 * * *"               # a cron expression in `timezone` …
    timezone = "America/Los_Angeles"
    # interval = "15m"               # … or an interval instead of cron
    parameters = { items = 5 }
    timeout = "2h"                   # optional; default: the processor's
    inactivity_timeout = "10m"       # optional; default: the processor's
    single_instance = true           # optional; only one instance queued or running at a time
    enabled = true                   # optional; only used when the definition is new

Loading upserts every definition of the file. A definition already in the store keeps its enabled
flag (``vaultjobs definitions enable|disable`` owns it); one that left the file is disabled.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from croniter import croniter

from vaultjobs.models import Definition
from vaultjobs.sdk import MAX_PARAMETERS_BYTES
from vaultjobs.store import Store
from vaultjobs.timeutil import parse_duration, zone

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_FIELDS = frozenset(
    {"name", "processor", "title", "owner", "cron", "timezone", "interval", "parameters", "timeout",
     "inactivity_timeout", "single_instance", "enabled"}
)


class DefinitionError(ValueError):
    """A definitions file or entry is wrong; the message names the entry and the field."""


@dataclass(frozen=True)
class LoadReport:
    loaded: list[str]
    disabled: list[str]


def next_run(definition: Definition, after: datetime, last: datetime | None) -> datetime:
    """When the instance after ``after`` is due.

    Cron schedules fire at the next matching time in the definition's time zone (daylight saving
    handled by croniter). Interval schedules keep their phase: ``last + k × interval`` for the
    smallest k that is later than ``after``; the first instance is one interval from ``after``.
    """
    if definition.cron:
        local = after.astimezone(zone(definition.timezone))
        nxt: datetime = croniter(definition.cron, local).get_next(datetime)
        return nxt
    assert definition.interval is not None
    step = timedelta(seconds=definition.interval)
    if last is None:
        return after + step
    periods = max(1, math.floor((after - last) / step) + 1)
    return last + periods * step


def parse_definition(entry: dict[str, Any], owner_ids: dict[str, int]) -> Definition:
    name = entry.get("name")
    where = f"job [{name}]" if isinstance(name, str) else "a [[job]] entry"
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(f"{where}: name must be a letter then letters, digits or underscores")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise DefinitionError(f"{where}: unknown field [{unknown[0]}]")
    processor = entry.get("processor")
    if not isinstance(processor, str) or not processor:
        raise DefinitionError(f"{where}: processor is required")
    owner = entry.get("owner", "admin")
    if owner not in owner_ids:
        raise DefinitionError(f"{where}: owner [{owner}] is not a user")
    cron, interval = entry.get("cron"), entry.get("interval")
    if (cron is None) == (interval is None):
        raise DefinitionError(f"{where}: give exactly one of cron and interval")
    timezone = entry.get("timezone", "UTC")
    try:
        zone(timezone)
    except ValueError as exc:
        raise DefinitionError(f"{where}: {exc}") from exc
    if cron is not None and (not isinstance(cron, str) or not croniter.is_valid(cron)):
        raise DefinitionError(f"{where}: cron [{cron}] is not a valid cron expression")
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict):
        raise DefinitionError(f"{where}: parameters must be a table")
    if len(orjson.dumps(parameters, default=str)) > MAX_PARAMETERS_BYTES:
        raise DefinitionError(f"{where}: parameters are larger than {MAX_PARAMETERS_BYTES} bytes")
    durations: dict[str, float | None] = {}
    for key in ("interval", "timeout", "inactivity_timeout"):
        raw = entry.get(key)
        try:
            durations[key] = None if raw is None else parse_duration(raw)
        except (ValueError, TypeError) as exc:
            raise DefinitionError(f"{where}: {key} [{raw}] is not a duration like 90s, 15m, 4h") from exc
        if durations[key] is not None and durations[key] == 0:
            raise DefinitionError(f"{where}: {key} must be more than zero")
    for flag in ("single_instance", "enabled"):
        if not isinstance(entry.get(flag, False), bool):
            raise DefinitionError(f"{where}: {flag} must be true or false")
    title = entry.get("title")
    if title is not None and not isinstance(title, str):
        raise DefinitionError(f"{where}: title must be a string")
    return Definition(
        name=name,
        processor=processor,
        title=title,
        parameters=parameters,
        owner_id=owner_ids[owner],
        cron=cron,
        timezone=timezone,
        interval=durations["interval"],
        timeout=durations["timeout"],
        inactivity_timeout=durations["inactivity_timeout"],
        single_instance=bool(entry.get("single_instance", False)),
        enabled=bool(entry.get("enabled", True)),
    )


def read_definitions(path: Path, store: Store) -> list[Definition]:
    """Parse and check every definition of ``path``; nothing is stored when any is wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DefinitionError(f"cannot read {path}: {exc}") from exc
    entries = document.get("job", [])
    if set(document) - {"job"} or not isinstance(entries, list):
        raise DefinitionError(f"{path}: expected only [[job]] entries")
    owners = {u.username: u.id for u in store.users.list_users() if u.active}
    definitions = [parse_definition(entry, owners) for entry in entries]
    names = [d.name for d in definitions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DefinitionError(f"{path}: job [{duplicates[0]}] is defined twice")
    return definitions


def load_definitions(path: Path, store: Store, now: datetime) -> LoadReport:
    definitions = read_definitions(path, store)
    for definition in definitions:
        store.schedules.upsert_definition(definition, now, keep_enabled=True)
    present = {d.name for d in definitions}
    disabled = [
        d.name for d in store.schedules.list_definitions() if d.name not in present and d.enabled
    ]
    for name in disabled:
        store.schedules.set_definition_enabled(name, False, now)
    return LoadReport(loaded=sorted(present), disabled=disabled)
