"""cProfile of the core during the durable event pipeline (sqlite queue, A -> B, two Python steps).

    .venv/bin/python bench/profile_pipeline.py [--events 2000] [--queue sqlite] [--timer cpu]

Writes bench/results/profile-pipeline.txt: the top functions by own time and by cumulative
time, and the calls per event of the ones that matter (sqlite3 execute, os.write, uuid4, ...),
with the core's CPU time per event. The runners are other processes: only the core is profiled.
``--timer cpu`` counts the event loop thread's CPU time (``time.thread_time``) instead of wall
time: a syscall that gives up the GIL (``os.write``, ``os.urandom``) then costs what it costs,
not the time spent waiting for the GIL behind the storage threads.
Bounded: ``--events`` emits and a drain bounded by ``app.settle``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from pathlib import Path

import anyio
import app_load

from motia_core.testing import MotiaTestApp

RESULTS = Path(__file__).resolve().parent / "results"


async def _profile(events: int, queue: str, out: Path, timer: str) -> None:
    extra = {}
    if queue == "redis":  # the local Redis, under a prefix of this run's own
        extra = {"redis_url": os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379"),
                 "redis_prefix": f"motia-bench-profile:{uuid.uuid4().hex}:"}
    async with MotiaTestApp(app_load.PROJECT, queue=queue, motia_dir=app_load._scratch(),
                            observability="off", **extra) as app:
        for i in range(50):
            await app.emit("bench.chain.a", {"i": i})
        await app.settle()
        profiler = (cProfile.Profile(time.thread_time) if timer == "cpu"
                    else cProfile.Profile())
        began, began_cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        for i in range(events):
            await app.emit("bench.chain.a", {"i": i})
        await app.settle(timeout_s=120)
        profiler.disable()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    text = io.StringIO()
    text.write(f"core profile, {queue} queue, {events} events A -> B (two Python steps), "
               f"recording off, {timer} timer; {events / elapsed:,.0f} events/s under the "
               f"profiler, core CPU {cpu / events * 1e6:,.0f} us/event (profiler overhead "
               f"included)\n\n")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--queue", default="sqlite")
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall",
                        help="cpu: the loop thread's CPU time, not wall time")
    parser.add_argument("--out", type=Path, default=RESULTS / "profile-pipeline.txt")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    anyio.run(_profile, args.events, args.queue, args.out, args.timer)


if __name__ == "__main__":
    main()
