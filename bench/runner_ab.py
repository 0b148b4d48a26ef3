"""The no-op round trip core > runner > core, per runner, with the Ruby runner at a git ref too.

``python bench/runner_ab.py --base main``: the raw-limit round trip of ``make bench-compare``
(``bench/compare/limits.py``: a no-op step through ``RunnerProcess.invoke`` exactly as the core
does it) for the Python, Node and Ruby runners of the working tree and for the Ruby runner of
``--base`` (checked out into bench/.scratch/ab-ruby), at 1 and 32 calls in flight. The runs are
interleaved (run 1 of every contender, then run 2, ...) so that a shared machine's noise falls on
all of them alike; the table shows medians. Extra Ruby variants: ``--ruby-env NAME=VALUE`` runs
the working tree's Ruby runner once more with that variable set (e.g.
``MOTIA_RUBY_CONCURRENCY=threads``). Loopback pipes only; every run is bounded in calls.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import persistent
from report import Row
from worktree import checkout

from motia_core.runners import RunnerProcess, RunnerState
from motia_core.runners.spec import RunnerSpec, builtin_specs

__all__ = ("main",)

BENCH = Path(__file__).resolve().parent
SCRATCH = BENCH / ".scratch" / "ab-ruby"
LIMITS = BENCH / "compare" / "limits"
STEPS = {"python": "noop_step.py", "node": "noop.step.ts", "ruby": "noop.step.rb"}
WARMUP_CALLS = 300


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=None, help="git ref of the Ruby runner to compare")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median shown)")
    parser.add_argument("--calls", type=int, default=3000, help="no-op calls per run")
    parser.add_argument("--ruby-env", action="append", default=[],
                        help="NAME=VALUE: one more Ruby contender with this variable set")
    return parser.parse_args()


async def _no_callbacks(method: str, params: object) -> object:
    raise NotImplementedError(f"the no-op bench step made a {method} callback")


async def _start(stack: AsyncExitStack, tg: anyio.abc.TaskGroup, spec: RunnerSpec,
                 step: str) -> RunnerProcess:
    runner = RunnerProcess(spec, project_root=LIMITS, callbacks=_no_callbacks)
    await tg.start(runner.run)
    stack.push_async_callback(runner.stop)
    if await runner.wait_for_state(RunnerState.READY, RunnerState.FATAL) is RunnerState.FATAL:
        raise RuntimeError(f"{spec.language} did not start: {runner.last_error}")
    [loaded] = await runner.load([step])
    if loaded.error is not None:
        raise RuntimeError(f"{step}: {loaded.error.message}")
    await persistent.measure(runner, step, WARMUP_CALLS, 8)
    return runner


async def _main(args: argparse.Namespace) -> None:
    specs = {s.language: s for s in builtin_specs()}
    contenders: list[tuple[str, RunnerSpec, str]] = []
    for language in ("python", "node"):
        contenders.append((language, specs[language], str(LIMITS / "steps" / STEPS[language])))
    ruby_step = str(LIMITS / "steps" / STEPS["ruby"])
    if args.base:
        checkout(args.base, SCRATCH)
        old = SCRATCH / "runners" / "ruby" / "runner.rb"
        contenders.append((f"ruby@{args.base}",
                           dataclasses.replace(specs["ruby"], command=("ruby", str(old))),
                           ruby_step))
    contenders.append(("ruby", specs["ruby"], ruby_step))
    for pair in args.ruby_env:
        name, _, value = pair.partition("=")
        contenders.append((f"ruby {pair}", dataclasses.replace(
            specs["ruby"], env={**specs["ruby"].env, name: value}), ruby_step))

    rows: dict[tuple[str, int], list[Row]] = {}
    async with anyio.create_task_group() as tg, AsyncExitStack() as stack:
        runners = [(label, await _start(stack, tg, spec, step), step)
                   for label, spec, step in contenders]
        for run in range(args.runs):
            for in_flight in (1, 32):
                for label, runner, step in runners:
                    row = await persistent.measure(runner, step, args.calls, in_flight)
                    rows.setdefault((label, in_flight), []).append(row)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        await stack.aclose()
        tg.cancel_scope.cancel()

    print(f"{'runner':<40} {'in flight':>9} {'calls/s (median)':>17} {'p50 us':>9} "
          f"{'p99 us':>9}  runs")
    for (label, in_flight), these in rows.items():
        rates = [r.calls_per_s for r in these]
        print(f"{label:<40} {in_flight:>9} {statistics.median(rates):>17,.0f} "
              f"{statistics.median(r.p50_us for r in these):>9,.0f} "
              f"{statistics.median(r.p99_us for r in these):>9,.0f}  "
              + " ".join(f"{r:,.0f}" for r in rates))


def main() -> None:
    anyio.run(_main, _arguments())


if __name__ == "__main__":
    main()
