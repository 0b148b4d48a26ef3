"""TypeScript steps: the Node runner's round trip, an api step under load, a TS -> Python -> TS
chain; each next to the process-per-invocation design (a fresh Node runner per call: start,
handshake, compile and load the step, invoke, exit), which is what the original does."""

from __future__ import annotations

import time
from pathlib import Path

import app_load
import persistent
from report import Row, percentile

from motia_core.testing import MotiaTestApp

__all__ = ("chain_events", "per_call", "round_trip", "step_get")

PROJECT = Path(__file__).resolve().parent / "polyglot"
STEP = str(PROJECT / "steps" / "noop.step.ts")


async def round_trip(calls: int, in_flight: int) -> Row:
    async with persistent.running(PROJECT, STEP, "node") as runner:
        await persistent.measure(runner, STEP, 200, 8)
        return await persistent.measure(runner, STEP, calls, in_flight,
                                        "persistent Node runner")


async def per_call(calls: int) -> Row:
    latencies = []
    began = time.perf_counter()
    for _ in range(calls):
        start = time.perf_counter()
        async with persistent.running(PROJECT, STEP, "node") as runner:
            await persistent.measure(runner, STEP, 1, 1)
        latencies.append((time.perf_counter() - start) * 1e6)
    elapsed = time.perf_counter() - began
    return Row("Node process per call", 1, calls, percentile(latencies, 50),
               percentile(latencies, 99), calls / elapsed)


async def step_get(requests: int, concurrency: int) -> Row:
    async with MotiaTestApp(PROJECT) as app:
        url = f"http://127.0.0.1:{app.port}"
        await app_load.load(url, 200, concurrency, "warm-up")
        return await app_load.load(url, requests, concurrency, "GET via TS api step")


async def chain_events(events: int) -> Row:
    """Events/s through TS -> Python -> TS, from the first emit to a drained bus."""
    async with MotiaTestApp(PROJECT) as app:
        return await app_load.drain(app, "bench.poly.a", events, "events via TS -> Py -> TS")
