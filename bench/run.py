"""`make bench`: a no-op step.invoke through the persistent Python runner vs a process per call.

Prints one table: p50/p99 round trip in microseconds and calls per second with 1 and with 64
calls in flight, for the long-lived runner (driven through RunnerProcess.invoke, as the core
does) and for a fresh Python process per invocation (the original Motia design), then the
ratios. A last row, the bare pipe ping-pong between two processes, is the machine's floor for
any round trip at one in flight. Everything is local (pipes to child processes) and bounded
in count; the persistent figures are the median of several runs because the machine is small
and shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import anyio
import app_load
import floor
import node
import per_call
import persistent
from report import Row, median_row, render

__all__ = ("main",)

PROJECT = Path(__file__).resolve().parent / "project"
STEP = str(PROJECT / "steps" / "noop_call_step.py")
WARMUP_CALLS = 300


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5,
                        help="persistent-runner runs per configuration; the median is shown")
    parser.add_argument("--calls", type=int, default=2000, help="calls per persistent run")
    parser.add_argument("--per-call", type=int, default=30,
                        help="spawned processes, 1 in flight (64 in flight spawns 64)")
    parser.add_argument("--requests", type=int, default=3000,
                        help="HTTP requests per api-step run (and per bare aiohttp run)")
    parser.add_argument("--events", type=int, default=2000,
                        help="events through the two-step chain")
    return parser.parse_args()


async def _bench(args: argparse.Namespace) -> tuple[list[Row], list[tuple[str, float]]]:
    rows: list[Row] = []
    async with persistent.running(PROJECT, STEP) as runner:
        await persistent.measure(runner, STEP, WARMUP_CALLS, 8)
        for in_flight in (1, 64):
            runs = [await persistent.measure(runner, STEP, args.calls, in_flight)
                    for _ in range(args.runs)]
            rows.append(median_row(runs))
    await per_call.measure(STEP, 2, 1)  # warm the page cache for the interpreter and the step
    rows.append(await per_call.measure(STEP, args.per_call, 1))
    rows.append(await per_call.measure(STEP, 64, 64))
    kept_1, kept_64, spawn_1, spawn_64 = rows
    rows.append(median_row([floor.measure(args.calls) for _ in range(args.runs)]))
    ratios = [
        ("p50 round trip, process per call / persistent", spawn_1.p50_us / kept_1.p50_us),
        ("calls/s with 1 in flight, persistent / process per call",
         kept_1.calls_per_s / spawn_1.calls_per_s),
        ("calls/s with 64 in flight, persistent / process per call",
         kept_64.calls_per_s / spawn_64.calls_per_s),
    ]
    return rows, ratios


async def _runtime(args: argparse.Namespace) -> tuple[list[Row], list[tuple[str, float]]]:
    rows: list[Row] = []
    for concurrency in (1, 32):
        step = median_row([await app_load.step_get(args.requests, concurrency)
                           for _ in range(3)])
        bare = median_row([await app_load.bare_get(args.requests, concurrency)
                           for _ in range(3)])
        rows += [step, bare]
    rows.append(await app_load.chain_events(args.events, "memory"))
    rows.append(await app_load.chain_events(args.events, "sqlite"))
    # Recording off next to on (SQLite traces and logs, as `motia dev` and `start` run) on the
    # durable pipeline, the median of 5 alternated runs each.
    off, on = [], []
    for _ in range(5):  # alternated, so a burst of load elsewhere hits both alike
        off.append(await app_load.recording(args.events, "off"))
        on.append(await app_load.recording(args.events, "sqlite"))
    recording_off, recording_on = median_row([r for r, _ in off]), median_row([r for r, _ in on])
    cpu_off, cpu_on = (statistics.median(c for _, c in off),
                       statistics.median(c for _, c in on))
    rows += [recording_off, recording_on]
    ratios = [
        (f"requests/s with {c} in flight, bare aiohttp / Python api step",
         bare.calls_per_s / step.calls_per_s)
        for c, step, bare in ((1, rows[0], rows[1]), (32, rows[2], rows[3]))
    ]
    ratios.append(("events/s with recording on / off (sqlite queue)",
                   recording_on.calls_per_s / recording_off.calls_per_s))
    ratios.append((f"core CPU per event, recording on / off ({cpu_on:,.0f} / {cpu_off:,.0f} us)",
                   cpu_on / cpu_off))
    return rows, ratios


async def _node(args: argparse.Namespace) -> tuple[list[Row], list[tuple[str, float]]]:
    kept_1 = median_row([await node.round_trip(args.calls, 1) for _ in range(3)])
    kept_64 = await node.round_trip(args.calls, 64)
    spawned = await node.per_call(args.per_call // 3)
    get_1 = await node.step_get(args.requests, 1)
    get_32 = await node.step_get(args.requests, 32)
    chain = await node.chain_events(args.events // 2)
    rows = [kept_1, kept_64, spawned, get_1, get_32, chain]
    ratios = [
        ("p50 round trip, Node process per call / persistent", spawned.p50_us / kept_1.p50_us),
        ("calls/s with 1 in flight, persistent / process per call",
         kept_1.calls_per_s / spawned.calls_per_s),
        ("requests/s via TS api step (32 in flight) / process per call",
         get_32.calls_per_s / spawned.calls_per_s),
        # one event crosses three steps: the per-call design pays three process starts for it
        ("events/s TS -> Py -> TS / (process per call / 3)",
         chain.calls_per_s / (spawned.calls_per_s / 3)),
    ]
    return rows, ratios


def main() -> None:
    args = _arguments()
    print(f"no-op step.invoke round trip; Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {sys.platform}; persistent: median of {args.runs} runs "
          f"of {args.calls} calls", flush=True)
    rows, ratios = anyio.run(_bench, args)
    print(render(rows, ratios))
    kept_p50 = rows[0].p50_us
    verdict = "met" if kept_p50 < 100 and min(v for _, v in ratios) >= 100 else "NOT met"
    print(f"\ntarget (p50 < 100 us, >= 100x faster than process per call): {verdict}")
    print("\nthe steps runtime: HTTP GET through a Python api step next to a bare aiohttp "
          "handler (median of 3 runs); events through a two-step chain (p50/p99 columns: mean "
          "per event)", flush=True)
    rows, ratios = anyio.run(_runtime, args)
    print(render(rows, ratios))
    print("\nTypeScript steps: the Node runner's no-op round trip, a TS api step under load and "
          "a TS -> Python -> TS chain, next to a fresh Node runner per call", flush=True)
    rows, ratios = anyio.run(_node, args)
    print(render(rows, ratios))


if __name__ == "__main__":
    main()
