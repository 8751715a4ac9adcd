"""The API's routes, one module per family of Vault endpoints."""

from __future__ import annotations

from vaultjobs.api.services import Services
from vaultjobs.jobs import Jobs


def jobs_of(services: Services) -> Jobs:
    """The job domain over the API's services: every route that starts or guards jobs goes through it."""
    return Jobs(
        store=services.store,
        registry=services.registry,
        clock=services.clock,
        schedule_grace=services.settings.schedule_grace,
        notify=services.notify,
        notify_queued=services.notify_queued,
    )
