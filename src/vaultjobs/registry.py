"""Which processors this node can run: the entry-point group ``vaultjobs.processors`` and modules named
with ``--processors``."""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from typing import Any

from vaultjobs.sdk import SPEC_ATTRIBUTE, ProcessorError, ProcessorSpec, spec_of

ENTRY_POINT_GROUP = "vaultjobs.processors"
logger = logging.getLogger(__name__)


class Registry:
    """Processor classes by name."""

    def __init__(self, classes: Iterable[type] = ()) -> None:
        self._classes: dict[str, type] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type) -> None:
        spec = spec_of(cls)
        existing = self._classes.get(spec.name)
        if existing is not None and existing is not cls:
            raise ProcessorError(
                f"two processors are called [{spec.name}]: {existing.__module__}.{existing.__qualname__} "
                f"and {cls.__module__}.{cls.__qualname__}"
            )
        self._classes[spec.name] = cls

    def get(self, name: str) -> type | None:
        return self._classes.get(name)

    def spec(self, name: str) -> ProcessorSpec | None:
        cls = self._classes.get(name)
        return None if cls is None else spec_of(cls)

    def instantiate(self, name: str) -> Any:
        cls = self._classes.get(name)
        if cls is None:
            raise ProcessorError(f"processor [{name}] is not installed on this node")
        return cls()

    def __iter__(self) -> Iterator[ProcessorSpec]:
        for name in sorted(self._classes):
            yield spec_of(self._classes[name])

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    @classmethod
    def discover(cls, modules: Iterable[str] = ()) -> Registry:
        """Every processor of the entry-point group, plus every ``@processor`` class in ``modules``."""
        registry = cls()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
            except Exception:
                logger.exception("cannot load processor entry point %s", ep.value)
                continue
            registry.add(loaded)
        for module_name in modules:
            module = importlib.import_module(module_name)
            found = [obj for _, obj in inspect.getmembers(module, inspect.isclass) if hasattr(obj, SPEC_ATTRIBUTE)]
            if not found:
                raise ProcessorError(f"module [{module_name}] has no @processor classes")
            for obj in found:
                registry.add(obj)
        return registry
