"""The API's routes, one module per family of Vault endpoints."""

from __future__ import annotations

import functools

from vaultjobs.api.services import Services
from vaultjobs.control import transitions
from vaultjobs.jobs import Jobs


def jobs_of(services: Services) -> Jobs:
    """The job domain over the API's services: every route that starts or guards jobs goes through it."""
    return Jobs(
        store=services.store,
        registry=services.registry,
        clock=services.clock,
        schedule_grace=services.settings.schedule_grace,
        notify=services.notify,
        hold=None if services.control is None else functools.partial(transitions.holder, services.control),
        notify_queued=services.notify_queued,
    )
