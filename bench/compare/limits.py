"""The raw limits: what one no-op invocation costs below HTTP, queues and state.

For each runner (Python, Node, Ruby) a no-op step is invoked through ``RunnerProcess.invoke``
exactly as the core does (``bench/persistent.py``): the core -> runner -> core round trip over
the pipe, at 1 and 32 calls in flight. Beside them, the pipe ping-pong between two processes
(``bench/floor.py``): no JSON, no event loop, the machine's floor for any round trip.
"""

from __future__ import annotations

from pathlib import Path

import floor
import persistent
from report import Row

from .figures import Figure, Run

__all__ = ("FLOOR", "ROUND_TRIP", "round_trips")

ROUND_TRIP = "no-op round trip core>runner>core"
FLOOR = "pipe ping-pong floor"
HERE = Path(__file__).resolve().parent / "limits"
STEPS = {"python": "noop_step.py", "node": "noop.step.ts", "ruby": "noop.step.rb"}
WARMUP_CALLS = 300


def _run(row: Row) -> Run:
    elapsed = row.calls / row.calls_per_s if row.calls_per_s else 0.0
    return Run(row.calls, row.calls, 0, elapsed, row.p50_us / 1e3, row.p99_us / 1e3)


async def round_trips(calls: int, runs: int) -> list[Figure]:
    """Each runner at 1 and 32 in flight (median of ``runs``), then the pipe floor at 1."""
    figures: list[Figure] = []
    for language, name in STEPS.items():
        step = str(HERE / "steps" / name)
        these = [Figure(ROUND_TRIP, f"{language} runner", c, calls) for c in (1, 32)]
        try:
            async with persistent.running(HERE, step, language) as runner:
                await persistent.measure(runner, step, WARMUP_CALLS, 8)
                for figure in these:
                    for _ in range(runs):
                        figure.runs.append(_run(await persistent.measure(
                            runner, step, calls, figure.in_flight)))
        except (RuntimeError, OSError) as exc:
            for figure in these:
                figure.unavailable = f"the {language} runner: {exc}"
        figures += these
    pipe = Figure(FLOOR, "two processes", 1, calls,
                  note="a line written and echoed back; no JSON, no event loop")
    pipe.runs = [_run(floor.measure(calls)) for _ in range(runs)]
    figures.append(pipe)
    return figures
