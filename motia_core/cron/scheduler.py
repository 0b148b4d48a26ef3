"""Cron steps: apscheduler decides when, and each tick runs the step under a trace of its own.

apscheduler only keeps time here; the tick itself is handed to a callback owned by the app, which
starts the trace and invokes the step. A tick that is still running when the next one is due is
skipped (one instance per step), as a cron job that overruns its period should not pile up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

import anyio
import anyio.abc
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from motia_core.cron import parse_cron
from motia_core.project.steps import Step

__all__ = ("CronScheduler", "Tick")

log = logging.getLogger("motia.cron")

Tick = Callable[[Step], Awaitable[None]]


class CronScheduler:
    def __init__(self, tick: Tick) -> None:
        # apscheduler narrates every job it adds at info level; our own start-up table says it.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._tick = tick
        self._scheduler: AsyncIOScheduler | None = None
        self.steps: list[Step] = []

    def schedule(self, steps: Sequence[Step]) -> None:
        """Replace the scheduled steps (called at start and after a reload)."""
        self.steps = list(steps)
        if self._scheduler is not None:
            self._apply(self._scheduler)

    def _apply(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.remove_all_jobs()
        for step in self.steps:
            expression = step.config.cron  # type: ignore[union-attr]
            scheduler.add_job(self._tick, parse_cron(expression), args=(step,),
                              id=step.file, name=step.name, max_instances=1, coalesce=True,
                              misfire_grace_time=None)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Keep the schedule until cancelled."""
        scheduler = AsyncIOScheduler()
        self._scheduler = scheduler
        self._apply(scheduler)
        scheduler.start()
        try:
            task_status.started()
            await anyio.sleep_forever()
        finally:
            scheduler.shutdown(wait=False)
            self._scheduler = None
