from __future__ import annotations

import vaultjobs.client as client


def test_all_is_sorted_and_complete() -> None:
    exported = {name for name in dir(client) if not name.startswith(("_", "@"))}  # "@py_*": pytest rewriting
    modules = {"testing", "cli", "annotations"}
    assert set(client.__all__) == exported - modules
    assert client.__all__ == sorted(client.__all__, key=lambda n: (not n.isupper(), n))
