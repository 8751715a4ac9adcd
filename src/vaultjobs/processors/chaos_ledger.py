"""A processor for chaos runs (:mod:`vaultjobs.chaos`): not idempotent, and it leaves a ledger line
per task it runs, so that a run can prove no task ever ran twice."""

from __future__ import annotations

import time
from typing import Any

from vaultjobs.sdk import JobContext, Task, processor


@processor("chaos_ledger", chunk_size=1, idempotent=False)
class ChaosLedger:
    """Each task appends ``job:task`` to ``parameters["ledger"]`` once, then takes ``seconds``."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": n} for n in range(int(ctx.parameters.get("items", 3)))]

    def process(self, ctx: JobContext, task: Task) -> None:
        with open(ctx.parameters["ledger"], "a") as ledger:
            ledger.write(f"{ctx.job_id}:{task.id}\n")
        time.sleep(float(ctx.parameters.get("seconds", 0.05)))
