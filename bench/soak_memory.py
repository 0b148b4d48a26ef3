"""Soak: a logging-heavy project under steady load, the core's memory (RSS) after each round.

Issue 15 item 7: nothing the core keeps may grow without end. The project is written to a
temporary folder: an api step that logs 40 lines (one of 20 kB, cut to 8 kB by the core), sets
state under a fixed key and emits an event; the subscriber logs 20 lines more. Each round sends a
fixed number of requests at a fixed concurrency (127.0.0.1 only), waits until the events are
delivered, collects garbage and reads VmRSS of this process (the core) and of the Python runner.
After the warm-up rounds the RSS should stay flat: the trace window, the log queue, the state
operation log and the schema cache are all full by then and only recycle.

    .venv/bin/python bench/soak_memory.py [--rounds 20] [--requests 400] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

import aiohttp
import anyio

from motia_core.testing import MotiaTestApp

API_STEP = '''
config = {"type": "api", "name": "Chatty", "path": "/chatty/:n", "method": "POST",
          "emits": ["chatted"]}


async def handler(req, ctx):
    n = req["pathParams"]["n"]
    for i in range(39):
        ctx.logger.info(f"request {n} line {i} " + "x" * 1000, {"i": i, "n": n})
    ctx.logger.warn("a long one " + "y" * 20_000)
    await ctx.state.set("soak", "last", {"n": n})
    await ctx.emit({"topic": "chatted", "data": {"n": n, "pad": "z" * 2000}})
    return {"status": 200, "body": {"n": n}}
'''

EVENT_STEP = '''
config = {"type": "event", "name": "Listener", "subscribes": ["chatted"], "emits": [],
          "input": {"type": "object", "properties": {"n": {"type": "string"}}}}


async def handler(data, ctx):
    for i in range(20):
        ctx.logger.info(f"event {data['n']} line {i} " + "e" * 500)
'''


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def round_of(app: MotiaTestApp, session: aiohttp.ClientSession, start: int,
                   requests: int, concurrency: int) -> None:
    numbers = iter(range(start, start + requests))

    async def worker() -> None:
        for n in numbers:
            async with session.post(f"/chatty/{n}", json={}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"POST /chatty/{n} answered {response.status}")

    with anyio.fail_after(300):
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
        await app.settle(timeout_s=120)


async def main(rounds: int, requests: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory(prefix="motia-soak-") as tmp:
        root = Path(tmp)
        (root / "steps").mkdir()
        (root / "steps" / "chatty_step.py").write_text(API_STEP)
        (root / "steps" / "listener_step.py").write_text(EVENT_STEP)
        # The stores a production server uses for traces and logs (SQLite under .motia/);
        # state and queue in memory, so that their own bounds are what is measured.
        async with MotiaTestApp(root, observability="sqlite", json_logs=True,
                                log_level="warning") as app:
            runner_pid = app.app.pools["python"].processes[0].pid
            assert runner_pid is not None
            print(f"{rounds} rounds of {requests} requests at concurrency {concurrency}; "
                  "each request logs 40 lines and emits one event (20 lines more)")
            print(f"{'round':>5} {'seconds':>8} {'core RSS MB':>12} {'runner RSS MB':>14} "
                  f"{'state ops':>10} {'live events':>12}")
            async with aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session:
                for number in range(1, rounds + 1):
                    began = time.perf_counter()
                    await round_of(app, session, number * requests, requests, concurrency)
                    await app.app.traces.flush()
                    gc.collect()
                    ops = len(app.app.state.operations)  # type: ignore[attr-defined]
                    print(f"{number:>5} {time.perf_counter() - began:>8.1f} "
                          f"{rss_mb():>12.1f} {rss_mb(runner_pid):>14.1f} {ops:>10} "
                          f"{app.app.traces.live.events_held:>12}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.requests, args.concurrency)
