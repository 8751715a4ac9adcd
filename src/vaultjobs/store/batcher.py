"""Concurrent callers' writes done together, in one transaction: group commit for whole statements.

Under load, a transaction's fixed costs (taking the write lock, the commit, the fsync that makes it
durable, waking the next writer) outweigh one small insert several times over. A :class:`Batcher`
hands every item to one writer thread, which does all the items waiting in one call; items that
arrive meanwhile make the next batch. Threads wait for their item with :meth:`Batcher.submit`; the
event loop awaits it with :meth:`Batcher.submit_async`, so that an API request needs no worker
thread of its own (on SQLite, where its other statements take microseconds). When a batch fails,
its items run again one by one, so that one bad item fails only its own caller.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from vaultjobs.store.errors import StoreError

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    """One item and where its outcome goes: a thread's event, or an event loop's future."""

    __slots__ = ("item", "result", "error", "event", "future", "loop")

    def __init__(self, item: T, future: asyncio.Future[R] | None = None,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.event = threading.Event() if future is None else None
        self.future = future
        self.loop = loop


#: A slot, its result and its error (None when it succeeded).
Outcome = tuple[_Slot[Any, Any], Any, BaseException | None]


def settle(outcomes: Sequence[Outcome]) -> None:
    """Hand each slot its outcome: threads at once, each event loop in one call for all its futures
    (waking a loop from another thread costs a system call; a batch of starts needs only one)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        slot, result, error = outcome
        if slot.loop is not None:
            by_loop.setdefault(slot.loop, []).append(outcome)
        else:
            assert slot.event is not None
            slot.result, slot.error = result, error
            slot.event.set()
    for loop, on_loop in by_loop.items():
        loop.call_soon_threadsafe(_settle_futures, on_loop)


def _settle_futures(outcomes: Sequence[Outcome]) -> None:
    for slot, result, error in outcomes:
        future = slot.future
        assert future is not None
        if future.done():  # the request was cancelled; the item was done all the same
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class Batcher(Generic[T, R]):
    """``run(items)`` returns one result per item, in order; each submit returns its item's result."""

    def __init__(self, run: Callable[[Sequence[T]], Sequence[R]], *, name: str, max_batch: int = 256) -> None:
        self._run = run
        self.name = name
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._waiting: list[_Slot[T, R]] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        self._enqueue(slot)
        assert slot.event is not None
        slot.event.wait()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]  # set when there is no error

    async def submit_async(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._enqueue(_Slot(item, future, loop))
        return await future

    def close(self) -> None:
        """Finish the items waiting, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _enqueue(self, slot: _Slot[T, R]) -> None:
        with self._cond:
            if self._closed:
                raise StoreError("the store is closed")
            self._waiting.append(slot)
            if self._thread is None:
                self._thread = threading.Thread(target=self._write, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _write(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            self._do(batch)

    def _do(self, batch: list[_Slot[T, R]]) -> None:
        settle(self._outcomes(batch))

    def _outcomes(self, batch: list[_Slot[T, R]]) -> list[Outcome]:
        try:
            results = self._results([slot.item for slot in batch])
        except BaseException as exc:
            if len(batch) == 1:
                return [(batch[0], None, exc)]
            return [outcome for slot in batch for outcome in self._outcomes([slot])]
        return [(slot, result, None) for slot, result in zip(batch, results, strict=True)]

    def _results(self, items: Sequence[T]) -> Sequence[R]:
        results = self._run(items)
        if len(results) != len(items):
            raise ValueError(f"a batch of {len(items)} items gave {len(results)} results")
        return results
