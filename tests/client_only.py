"""Run ``vaultjobs`` as a client-only install would: the server's dependencies cannot be imported.

``python tests/client_only.py ARGS…`` is ``vaultjobs ARGS…`` with an import hook in front that
refuses the packages of the ``[server]`` extra, so that a command importing one of them fails here
exactly as it would where only ``pip install vaultjobs`` was run.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

#: Top-level modules of the [server] extra's distributions.
SERVER_MODULES = frozenset(
    {"starlette", "uvicorn", "argon2", "_argon2_cffi_bindings", "multipart", "python_multipart", "croniter",
     "psycopg", "psycopg_binary", "psycopg_pool"}
)


class BlockServer(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname.split(".")[0] in SERVER_MODULES:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not in a client-only install)", name=fullname)
        return None


if __name__ == "__main__":
    sys.meta_path.insert(0, BlockServer())
    from vaultjobs.cli import main

    main(prog_name="vaultjobs")
