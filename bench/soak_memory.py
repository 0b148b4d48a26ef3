"""Soak: a logging-heavy project under steady load, the core's memory (RSS) after each round.

Issue 15 item 7: nothing the core keeps may grow without end. The project is written to a
temporary folder: an api step that logs 40 lines (one of 20 kB, cut to 8 kB by the core), sets
state under a fixed key and emits an event; the subscriber logs 20 lines more. Each round sends a
fixed number of requests at a fixed concurrency (127.0.0.1 only), waits until the events are
delivered, collects garbage and reads VmRSS of this process (the core) and of the Python runner.
After the warm-up rounds the RSS should stay flat: by then every bounded memory is full and only
recycles: the trace window (1,000 traces), the state operation log (10,000), and the slowest to
fill, the ended invocations remembered for their leftover work (50,000: two per request, so
25,000 requests). The harness's own list of published events is cleared every round (it is a
test helper, not the server).

    .venv/bin/python bench/soak_memory.py [--rounds 36] [--requests 1000] [--concurrency 16]
        [--small-bounds] [--tracemalloc]

``--small-bounds`` shrinks those bounds (bench only: 100 live traces, 6,000 trace events,
1,000 state operations, 2,000 ended invocations) so that they are full after the first round
or two, and any slope after that is something unbounded. ``--tracemalloc`` traces the core's
allocations (slow) and prints, between the middle round and the last one, the 15 tracebacks
that grew most and the object counts by type that grew.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections import Counter, deque
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


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def wal_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in (root / ".motia").glob("*-wal")) / 1024 / 1024


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


def shrink_bounds(app: MotiaTestApp) -> None:
    """Bench only: smaller bounds, full after a round or two (see the module docstring)."""
    from motia_core.runtime import leftover

    leftover._REMEMBERED = 2_000  # type: ignore[attr-defined]
    live = app.app.traces.live
    live.max_traces = 100
    live.max_events_total = 6_000
    app.app.state.operations = deque(maxlen=1_000)  # type: ignore[attr-defined]


def type_counts() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def report_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot,
                  types_before: Counter[str], types_after: Counter[str], requests: int) -> None:
    print(f"\ntracemalloc, top 15 by growth between the two snapshots ({requests} requests "
          "apart), grouped by traceback:")
    for stat in after.compare_to(before, "traceback")[:15]:
        print(f"  {stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks "
              f"({stat.size_diff / max(requests, 1):+.0f} B/request)")
        for line in stat.traceback.format(limit=6):
            print(f"      {line}")
    grew = {name: types_after[name] - types_before.get(name, 0) for name in types_after}
    top = sorted(((n, d) for n, d in grew.items() if d > 0), key=lambda x: -x[1])[:20]
    print("\ngc objects that grew, by type:")
    for name, diff in top:
        print(f"  {diff:+8d} {name} (now {types_after[name]})")


async def main(rounds: int, requests: int, concurrency: int, small_bounds: bool,
               trace_memory: bool) -> None:
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
            if small_bounds:
                shrink_bounds(app)
            if trace_memory:
                tracemalloc.start(12)
            middle = max(1, rounds // 2)
            snapshot: tracemalloc.Snapshot | None = None
            types: Counter[str] = Counter()
            print(f"{rounds} rounds of {requests} requests at concurrency {concurrency}; "
                  "each request logs 40 lines and emits one event (20 lines more)")
            print(f"{'round':>5} {'seconds':>8} {'core RSS MB':>12} {'runner RSS MB':>14} "
                  f"{'state ops':>10} {'live events':>12} {'ended invocations':>18} "
                  f"{'anon MB':>8} {'file MB':>8} {'WAL MB':>8}")
            async with aiohttp.ClientSession(f"http://127.0.0.1:{app.port}") as session:
                for number in range(1, rounds + 1):
                    began = time.perf_counter()
                    await round_of(app, session, number * requests, requests, concurrency)
                    app.events.clear()
                    await app.app.traces.flush()
                    gc.collect()
                    ops = len(app.app.state.operations)  # type: ignore[attr-defined]
                    print(f"{number:>5} {time.perf_counter() - began:>8.1f} "
                          f"{rss_mb():>12.1f} {rss_mb(runner_pid):>14.1f} {ops:>10} "
                          f"{app.app.traces.live.events_held:>12} "
                          f"{len(app.app.invoker.ended._ended):>18} "
                          f"{rss_mb(field='RssAnon'):>8.1f} {rss_mb(field='RssFile'):>8.1f} "
                          f"{wal_mb(root):>8.1f}", flush=True)
                    if trace_memory and number == middle:
                        snapshot, types = tracemalloc.take_snapshot(), type_counts()
                    elif trace_memory and number == rounds and snapshot is not None:
                        report_growth(snapshot, tracemalloc.take_snapshot(), types,
                                      type_counts(), (rounds - middle) * requests)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=36)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--small-bounds", action="store_true",
                        help="bench only: bounds that are full after a round or two")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="compare allocations between the middle and the last round")
    args = parser.parse_args()
    anyio.run(main, args.rounds, args.requests, args.concurrency, args.small_bounds,
              args.tracemalloc)
