"""cProfile of the core while ``wrk`` drives an api step's GET at 32 connections (the #20 load).

    .venv/bin/python bench/profile_get.py [--lang py|ts] [--seconds 10] [--timer cpu]
                                          [--observability sqlite|memory|off]

The project of ``make bench-compare`` (bench/compare/project) runs in this process as ``motia
start`` runs it (SQLite state and queue, traces recorded, strict); ``wrk`` is another process,
so only the core is profiled (its runners are other processes too). Writes
bench/results/profile-get-<lang>.txt (top functions by own and by cumulative time, the core's
CPU per request) and a .prof beside it for pstats' callers. ``--timer cpu`` counts the loop
thread's CPU time instead of wall time. ``--observability off`` (the newest traces in memory
only) or ``memory`` runs it without the SQLite trace store: the difference in CPU per request is
what storing traces costs. Bounded: one warm-up and one measured wrk run of ``--seconds``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import anyio
from compare import wrk

from motia_core.testing import MotiaTestApp

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
PROJECT = BENCH / "compare" / "project"


async def _profile(lang: str, seconds: float, timer: str, observability: str, out: Path,
                   ) -> None:
    root = BENCH / ".scratch"
    root.mkdir(exist_ok=True)
    copy = Path(tempfile.mkdtemp(dir=root)) / "project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__", ".motia"))
    async with MotiaTestApp(copy, strict=True, state="sqlite", queue="sqlite",
                            observability=observability) as app:
        url = f"http://127.0.0.1:{app.port}/{lang}/hello/wrk"
        await wrk.run(url, 1)
        profiler = (cProfile.Profile(time.thread_time) if timer == "cpu"
                    else cProfile.Profile())
        began_cpu = time.process_time()
        profiler.enable()
        measured = await wrk.run(url, seconds)
        profiler.disable()
        cpu = time.process_time() - began_cpu
    text = io.StringIO()
    text.write(f"core profile, wrk -c{wrk.CONNECTIONS} GET /{lang}/hello for {seconds:g}s, "
               f"{timer} timer, traces {observability}: {measured.ok} requests "
               f"({measured.ok / measured.elapsed_s:,.0f}/s under the profiler), core CPU "
               f"{cpu / max(measured.ok, 1) * 1e6:,.0f} us/request "
               "(profiler overhead included)\n\n")
    profiler.dump_stats(out.with_suffix(".prof"))
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(45)
    stats.sort_stats("cumulative").print_stats(60)
    out.write_text(text.getvalue())
    print(text.getvalue()[:8000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("py", "ts"), default="py")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timer", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--observability", choices=("sqlite", "memory", "off"),
                        default="sqlite", help="where traces go (sqlite: as motia start)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    missing = wrk.missing()
    if missing:
        raise SystemExit(missing)
    out = args.out or RESULTS / f"profile-get-{args.lang}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    anyio.run(_profile, args.lang, args.seconds, args.timer, args.observability, out)


if __name__ == "__main__":
    main()
