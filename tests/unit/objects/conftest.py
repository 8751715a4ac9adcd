"""Fixtures for the object tests: MDL scripts from ``scripts/`` (Vault's own fixture scripts among
them) and catalogs built from MDL that fail loudly when the MDL does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vaultjobs.objects import Catalog
from vaultjobs.objects.mdl import execute

SCRIPTS = Path(__file__).parent / "scripts"

Build = Callable[..., Catalog]


def _build(script: str, base: Catalog | None = None) -> Catalog:
    catalog, results = execute(base if base is not None else Catalog.standard(), script)
    failed = [r.message for r in results if not r.success]
    assert not failed, failed
    return catalog


@pytest.fixture
def script() -> Callable[[str], str]:
    """The text of ``scripts/{name}.mdl``: ``vapil_recreate``, ``vapil_alter``, ``vapil_drop`` (VAPIL's
    test fixtures, verbatim), ``vault_picklist`` (Vault's documented example) and ``tree``."""
    return lambda name: (SCRIPTS / f"{name}.mdl").read_text()


@pytest.fixture
def build() -> Build:
    """``build(script, base=Catalog.standard())``: the catalog after every statement succeeded."""
    return _build


@pytest.fixture
def tree(script: Callable[[str], str]) -> Catalog:
    """A three-level tree (product → batch → sample), a setnull reference and a picklist."""
    return _build(script("tree"))
