"""The cron scheduler owns its ticks (issue 15 item 9): stopping or cancelling it waits for (or
cancels and waits for) a running tick, and nothing fires afterwards. Real time, an every-second
job: each wait is bounded, none is asserted on."""

from __future__ import annotations

import anyio
import pytest

from motia_core.cron.scheduler import CronJob, CronScheduler

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

BOUND_S = 10.0
EVERY_SECOND = "* * * * * *"


class Ticks:
    """A tick that records its start and end and, until released, blocks."""

    def __init__(self, block: bool = True) -> None:
        self.log: list[str] = []
        self.started = anyio.Event()
        self.release = anyio.Event()
        self.block = block

    async def __call__(self, target: str) -> None:
        self.log.append(f"start {target}")
        self.started.set()
        try:
            if self.block:
                await self.release.wait()
            self.log.append(f"end {target}")
        except anyio.get_cancelled_exc_class():
            self.log.append(f"cancelled {target}")
            raise


def job(key: str = "a") -> CronJob[str]:
    return CronJob(key=key, name=key, expression=EVERY_SECOND, target=key)


async def test_stop_waits_for_a_running_tick_and_nothing_fires_after() -> None:
    ticks = Ticks()
    scheduler = CronScheduler(ticks)
    scheduler.schedule([job()])
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(scheduler.run)
            await ticks.started.wait()
            assert scheduler.running == {"a"}

            async def finish_soon() -> None:
                await anyio.lowlevel.checkpoint()
                ticks.release.set()

            tg.start_soon(finish_soon)
            await scheduler.stop(grace_s=BOUND_S)
            # stop() returned: the tick ended inside the scheduler, not after it.
            assert ticks.log == ["start a", "end a"]
            assert scheduler.running == frozenset()
    # Nothing fires after stop: the timers went with it (wait past another fire time).
    ticks.block = False
    with anyio.move_on_after(1.5):
        await anyio.sleep_forever()
    assert ticks.log == ["start a", "end a"]


async def test_stop_cancels_a_tick_past_the_grace_period_and_waits_for_it() -> None:
    ticks = Ticks()
    scheduler = CronScheduler(ticks)
    scheduler.schedule([job()])
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(scheduler.run)
            await ticks.started.wait()
            await scheduler.stop(grace_s=0)
            assert ticks.log == ["start a", "cancelled a"]


async def test_cancelling_run_cancels_the_running_tick_and_waits_for_it() -> None:
    ticks = Ticks()
    scheduler = CronScheduler(ticks)
    scheduler.schedule([job()])
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(scheduler.run)
            await ticks.started.wait()
            tg.cancel_scope.cancel()
        # The task group has exited: the tick's cancellation has run to its end.
        assert ticks.log == ["start a", "cancelled a"]


async def test_an_overrunning_tick_is_not_started_twice() -> None:
    ticks = Ticks()
    scheduler = CronScheduler(ticks)
    scheduler.schedule([job()])
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(scheduler.run)
            await ticks.started.wait()
            with anyio.move_on_after(2.2):  # two more fire times pass while it runs
                await anyio.sleep_forever()
            assert ticks.log == ["start a"]
            ticks.release.set()
            await scheduler.stop(grace_s=BOUND_S)
    assert ticks.log == ["start a", "end a"]


async def test_rescheduling_replaces_the_jobs() -> None:
    seen: list[str] = []
    fired = anyio.Event()

    async def tick(target: str) -> None:
        seen.append(target)
        fired.set()

    scheduler: CronScheduler[str] = CronScheduler(tick)
    scheduler.schedule([job("old")])
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(scheduler.run)
            scheduler.schedule([job("new")])
            await fired.wait()
            await scheduler.stop()
    assert set(seen) == {"new"}
