"""The test control plane under ``/_vaultjobs/``: what makes vaultjobs a local Vault to test against.

Off unless the server runs with ``--control-plane``; then its routes answer plain JSON (never Vault
envelopes), keep their state in the store so that every replica agrees, and sit behind
:class:`~vaultjobs.control.gate.ControlGate`. Each part (clock, limits, seed, transitions, faults,
journal, events) is a module with a ``routes(services)`` function listed in
:data:`vaultjobs.control.app.PARTS`.

The parts that the service itself reads (the clock, the limits) are imported by the core modules, and
:mod:`vaultjobs.control.client` by test suites without the server's dependencies; this package
therefore loads its routes and middleware only when asked for them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["control_middleware", "control_routes"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from vaultjobs.control import app

        return getattr(app, name)
    raise AttributeError(name)
