"""The Vault-shaped HTTP API."""

from __future__ import annotations

from vaultjobs.api.app import create_app

__all__ = ["create_app"]
