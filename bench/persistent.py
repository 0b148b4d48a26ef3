"""The persistent runner's side of the benchmark: no-op ``step.invoke`` through RunnerProcess.

One long-lived ``python -m motia_runner`` serves every call, exactly as the core drives it: the
supervisor spawns it, the handshake and ``steps.load`` happen once, then each call is one
``RunnerProcess.invoke`` (a JSON-RPC request over the pipe and its response).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from report import Row, percentile

from motia_core.protocol import InvokeParams, TraceContext
from motia_core.runners import RunnerProcess, RunnerState
from motia_core.runners.spec import builtin_specs

__all__ = ("measure", "running")

_TRACE = TraceContext(trace_id="bench", span_id="bench")


async def _no_callbacks(method: str, params: Any) -> Any:
    raise NotImplementedError(f"the no-op bench step made a {method} callback")


@asynccontextmanager
async def running(project: Path, step: str, language: str = "python",
                  ) -> AsyncIterator[RunnerProcess]:
    """A supervised runner of ``language`` with ``step`` loaded, stopped on exit."""
    spec = next(s for s in builtin_specs() if s.language == language)
    runner = RunnerProcess(spec, project_root=project, callbacks=_no_callbacks)
    async with anyio.create_task_group() as tg:
        await tg.start(runner.run)
        try:
            if await runner.wait_for_state(RunnerState.READY, RunnerState.FATAL) \
                    is RunnerState.FATAL:
                raise RuntimeError(f"the {language} runner did not start: {runner.last_error}")
            [loaded] = await runner.load([step])
            if loaded.error is not None:
                raise RuntimeError(f"{step}: {loaded.error.message}")
            yield runner
        finally:
            with anyio.CancelScope(shield=True):
                await runner.stop()


async def measure(runner: RunnerProcess, step: str, calls: int, in_flight: int,
                  mode: str = "persistent runner") -> Row:
    """``calls`` invocations, ``in_flight`` at a time; per-call latency and overall rate."""
    ids = itertools.count()
    latencies: list[float] = []

    async def worker() -> None:
        while (n := next(ids)) < calls:
            params = InvokeParams(invocation_id=f"bench-{n}", file=step, trigger="event",
                                  input={"n": n}, trace=_TRACE)
            start = time.perf_counter_ns()
            output = await runner.invoke(params)
            latencies.append((time.perf_counter_ns() - start) / 1000)
            if output is not None:
                raise AssertionError(f"the no-op step returned {output!r}")

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - began
    return Row(mode, in_flight, calls, percentile(latencies, 50),
               percentile(latencies, 99), calls / elapsed)
