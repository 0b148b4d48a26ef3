"""`make bench-ab BASE=<git ref>`: motia-core at a git ref against the working tree, in one run.

For hot-path work: "measure, change, measure again" on a small shared machine only means
something when both sides run in the same minutes, interleaved (run 1 of each, run 2 of each,
...). This checks ``BASE`` (default ``HEAD``) out into bench/.scratch/ab-base with
``git worktree``, then runs the HTTP GET and the event pipeline scenarios of ``make
bench-compare`` on both: each side is ``motia start`` with its own ``motia_core`` first on
``PYTHONPATH``, so it runs its own runners (the base's Node runner borrows the working tree's
npm packages when the lock files match); the step files are the same. ``--only wrk`` runs both
api steps under ``wrk`` instead (the #20 target's load); ``--base-env NAME=VALUE`` sets a
variable for the base side only. Prints one table and writes bench/results/ab-<date>.json.
Loopback only; every run is bounded in count and time.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import anyio
from compare import contenders, output, scenarios
from compare.figures import Figure, Scalar
from worktree import REPO, checkout

__all__ = ("main",)

BENCH = Path(__file__).resolve().parent
SCRATCH = BENCH / ".scratch"
PROJECT = BENCH / "compare" / "project"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the git ref to compare against")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median shown)")
    parser.add_argument("--requests", type=int, default=2000, help="GET requests per run")
    parser.add_argument("--events", type=int, default=1000,
                        help="pipeline items per run at 32 in flight (a quarter at 1)")
    parser.add_argument("--only", default="get,pipeline",
                        help="scenarios, comma-separated: get, wrk (both api steps under wrk at "
                             "32 connections), pipeline; default get,pipeline")
    parser.add_argument("--wrk-seconds", type=float, default=5.0, help="one wrk run's length")
    parser.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the base side only (with --base HEAD: "
                             "the same code with and without a switch)")
    parser.add_argument("--redis", action="store_true",
                        help="both sides with --queue redis --state redis on the local Redis "
                             "(MOTIA_BENCH_REDIS_URL), each under a prefix of its own")
    parser.add_argument("--processes", type=int, default=1, help="core processes per side")
    parser.add_argument("--out", type=Path, default=BENCH / "results",
                        help="folder for ab-<date>.json")
    return parser.parse_args()


def _checkout(ref: str, target: Path) -> str:
    """``ref`` checked out at ``target``, its Node runner with packages; returns its commit."""
    commit = checkout(ref, target)
    _node_packages(REPO / "runners" / "node", target / "runners" / "node")
    return commit


def _node_packages(ours: Path, theirs: Path) -> None:
    """The base's Node runner gets its packages: ours when the lock files match, else npm ci."""
    lock = "package-lock.json"
    if not (theirs / lock).is_file():
        return
    if (ours / lock).is_file() and (ours / lock).read_bytes() == (theirs / lock).read_bytes():
        (theirs / "node_modules").symlink_to(ours / "node_modules", target_is_directory=True)
    else:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=theirs, check=True)


def _side(name: str, source: Path, work: Path, extra_env: dict[str, str] | None = None,
          *, redis: bool = False, processes: int = 1) -> contenders.Contender:
    """``motia start`` with ``source``'s ``motia_core`` first on the import path (it starts the
    runners of its own checkout)."""
    ours = (contenders.ours_redis if redis else contenders.ours)(PROJECT, work / name.split()[0])
    path = os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    argv = (sys.executable, "-m", "motia_core.cli", *ours.argv[ours.argv.index("start"):])
    argv = (*argv[:argv.index("--processes") + 1], str(processes),
            *argv[argv.index("--processes") + 2:])
    # The same core process count on each side: an A/B of the code, not of the default.
    return replace(ours, name=name, argv=argv, processes=processes, pipeline_only=False,
                   env={**ours.env, "PYTHONPATH": path, "MOTIA_PROCESSES": str(processes),
                        **(extra_env or {})})


async def _measure(args: argparse.Namespace, base: Path, commit: str,
                   ) -> tuple[list[Figure], list[Scalar]]:
    work = SCRATCH / "ab"
    logs, sinks = work / "logs", work / "sinks"
    sinks.mkdir(parents=True, exist_ok=True)
    base_env = dict(item.split("=", 1) for item in args.base_env)
    how = {"redis": args.redis, "processes": args.processes}
    sides = [_side(f"base {commit}", base, work, base_env, **how),
             _side("working tree", REPO, work, **how)]
    entries = [scenarios.Entry(side, scenarios.Plan.full(args.runs, args.requests, args.events))
               for side in sides]
    only = set(args.only.split(","))
    flows = await scenarios.http_get(entries, logs) if "get" in only else []
    cpu: list[Scalar] = []
    if "wrk" in only:
        flows += await scenarios.wrk_get(entries, logs, args.runs, args.wrk_seconds, cpu)
    figures, memory = (await scenarios.pipeline(entries, logs, sinks) if "pipeline" in only
                       else ([], []))
    memory = cpu + memory
    names = [side.name for side in sides]
    return sorted(flows + figures, key=lambda f: (f.scenario, f.in_flight,
                                                  names.index(f.contender))), memory


def main() -> None:
    args = _arguments()
    out = output.console()
    started = datetime.datetime.now()
    base = SCRATCH / "ab-base"
    commit = _checkout(args.base, base)
    out.print(f"[dim]base {args.base} = {commit} in {base}; measuring {args.runs} runs "
              "of each, interleaved ...[/dim]")
    flows, memory = anyio.run(_measure, args, base, commit)
    output.print_tables(out, flows, [], memory, [])
    path = args.out / f"ab-{started:%Y%m%d-%H%M%S}.json"
    output.write_json(path, {"date": started.isoformat(timespec="seconds"), "base": commit,
                             "arguments": {k: str(v) for k, v in vars(args).items()}},
                      flows, [], memory, [])
    out.print(f"\nfigures: {path}")


if __name__ == "__main__":
    main()
