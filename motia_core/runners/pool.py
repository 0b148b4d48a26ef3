"""A pool of N runner processes for one language; each invocation goes to the least busy one."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from motia_core.protocol import InvokeParams, LoadedFile, StreamCanAccessParams
from motia_core.protocol.errors import RunnerNotReady
from motia_core.protocol.rpc import Handler
from motia_core.runners.process import RunnerProcess, StateListener, SupervisorSettings
from motia_core.runners.spec import RunnerSpec
from motia_core.runners.states import RunnerState, ShutdownRung

__all__ = ("RunnerPool",)


class RunnerPool:
    def __init__(
        self,
        spec: RunnerSpec,
        *,
        project_root: Path,
        callbacks: Handler,
        size: int = 1,
        streams: Iterable[str] = (),
        settings: SupervisorSettings | None = None,
        listeners: Iterable[StateListener] = (),
    ) -> None:
        if size < 1:
            raise ValueError(f"a {spec.language} runner pool needs at least 1 worker, got {size}")
        self.spec = spec
        self.language = spec.language
        self.processes = [
            RunnerProcess(spec, project_root=project_root, callbacks=callbacks, index=i,
                          streams=streams, settings=settings, listeners=listeners)
            for i in range(size)
        ]

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Supervise every process until ``stop()``."""
        async with anyio.create_task_group() as tg:
            for process in self.processes:
                await tg.start(process.run)
            task_status.started()

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until every process is ready (or has given up)."""
        for process in self.processes:
            await process.wait_for_state(RunnerState.READY, RunnerState.FATAL,
                                         timeout_s=timeout_s)

    async def load(self, files: Iterable[str], streams: Iterable[str] | None = None,
                   ) -> list[LoadedFile]:
        """Load files into every process; returns what the first one reported."""
        files = list(files)
        names = None if streams is None else list(streams)
        results: list[list[LoadedFile]] = [[] for _ in self.processes]

        async def load_one(i: int, process: RunnerProcess) -> None:
            results[i] = await process.load(files, names)

        async with anyio.create_task_group() as tg:
            for i, process in enumerate(self.processes):
                tg.start_soon(load_one, i, process)
        return results[0]

    async def restart(self) -> None:
        """Replace every process gracefully, one at a time, so a pool of several keeps serving."""
        for process in self.processes:
            await process.restart()

    def forget(self, files: Iterable[str]) -> None:
        files = list(files)
        for process in self.processes:
            process.forget(files)

    @property
    def loaded(self) -> list[LoadedFile]:
        """What the first process reports for every file it has loaded (all load the same)."""
        return list(self.processes[0].loaded.values())

    def pick(self) -> RunnerProcess:
        """The process the next invocation goes to: the least busy ready one."""
        best: RunnerProcess | None = None
        for process in self.processes:
            if process.state is RunnerState.READY and (
                best is None or process.in_flight < best.in_flight
            ):
                best = process
        if best is not None:
            return best
        live = [p for p in self.processes if p.state is not RunnerState.FATAL]
        if not live:
            raise RunnerNotReady(
                f"every {self.language} runner has given up: {self.processes[0].last_error}"
            )
        # None is ready right now: queue on the one with the least work; it waits for readiness.
        return min(live, key=lambda p: p.in_flight)

    async def invoke(self, params: InvokeParams, timeout_s: float | None = None) -> Any:
        return await self.pick().invoke(params, timeout_s)

    async def can_access(self, params: StreamCanAccessParams) -> bool:
        return await self.pick().can_access(params)

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self.processes)

    async def stop(self) -> list[ShutdownRung]:
        rungs: list[ShutdownRung] = [ShutdownRung.ALREADY_EXITED] * len(self.processes)

        async def stop_one(i: int, process: RunnerProcess) -> None:
            rungs[i] = await process.stop()

        async with anyio.create_task_group() as tg:
            for i, process in enumerate(self.processes):
                tg.start_soon(stop_one, i, process)
        return rungs
