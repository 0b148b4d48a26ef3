"""cProfile of the core during the durable event pipeline (sqlite queue, A -> B, two Python steps).

    .venv/bin/python bench/profile_pipeline.py [--events 2000] [--queue sqlite] [--timer cpu]
    .venv/bin/python bench/profile_pipeline.py --compare [--in-flight 32] [--timer cpu]

Writes bench/results/profile-pipeline.txt: the top functions by own time and by cumulative
time, and the calls per event of the ones that matter (sqlite3 execute, os.write, uuid4, ...),
with the core's CPU time per event. The runners are other processes: only the core is profiled.
``--timer cpu`` counts the event loop thread's CPU time (``time.thread_time``) instead of wall
time: a syscall that gives up the GIL (``os.write``, ``os.urandom``) then costs what it costs,
not the time spent waiting for the GIL behind the storage threads.
Bounded: ``--events`` emits and a drain bounded by ``app.settle``.

``--compare`` profiles ``make bench-compare``'s pipeline instead, as motia start runs it (POST ->
TS api step -> TS event step with state -> Python event step; SQLite or Redis stores, traces
recorded, strict): the load (``--in-flight`` items at a time, each waited for at its sink) is
bench-compare's own load generator in a child process, so only the core is in the profile.
Writes bench/results/profile-compare-<queue>.txt.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio
import app_load

from motia_core.testing import MotiaTestApp

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
T = TypeVar("T")
COMPARE_PROJECT = BENCH / "compare" / "project"


def _redis_stores(queue: str) -> dict[str, str]:
    """The local Redis under a prefix of this run's own, when ``queue`` is redis."""
    if queue != "redis":
        return {}
    return {"redis_url": os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
            "redis_prefix": f"motia-bench-profile:{uuid.uuid4().hex}:"}


async def _profile(events: int, queue: str, out: Path, timer: str) -> None:
    async with MotiaTestApp(app_load.PROJECT, queue=queue, motia_dir=app_load._scratch(),
                            observability="off", **_redis_stores(queue)) as app:
        for i in range(50):
            await app.emit("bench.chain.a", {"i": i})
        await app.settle()

        async def chain() -> None:
            for i in range(events):
                await app.emit("bench.chain.a", {"i": i})
            await app.settle(timeout_s=120)

        profiler, elapsed, cpu, _ = await _profiled(timer, chain)
    text = io.StringIO()
    text.write(f"core profile, {queue} queue, {events} events A -> B (two Python steps), "
               f"recording off, {timer} timer; {events / elapsed:,.0f} events/s under the "
               f"profiler, core CPU {cpu / events * 1e6:,.0f} us/event (profiler overhead "
               f"included)\n\n")
    _report(profiler, text, events, out)


async def _profiled(timer: str, work: Callable[[], Awaitable[T]],
                    ) -> tuple[cProfile.Profile, float, float, T]:
    """``work()`` under the profiler (``timer`` "cpu": the loop thread's CPU time); returns
    the profiler, the seconds and CPU seconds it took, and what it returned."""
    profiler = cProfile.Profile(time.thread_time) if timer == "cpu" else cProfile.Profile()
    began, began_cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    result = await work()
    profiler.disable()
    return profiler, time.perf_counter() - began, time.process_time() - began_cpu, result


def _report(profiler: cProfile.Profile, text: io.StringIO, events: int, out: Path) -> None:
    profiler.dump_stats(out.with_suffix(".prof"))  # for pstats' callers/callees
    stats = pstats.Stats(profiler, stream=text)
    text.write("calls per event of selected functions:\n")
    for (file, _line, name), (_cc, calls, tottime, _ct, _callers) in sorted(
            stats.stats.items(), key=lambda item: -item[1][1]):  # type: ignore[attr-defined]
        if any(k in name for k in ("execute", "write", "uuid4", "urandom", "encode", "decode",
                                   "start_soon", "__enter__", "commit")):
            text.write(f"  {calls / events:8.2f}  {tottime / events * 1e6:8.1f} us  "
                       f"{Path(file).name}:{name}\n")
    text.write("\n")
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    out.write_text(text.getvalue())
    print(text.getvalue()[:6000])


async def _profile_compare(events: int, queue: str, in_flight: int, out: Path,
                           timer: str) -> None:
    root = BENCH / ".scratch"
    root.mkdir(exist_ok=True)
    copy = Path(tempfile.mkdtemp(dir=root)) / "project"
    shutil.copytree(COMPARE_PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__", ".motia"))
    state = "redis" if queue == "redis" else "sqlite"
    async with MotiaTestApp(copy, strict=True, state=state, queue=queue,
                            observability=state, **_redis_stores(queue)) as app:
        base = f"http://127.0.0.1:{app.port}"
        await _load(base, max(events // 10, 50), in_flight, copy.parent)  # warm-up
        profiler, elapsed, cpu, summary = await _profiled(
            timer, lambda: _load(base, events, in_flight, copy.parent))
    text = io.StringIO()
    text.write(f"core profile, bench-compare's pipeline (POST -> TS -> TS state -> Python), "
               f"{queue} stores, {events} items {in_flight} in flight, traces recorded, {timer} "
               f"timer; {events / elapsed:,.0f} items/s under the profiler ({summary}), core CPU "
               f"{cpu / events * 1e6:,.0f} us/item (profiler overhead included)\n\n")
    _report(profiler, text, events, out)


async def _load(base: str, events: int, in_flight: int, scratch: Path) -> str:
    """bench-compare's pipeline load in a child process; returns its one-line summary."""
    done = await anyio.run_process(
        [sys.executable, __file__, "--drive", base, "--events", str(events),
         "--in-flight", str(in_flight), "--out", str(scratch / "sink.fifo")],
        stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the load failed:\n{done.stdout.decode()}")
    return done.stdout.decode().strip()


async def _drive(base: str, events: int, in_flight: int, fifo: Path) -> None:
    from compare import load  # bench-compare's load generator, aiohttp in this process

    sink = load.Sink(fifo)
    async with anyio.create_task_group() as tg:
        await tg.start(sink.pump)
        async with load.session(in_flight) as client:
            run = await load.pipeline_run(client, base, sink, uuid.uuid4().hex[:8], events,
                                          in_flight, cap_s=300, item_cap_s=60)
        tg.cancel_scope.cancel()
    if run.errors or run.lost or run.capped:
        raise SystemExit(f"{run.errors} refused, {run.lost} lost, capped: {run.capped}")
    print(f"load: {run.ok} items, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--queue", default="sqlite")
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall",
                        help="cpu: the loop thread's CPU time, not wall time")
    parser.add_argument("--compare", action="store_true",
                        help="profile bench-compare's pipeline (HTTP POST, TS and Python steps)")
    parser.add_argument("--in-flight", type=int, default=32, help="--compare: items at a time")
    parser.add_argument("--drive", metavar="URL", help=argparse.SUPPRESS)  # the child's load
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.drive:
        anyio.run(_drive, args.drive, args.events, args.in_flight, args.out)
        return
    name = f"profile-compare-{args.queue}.txt" if args.compare else "profile-pipeline.txt"
    out = args.out or RESULTS / name
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.compare:
        anyio.run(_profile_compare, args.events, args.queue, args.in_flight, out, args.timer)
    else:
        anyio.run(_profile, args.events, args.queue, out, args.timer)


if __name__ == "__main__":
    main()
