"""The batcher behind grouped job inserts: every caller gets its own item's result, items that arrive
while a batch runs share the next one, and a failed batch fails only the item that is bad."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from vaultjobs.store import StoreError
from vaultjobs.store.batcher import Batcher, _settle_futures


class Recorder:
    """``run`` for a batcher: tens each item, records its batches, and holds the first batch until
    ``release`` is set, so that every item submitted meanwhile waits for the next one."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            self.release.wait(10)
        if -1 in items:
            raise ValueError("bad item")
        return [n * 10 for n in items]


def test_each_caller_gets_its_own_result() -> None:
    run = Recorder()
    run.release.set()
    batcher = Batcher(run, name="test")
    try:
        assert [batcher.submit(n) for n in (1, 2, 3)] == [10, 20, 30]
        assert run.batches == [[1], [2], [3]]  # one at a time: nothing else was waiting
    finally:
        batcher.close()


def submit_while_held(batcher: Batcher[int, int], run: Recorder, items: list[int]) -> dict[int, object]:
    results: dict[int, object] = {}

    def call(n: int) -> None:
        try:
            results[n] = batcher.submit(n)
        except ValueError as exc:
            results[n] = exc

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert run.first_started.wait(10)
    others = [threading.Thread(target=call, args=(n,)) for n in items]
    for t in others:
        t.start()
    while len(batcher._waiting) < len(items):  # every other item waits behind the first batch
        threading.Event().wait(0.001)
    run.release.set()
    for t in [first, *others]:
        t.join(10)
    return results


def test_items_arriving_during_a_batch_share_the_next_one() -> None:
    run = Recorder()
    batcher = Batcher(run, name="test")
    try:
        results = submit_while_held(batcher, run, list(range(1, 9)))
    finally:
        batcher.close()
    assert results == {n: n * 10 for n in range(9)}
    assert run.batches[0] == [0] and sorted(run.batches[1]) == list(range(1, 9)) and len(run.batches) == 2


def test_a_failed_batch_fails_only_the_bad_item() -> None:
    run = Recorder()
    batcher = Batcher(run, name="test")
    try:
        results = submit_while_held(batcher, run, [1, 2, -1, 3])
    finally:
        batcher.close()
    assert isinstance(results.pop(-1), ValueError)
    assert results == {0: 0, 1: 10, 2: 20, 3: 30}


def test_the_event_loop_awaits_its_items_without_a_thread_of_its_own() -> None:
    run = Recorder()
    run.release.set()
    batcher = Batcher(run, name="test")

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(*(batcher.submit_async(n) for n in (1, 2, -1, 3)), return_exceptions=True)

    try:
        outcomes = asyncio.run(main())
    finally:
        batcher.close()
    assert outcomes[:2] == [10, 20] and outcomes[3] == 30 and isinstance(outcomes[2], ValueError)


def test_a_batch_wakes_the_event_loop_once_for_all_its_items() -> None:
    run = Recorder()
    batcher = Batcher(run, name="test")
    wakes: list[int] = []

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        wake = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any) -> Any:
            if callback is _settle_futures:
                wakes.append(len(args[0]))
            return wake(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        first = asyncio.ensure_future(batcher.submit_async(0))
        await asyncio.to_thread(run.first_started.wait, 10)
        rest = [asyncio.ensure_future(batcher.submit_async(n)) for n in (1, 2, 3, 4)]
        await asyncio.sleep(0)  # every item is queued behind the held first batch
        run.release.set()
        return list(await asyncio.gather(first, *rest))

    try:
        assert asyncio.run(main()) == [0, 10, 20, 30, 40]
    finally:
        batcher.close()
    assert run.batches == [[0], [1, 2, 3, 4]]
    assert wakes == [1, 4]  # one wake-up per batch, carrying all its items


def test_run_must_answer_every_item() -> None:
    batcher: Batcher[int, int] = Batcher(lambda items: [], name="test")
    try:
        with pytest.raises(ValueError):
            batcher.submit(1)
    finally:
        batcher.close()


def test_a_closed_batcher_refuses_new_items() -> None:
    run = Recorder()
    run.release.set()
    batcher = Batcher(run, name="test")
    assert batcher.submit(1) == 10
    batcher.close()
    with pytest.raises(StoreError):
        batcher.submit(2)
