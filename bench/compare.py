"""`make bench-compare`: motia-core against the original 0.6.4, hand-built BullMQ, bare aiohttp.

Same machine, same run, same step files: HTTP GET through a TS and a Python api step (from the
aiohttp client and from ``wrk``), an event pipeline (POST -> TS api -> TS event with state ->
Python event; motia-core on SQLite and on Redis, and the same pipeline hand-built on Fastify +
BullMQ), cold start to the first 200, peak memory during the pipeline, and the raw limits (no-op
round trip through each runner, the pipe floor); ``--only`` picks some of them. Prints rich
tables and the issues' targets, writes every figure to bench/results/compare-<date>.json and a
plot beside it. The original is installed into
bench/.scratch/original when it is missing (or again with --install); if it cannot be installed
or started, its rows say why and ours are still measured. Loopback only; every load loop is
bounded in count and in time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
from compare import contenders, limits, original, output, plot, scenarios, targets
from compare.figures import Figure, Scalar

__all__ = ("main",)

BENCH = Path(__file__).resolve().parent
SCRATCH = BENCH / ".scratch"
STEPS = BENCH / "compare" / "project" / "steps"
ORDER = (scenarios.GET_TS, scenarios.GET_PY, scenarios.GET_BARE, scenarios.WRK_TS,
         scenarios.WRK_PY, scenarios.WRK_BARE, scenarios.PIPELINE)
PARTS = ("get", "wrk", "pipeline", "cold", "limits")


def _parts(text: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not chosen or chosen - set(PARTS):
        raise argparse.ArgumentTypeError(
            f"--only takes a comma-separated list of {', '.join(PARTS)}; got {text!r}")
    return chosen


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true",
                        help=f"(re)install {original.PACKAGE} into bench/.scratch/original")
    parser.add_argument("--no-original", action="store_true",
                        help="measure motia-core and the bare limit only")
    parser.add_argument("--only", type=_parts, default=frozenset(PARTS),
                        help=f"measure only these, comma-separated ({','.join(PARTS)}); "
                             "default: all")
    parser.add_argument("--no-handbuilt", action="store_true",
                        help="leave out the hand-built Fastify + BullMQ stack")
    parser.add_argument("--no-redis", action="store_true",
                        help="leave out motia-core on Redis (--queue redis --state redis)")
    parser.add_argument("--wrk-seconds", type=float, default=5.0,
                        help="duration of one wrk run (the wrk rows: --runs of them, median)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median shown)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="GET requests per run for motia-core and bare aiohttp")
    parser.add_argument("--events", type=int, default=1000,
                        help="pipeline items per run at 32 in flight (a quarter at 1)")
    parser.add_argument("--original-requests", type=int, default=32,
                        help="GET requests per run at 32 in flight for the original "
                             "(a third at 1): it spawns a process per request")
    parser.add_argument("--original-events", type=int, default=32,
                        help="pipeline items per run at 32 in flight for the original "
                             "(a quarter at 1): three processes per item")
    parser.add_argument("--calls", type=int, default=2000, help="no-op calls per raw-limit run")
    parser.add_argument("--out", type=Path, default=BENCH / "results",
                        help="folder for compare-<date>.json and .png")
    return parser.parse_args()


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20,
                              check=False).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "not found"


def _machine() -> dict[str, Any]:
    model, memory = platform.processor() or "unknown CPU", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "memory_mib": memory,
            "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "node": _version(["node", "--version"]),
            "ruby": _version(["ruby", "--version"]),
            "motia_core": metadata.version("motia-core")}


def _elapsed(began: float) -> str:
    return f"{time.perf_counter() - began:.0f} s in"


def _ordered(figures: list[Figure]) -> list[Figure]:
    names = contenders.NAMES
    return sorted(figures, key=lambda f: (ORDER.index(f.scenario), names.index(f.contender),
                                          f.in_flight))


async def _measure(args: argparse.Namespace, setup_log: list[str],
                   ) -> tuple[list[Figure], list[Figure], list[Scalar], str | None]:
    out = output.console()
    work = SCRATCH / "compare"
    logs, sinks = work / "logs", work / "sinks"
    shutil.rmtree(logs, ignore_errors=True)  # the servers' output of this run only
    sinks.mkdir(parents=True, exist_ok=True)
    field = [contenders.ours(STEPS.parent, work), contenders.bare()]  # the original: below
    if "pipeline" in args.only:  # the contenders with nothing else to measure
        if contenders.ALL_CORES > 1:
            field.append(contenders.all_cores(contenders.ours(STEPS.parent, work / "all")))
        if not args.no_redis:
            field.append(contenders.ours_redis(STEPS.parent, work))
            if contenders.ALL_CORES > 1:
                field.append(contenders.all_cores(
                    contenders.ours_redis(STEPS.parent, work / "all")))
        if not args.no_handbuilt:
            field.append(contenders.handbuilt())
    theirs = None
    if not args.no_original and args.only & {"get", "pipeline", "cold"}:
        out.print(f"[dim]preparing {original.PACKAGE} in {SCRATCH / 'original'} ...[/dim]")
        setup = original.prepare(SCRATCH / "original", STEPS, reinstall=args.install,
                                 log=setup_log)
        field.append(contenders.original(setup))
        theirs = setup.reason or setup.python_reason
    entries = [scenarios.Entry(c, scenarios.Plan.small(args.runs, args.original_requests,
                                                       args.original_events)
                               if c.small else
                               scenarios.Plan.full(args.runs, args.requests, args.events))
               for c in field]
    served = [e for e in entries if not e.contender.pipeline_only]  # GET routes, cold start
    began = time.perf_counter()
    flows: list[Figure] = []
    scalars: list[Scalar] = []
    raw: list[Figure] = []
    if "get" in args.only:
        out.print(f"[dim]HTTP GET, all contenders ({_elapsed(began)}) ...[/dim]")
        flows += await scenarios.http_get(served, logs)
    if "wrk" in args.only:
        out.print(f"[dim]HTTP GET from wrk, motia-core and bare ({_elapsed(began)}) ...[/dim]")
        flows += await scenarios.wrk_get([e for e in served if not e.plan.slow], logs,
                                         args.runs, args.wrk_seconds)
    if "pipeline" in args.only:
        out.print(f"[dim]pipeline and memory ({_elapsed(began)}) ...[/dim]")
        figures, memory = await scenarios.pipeline(entries, logs, sinks)
        flows += figures
        scalars += memory
    if "cold" in args.only:
        out.print(f"[dim]cold start ({_elapsed(began)}) ...[/dim]")
        scalars += await scenarios.cold_start(served, args.runs, logs)
    if "limits" in args.only:
        out.print(f"[dim]raw limits: no-op round trips through each runner "
                  f"({_elapsed(began)}) ...[/dim]")
        raw = await limits.round_trips(args.calls, args.runs)
    return _ordered(flows), raw, scalars, theirs


def main() -> None:
    args = _arguments()
    out = output.console()
    setup_log: list[str] = []
    started = datetime.datetime.now()
    flows, raw, scalars, original_issue = anyio.run(_measure, args, setup_log)
    names = contenders.NAMES
    scalars.sort(key=lambda s: (s.scenario != scenarios.COLD, names.index(s.contender)))
    verdicts = targets.evaluate(flows, scalars)
    machine = _machine()
    summary = (f"{machine['cpus']} CPUs ({machine['cpu']}), {machine['memory_mib']:,} MiB, "
               f"{machine['os']}; Python {machine['python']}, Node {machine['node']}")
    out.print(f"\nmotia-core {machine['motia_core']} vs {original.PACKAGE} vs the hand-built "
              f"BullMQ stack vs bare aiohttp; "
              f"{summary}; started {started:%Y-%m-%d %H:%M}")
    if original_issue:
        out.print(f"[yellow]the original: {original_issue}[/yellow]")
    output.print_tables(out, flows, raw, scalars, verdicts)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    header = {"date": started.isoformat(timespec="seconds"), "machine": machine,
              "original": original.PACKAGE, "original_issue": original_issue,
              "setup": setup_log, "arguments": {k: str(v) for k, v in vars(args).items()}}
    json_path = args.out / f"compare-{stamp}.json"
    output.write_json(json_path, header, flows, raw, scalars, verdicts)
    png_path = args.out / f"compare-{stamp}.png"
    why_not = plot.draw(png_path, flows, scalars, summary)
    out.print(f"\nfigures: {json_path}")
    out.print(f"plot: {png_path}" if why_not is None else f"no plot: {why_not}")


if __name__ == "__main__":
    main()
