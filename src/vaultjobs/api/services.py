"""What the API's handlers work with, gathered in one value built at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vaultjobs.accounts import Accounts
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock


@dataclass(frozen=True)
class Services:
    store: Store
    accounts: Accounts
    registry: Registry
    settings: Settings
    clock: Clock
    #: Wakes the engine when a job was enqueued or scheduled.
    notify: Callable[[], None]
    #: Wakes the engine's workers only, when a job was queued (``notify`` when None).
    notify_queued: Callable[[], None] | None = None
