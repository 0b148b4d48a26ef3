"""The original design's side of the benchmark: a new Python process for every invocation.

Each call spawns ``per_call_runner.py`` with the invocation as its argument and waits for the
JSON line it prints, so one call pays for interpreter start-up, the step's import and exit.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import anyio
from report import Row, percentile

__all__ = ("measure",)

_RUNNER = Path(__file__).resolve().parent / "per_call_runner.py"


async def _one(step: str, n: int) -> None:
    invocation = json.dumps({"file": step, "input": {"n": n}, "traceId": "bench"})
    done = await anyio.run_process([sys.executable, str(_RUNNER), invocation], check=False)
    if done.returncode != 0 or json.loads(done.stdout) != {"output": None}:
        raise RuntimeError(f"per-call runner failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-500:]}")


async def measure(step: str, calls: int, in_flight: int) -> Row:
    """``calls`` spawned processes, ``in_flight`` at a time; per-call latency and overall rate."""
    ids = itertools.count()
    latencies: list[float] = []

    async def worker() -> None:
        while (n := next(ids)) < calls:
            start = time.perf_counter_ns()
            await _one(step, n)
            latencies.append((time.perf_counter_ns() - start) / 1000)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(in_flight):
            tg.start_soon(worker)
    elapsed = time.perf_counter() - began
    return Row("process per call", in_flight, calls, percentile(latencies, 50),
               percentile(latencies, 99), calls / elapsed)
