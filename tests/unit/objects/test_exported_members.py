"""The public surface of the object packages is what their ``__all__`` says, and nothing is missing."""

from __future__ import annotations

import vaultjobs.objects as objects
import vaultjobs.objects.mdl as mdl


def test_exported_members_exist_and_are_sorted() -> None:
    for module in (objects, mdl):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
