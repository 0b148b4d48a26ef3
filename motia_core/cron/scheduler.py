"""Cron jobs: each job's trigger says when, and each tick hands the job's target to a callback.

APScheduler's cron trigger only computes fire times here; the timers and the ticks are tasks of
the scheduler's own task group, so every tick has an owner that waits for it: :meth:`stop` stops
the timers, gives running ticks a grace period and cancels the rest, and returns once they have
ended; cancelling :meth:`run` cancels them and waits too. Nothing fires after either. The tick
itself is the app's callback, which starts the trace and invokes the step. A tick that is still
running when the next one is due is skipped (one instance per job), as a cron job that overruns
its period should not pile up; fire times missed while the loop was busy are coalesced into one.
The scheduler knows jobs, not steps (the target is whatever the callback takes), so time sits
below the project model that checks its expressions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import anyio
import anyio.abc

from motia_core.cron.expressions import parse_cron

__all__ = ("CronJob", "CronScheduler", "Tick")

log = logging.getLogger("motia.cron")

T = TypeVar("T")
Tick = Callable[[T], Awaitable[None]]

_RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class CronJob(Generic[T]):
    """One scheduled job: ``key`` identifies it (a step's file), ``target`` goes to the tick."""

    key: str
    name: str
    expression: str
    target: T


class CronScheduler(Generic[T]):
    def __init__(self, tick: Tick[T]) -> None:
        self._tick = tick
        self.jobs: list[CronJob[T]] = []
        self._tg: anyio.abc.TaskGroup | None = None
        self._timers: anyio.CancelScope | None = None
        self._running: set[str] = set()  # keys of the jobs whose tick is under way
        self._idle: anyio.Event | None = None  # set when the last running tick ends
        self._stopped = False
        self._finished: anyio.Event | None = None

    def schedule(self, jobs: Sequence[CronJob[T]]) -> None:
        """Replace the scheduled jobs (called at start and after a reload). Ticks under way
        finish; the new jobs' timers start from now."""
        self.jobs = list(jobs)
        if self._tg is not None and not self._stopped:
            self._start_timers(self._tg)

    @property
    def running(self) -> frozenset[str]:
        """The keys of the jobs whose tick is under way."""
        return frozenset(self._running)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Keep the schedule until cancelled (ticks under way are cancelled and waited for) or
        until :meth:`stop`."""
        if self._tg is not None:
            raise RuntimeError("CronScheduler.run() is already running; call it once")
        self._stopped = False
        self._finished = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._start_timers(tg)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._tg = None
            self._timers = None
            self._finished.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Fire nothing more; give ticks under way ``grace_s`` to finish, then cancel them, and
        return once they have ended and :meth:`run` has returned."""
        tg = self._tg
        if tg is None:
            return
        self._stopped = True
        if self._timers is not None:
            self._timers.cancel()
        with anyio.move_on_after(grace_s):
            while self._running:
                await self._idle_event().wait()
        if self._running:
            log.warning("cron: cancelling %s, still running after the %gs grace period",
                        ", ".join(sorted(self._running)), grace_s,
                        extra={"action": "cron_cancelled"})
        tg.cancel_scope.cancel()
        if self._finished is not None:
            await self._finished.wait()

    def _start_timers(self, tg: anyio.abc.TaskGroup) -> None:
        if self._timers is not None:
            self._timers.cancel()
        timers = self._timers = anyio.CancelScope()
        jobs = list(self.jobs)

        async def run_timers() -> None:
            with timers:
                async with anyio.create_task_group() as group:
                    for job in jobs:
                        group.start_soon(self._timer, job, name=f"motia.cron timer {job.name}")

        tg.start_soon(run_timers, name="motia.cron timers")

    async def _timer(self, job: CronJob[T]) -> None:
        trigger = parse_cron(job.expression)
        previous: datetime | None = None
        while True:
            now = datetime.now(trigger.timezone)
            if previous is not None and now <= previous:
                now = previous + _RESOLUTION  # woke a hair early: never fire one time twice
            due = trigger.get_next_fire_time(None, now)
            if due is None:
                return
            await anyio.sleep(max(0.0, (due - datetime.now(trigger.timezone)).total_seconds()))
            previous = due
            self._fire(job)

    def _fire(self, job: CronJob[T]) -> None:
        if self._stopped or self._tg is None:
            return
        if job.key in self._running:
            log.warning("cron job %s: the previous tick is still running; this one is skipped",
                        job.name, extra={"action": "cron_skipped", "step": job.name})
            return
        self._running.add(job.key)
        self._tg.start_soon(self._run_tick, job, name=f"motia.cron tick {job.name}")

    async def _run_tick(self, job: CronJob[T]) -> None:
        try:
            await self._tick(job.target)
        except Exception:  # the app's callback logs step failures; this is anything else
            log.exception("cron job %s: the tick failed", job.name,
                          extra={"action": "cron_failed", "step": job.name})
        finally:
            self._running.discard(job.key)
            if not self._running and self._idle is not None:
                self._idle.set()
                self._idle = None

    def _idle_event(self) -> anyio.Event:
        if self._idle is None:
            self._idle = anyio.Event()
        return self._idle
