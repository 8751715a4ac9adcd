"""Processors the integration tests load into a live server with ``--processors sample_processors``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vaultjobs.sdk import JobContext, Task, processor


@processor("slow_once", chunk_size=1, idempotent=False)
class SlowOnce:
    """Not idempotent: running one of its tasks twice would be wrong, so a dead worker ends the job."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": n} for n in range(int(ctx.parameters.get("items", 3)))]

    def process(self, ctx: JobContext, task: Task) -> None:
        deadline = time.monotonic() + float(ctx.parameters.get("seconds", 1.0))
        while time.monotonic() < deadline and not ctx.cancelled:
            time.sleep(0.02)


@processor("stubborn", chunk_size=1, admin_cancellable=False)
class Stubborn:
    """Cannot be cancelled once running."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": 1}]

    def process(self, ctx: JobContext, task: Task) -> None:
        deadline = time.monotonic() + float(ctx.parameters.get("seconds", 3.0))
        while time.monotonic() < deadline:
            time.sleep(0.02)


@processor("sleepy", chunk_size=1, timeout="1s")
class Sleepy:
    """Runs past its one-second timeout, heart-beating all along."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": 1}, {"n": 2}]

    def process(self, ctx: JobContext, task: Task) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ctx.cancelled:
            ctx.heartbeat()
            time.sleep(0.05)


@processor("stuck", chunk_size=1, inactivity_timeout="1s")
class Stuck:
    """Makes no progress: no task finishes and it never heart-beats."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": 1}]

    def process(self, ctx: JobContext, task: Task) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ctx.cancelled:
            time.sleep(0.05)


@processor("once_only", chunk_size=1, idempotent=False)
class OnceOnly:
    """Not idempotent: appends one line per task it runs to ``parameters["ledger"]``, so a test can
    prove that no task ever ran twice."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": n} for n in range(int(ctx.parameters.get("items", 2)))]

    def process(self, ctx: JobContext, task: Task) -> None:
        with open(ctx.parameters["ledger"], "a") as ledger:
            ledger.write(f"{ctx.job_id}:{task.id}\n")
        time.sleep(float(ctx.parameters.get("seconds", 0.01)))


@processor("oblivious", chunk_size=1)
class Oblivious:
    """Cancellable, but never looks at ``ctx.cancelled``: a cancelled job stays CANCELLING while it runs."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": 1}]

    def process(self, ctx: JobContext, task: Task) -> None:
        time.sleep(float(ctx.parameters.get("seconds", 600)))


@processor("slow_to_stop", chunk_size=1)
class SlowToStop:
    """Cancellable, and it sees the cancel, but stops only once ``parameters["release"]`` (a file) exists:
    a cancelled job stays CANCELLING for exactly as long as a test wants to look at it."""

    def init(self, ctx: JobContext) -> list[dict[str, Any]]:
        return [{"n": 1}]

    def process(self, ctx: JobContext, task: Task) -> None:
        release = Path(ctx.parameters["release"])
        deadline = time.monotonic() + float(ctx.parameters.get("seconds", 600))
        while time.monotonic() < deadline and not (ctx.cancelled and release.exists()):
            time.sleep(0.05)
