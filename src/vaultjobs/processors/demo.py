"""The ``demo`` processor: configurable items that take time and fail on request, for trying the service."""

from __future__ import annotations

import time
from typing import Any

from vaultjobs.sdk import JobContext, JobResult, ParameterReader, Task, processor

MAX_ITEMS = 2_500_000


@processor("demo", chunk_size=5, idempotent=True, timeout="4h", admin_cancellable=True)
class Demo:
    """Processes `items` numbered items, `item_seconds` each, failing those listed in `fail_items`."""

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        read = ParameterReader(parameters)
        read.only("items", "chunk_size", "item_seconds", "fail_items")
        items = read.integer("items", 10, 0, MAX_ITEMS)
        return {
            "items": items,
            "chunk_size": read.integer("chunk_size", 5, 1, 500),
            "item_seconds": read.number("item_seconds", 0.1, 0, 3600),
            "fail_items": read.integer_list("fail_items", 1, max(items, 1)),
        }

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        ctx.chunk_size = int(ctx.parameters["chunk_size"])
        count = int(ctx.parameters["items"])
        ctx.log(f"demo: {count} items in tasks of {ctx.chunk_size}")
        return [{"n": n} for n in range(1, count + 1)]

    def process(self, ctx: JobContext, task: Task) -> None:
        seconds = float(ctx.parameters["item_seconds"])
        fail = set(ctx.parameters["fail_items"])
        failed: list[int] = []
        for item in task.items:
            if ctx.cancelled or not self._sleep(ctx, seconds):
                return  # the service decides what becomes of a task it asked to stop
            if item["n"] in fail:
                failed.append(item["n"])
        task.set_value("processed", len(task.items))
        if failed:
            task.fail(f"items {failed} failed")

    @staticmethod
    def _sleep(ctx: JobContext, seconds: float) -> bool:
        """Spend ``seconds`` on an item, stopping early (False) when the job is asked to stop."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
            if ctx.cancelled:
                return False
        return True

    def complete(self, ctx: JobContext, result: JobResult) -> None:
        ctx.log(
            f"demo: {result.tasks_succeeded} of {result.tasks_total} tasks succeeded, "
            f"{result.tasks_failed} failed"
        )
