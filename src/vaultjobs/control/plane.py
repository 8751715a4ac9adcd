"""What the control plane's parts share on one node: the store, the virtual clock, the limits and the
engine (whose time rules a clock advance runs), and the event log they publish to."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultjobs.control.limits import Limits
from vaultjobs.settings import Settings
from vaultjobs.store import Store

if TYPE_CHECKING:
    from vaultjobs.control.clock import StoreClock
    from vaultjobs.engine import Engine


@dataclass
class ControlPlane:
    store: Store
    settings: Settings
    clock: StoreClock
    limits: Limits
    #: Set once the node's engine is built (the engine is built with this plane's clock).
    engine: Engine | None = None
    #: One clock advance at a time on this node.
    advancing: threading.Lock = field(default_factory=threading.Lock)
    #: What this node's in-memory counts of the store hold around a reset that empties it: each
    #: keeps its writes out while the reset runs and forgets what it counted until then.
    around_reset: list[Callable[[], AbstractContextManager[None]]] = field(default_factory=list)

    def publish(self, kind: str, data: dict[str, Any], *, job_id: int | None = None) -> int:
        """Append an event to the store's control event log, stamped with the virtual now."""
        return self.store.control_events.publish(kind, self.clock.now(), data, job_id=job_id)

    def wake_engine(self) -> None:
        """The clock or the jobs changed: every node's sleeping threads look again (PostgreSQL's NOTIFY
        reaches the other replicas)."""
        if self.engine is not None:
            self.engine.notify()
