"""What the API's handlers work with, gathered in one value built at start-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaultjobs.accounts import Accounts
from vaultjobs.control.limits import Limits
from vaultjobs.registry import Registry
from vaultjobs.settings import Settings
from vaultjobs.store import Store
from vaultjobs.timeutil import Clock

if TYPE_CHECKING:
    from vaultjobs.control.plane import ControlPlane


@dataclass(frozen=True)
class Services:
    store: Store
    accounts: Accounts
    registry: Registry
    settings: Settings
    clock: Clock
    #: Wakes the engine when a job was enqueued or scheduled.
    notify: Callable[[], None]
    #: The limits in force (the settings' values unless the control plane changed them).
    limits: Limits
    #: The test control plane, when the server runs with it.
    control: ControlPlane | None = None
    #: Wakes the engine's workers only, when a job was queued (``notify`` when None).
    notify_queued: Callable[[], None] | None = None
