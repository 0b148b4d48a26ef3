"""The steps runtime under load: GET through a Python api step, events through a two-step chain.

The api step is measured next to a bare aiohttp handler doing the same work in-process, with the
same client, so the ratio is the overhead of our design (routing, request object, trace, the pipe
to the runner and back). The load generator is an aiohttp client in this process with a fixed
number of requests and a fixed concurrency, against 127.0.0.1 only.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import aiohttp
import anyio
from aiohttp import web
from report import Row, percentile

from motia_core.testing import MotiaTestApp

__all__ = ("bare_get", "chain_events", "drain", "load", "recording", "step_get")

PROJECT = Path(__file__).resolve().parent / "app"


async def load(url: str, requests: int, concurrency: int, mode: str) -> Row:
    latencies: list[float] = []
    remaining = iter(range(requests))
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            for i in remaining:
                started = time.perf_counter()
                async with session.get(f"{url}/hello/n{i}") as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{mode}: GET answered {response.status}")
                latencies.append((time.perf_counter() - started) * 1e6)

        began = time.perf_counter()
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for _ in range(concurrency):
                    tg.start_soon(worker)
        elapsed = time.perf_counter() - began
    return Row(mode, concurrency, requests, percentile(latencies, 50), percentile(latencies, 99),
               requests / elapsed)


async def step_get(requests: int, concurrency: int) -> Row:
    async with MotiaTestApp(PROJECT) as app:
        await load(f"http://127.0.0.1:{app.port}", 200, concurrency, "warm-up")
        return await load(f"http://127.0.0.1:{app.port}", requests, concurrency,
                           "GET via Python api step")


async def bare_get(requests: int, concurrency: int) -> Row:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": request.match_info["name"]})

    http_app = web.Application()
    http_app.router.add_get("/hello/{name}", hello)
    runner = web.AppRunner(http_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        await load(url, 200, concurrency, "warm-up")
        return await load(url, requests, concurrency, "GET via bare aiohttp")
    finally:
        await runner.cleanup()


async def chain_events(events: int, queue: str = "memory", observability: str = "off") -> Row:
    """Events/s through A -> B (two Python event steps), from the first emit to a drained bus.
    ``observability``: where traces and logs are recorded ("off": only the memory window)."""
    recording = "" if observability == "off" else f", recording to {observability}"
    async with MotiaTestApp(PROJECT, queue=queue, motia_dir=_scratch(),
                            observability=observability) as app:
        return await drain(app, "bench.chain.a", events,
                           f"events via Python A -> B, {queue} queue{recording}")


async def recording(events: int, observability: str) -> tuple[Row, float]:
    """The durable pipeline (sqlite queue) with traces and logs recorded to ``observability``
    ("off": only the memory window): its row, and the core's CPU time per event in
    microseconds (this process's, worker threads included; the runners are other processes),
    which a busy machine disturbs far less than the wall clock."""
    cpu: list[float] = []
    async with MotiaTestApp(PROJECT, queue="sqlite", motia_dir=_scratch(),
                            observability=observability) as app:
        recorded = "recording off" if observability == "off" else f"recording to {observability}"
        row = await drain(app, "bench.chain.a", events,
                          f"events via Python A -> B, sqlite queue, {recorded}", cpu)
    return row, cpu[0]


async def drain(app: MotiaTestApp, topic: str, events: int, mode: str,
                cpu: list[float] | None = None) -> Row:
    """Emit ``events`` on ``topic`` and wait until every step they reach has run; ``cpu`` gets
    this process's CPU time per event (in microseconds) over the same span."""
    for i in range(50):
        await app.emit(topic, {"i": i})
    await app.settle()
    began, began_cpu = time.perf_counter(), time.process_time()
    for i in range(events):
        await app.emit(topic, {"i": i})
    await app.settle(timeout_s=120)
    elapsed = time.perf_counter() - began
    if cpu is not None:
        cpu.append((time.process_time() - began_cpu) / events * 1e6)
    per_event_us = elapsed / events * 1e6
    return Row(mode, 0, events, per_event_us, per_event_us, events / elapsed)


def _scratch() -> str:
    """A fresh .motia folder under bench/.scratch (ignored by git) for the SQLite files."""
    root = Path(__file__).resolve().parent / ".scratch"
    root.mkdir(exist_ok=True)
    return tempfile.mkdtemp(dir=root)
