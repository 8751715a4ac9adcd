"""The test control plane under ``/_vaultjobs/``: what makes vaultjobs a local Vault to test against.

Off unless the server runs with ``--control-plane``; then its routes answer plain JSON (never Vault
envelopes), keep their state in the store so that every replica agrees, and sit behind
:class:`~vaultjobs.control.gate.ControlGate`. Each part (clock, limits, seed, transitions, faults,
journal, events) is a module with a ``routes(services)`` function listed in
:data:`vaultjobs.control.app.PARTS`.
"""

from vaultjobs.control.app import control_routes

__all__ = ["control_routes"]
