"""Cron jobs: apscheduler decides when, and each tick hands the job's target to a callback.

apscheduler only keeps time here; the tick itself is handed to a callback owned by the app, which
starts the trace and invokes the step. A tick that is still running when the next one is due is
skipped (one instance per job), as a cron job that overruns its period should not pile up. The
scheduler knows jobs, not steps (the target is whatever the callback takes), so time sits below
the project model that checks its expressions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
import anyio.abc
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from motia_core.cron.expressions import parse_cron

__all__ = ("CronJob", "CronScheduler", "Tick")

log = logging.getLogger("motia.cron")

T = TypeVar("T")
Tick = Callable[[T], Awaitable[None]]


@dataclass(frozen=True)
class CronJob(Generic[T]):
    """One scheduled job: ``key`` identifies it (a step's file), ``target`` goes to the tick."""

    key: str
    name: str
    expression: str
    target: T


class CronScheduler(Generic[T]):
    def __init__(self, tick: Tick[T]) -> None:
        # apscheduler narrates every job it adds at info level; our own start-up table says it.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._tick = tick
        self._scheduler: AsyncIOScheduler | None = None
        self.jobs: list[CronJob[T]] = []

    def schedule(self, jobs: Sequence[CronJob[T]]) -> None:
        """Replace the scheduled jobs (called at start and after a reload)."""
        self.jobs = list(jobs)
        if self._scheduler is not None:
            self._apply(self._scheduler)

    def _apply(self, scheduler: AsyncIOScheduler) -> None:
        scheduler.remove_all_jobs()
        for job in self.jobs:
            scheduler.add_job(self._tick, parse_cron(job.expression), args=(job.target,),
                              id=job.key, name=job.name, max_instances=1, coalesce=True,
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
