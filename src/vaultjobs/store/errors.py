"""What a store operation reports when it cannot be done."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation could not be done."""


class UserExists(StoreError):
    """A user with that name exists already."""


class UnknownUser(StoreError):
    """No user has that name."""
