"""Core CPU per event and events/s of the durable chain (sqlite, A -> B), a git ref vs the tree.

    .venv/bin/python bench/cpu_ab.py --base HEAD~1 [--runs 5] [--events 2000] [--queue sqlite]
                                     [--base-env NAME=VALUE ...]

A steadier figure than wall time on a loaded machine: the core's own CPU time per event
(``time.process_time`` over the drain; the runners are other processes). Each run is a fresh
process (``app_load.recording``; ``--queue redis``: the local Redis under a prefix of the run's
own, deleted afterwards; ``--queue memory``: no storage at all, the bus, the invocations and
the runner pipes alone) with one side's ``motia_core`` first on ``PYTHONPATH``; the sides
alternate run by run and each figure is the median. ``--base-env NAME=VALUE`` with ``--base
HEAD``: the same code with and without a switch. Bounded: ``--runs`` x 2 processes of
``--events`` events each, every one under a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from worktree import REPO, checkout

BENCH = Path(__file__).resolve().parent
BASE_TREE = BENCH / ".scratch" / "cpu-ab-base"
RUN_BOUND_S = 300

_ONE = """
import json, sys, anyio
sys.path.insert(0, {bench!r})
import app_load
async def main():
    if {queue!r} == "sqlite":
        row, cpu = await app_load.recording({events}, "off")
    elif {queue!r} == "memory":
        cpu_list = []
        async with app_load.MotiaTestApp(app_load.PROJECT, queue="memory", state="memory",
                                         observability="off") as app:
            row = await app_load.drain(app, "bench.chain.a", {events}, "chain", cpu_list)
        cpu = cpu_list[0]
    else:
        import uuid, redis
        cpu_list = []
        prefix = "motia-bench-cpu-ab:" + uuid.uuid4().hex + ":"
        try:
            async with app_load.MotiaTestApp(app_load.PROJECT, queue={queue!r},
                                             motia_dir=app_load._scratch(),
                                             observability="off", redis_url={redis_url!r},
                                             redis_prefix=prefix) as app:
                row = await app_load.drain(app, "bench.chain.a", {events}, "chain", cpu_list)
        finally:
            client = redis.Redis.from_url({redis_url!r})
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        cpu = cpu_list[0]
    print("RESULT " + json.dumps({{"rate": row.calls_per_s, "cpu_us": cpu}}))
anyio.run(main)
"""


def _run(source: Path, events: int, queue: str, extra_env: dict[str, str]) -> dict[str, float]:
    code = _ONE.format(bench=str(BENCH), events=events, queue=queue,
                       redis_url=os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    env = {**os.environ, "PYTHONPATH": str(source), "MOTIA_LOG_LEVEL": "warning", **extra_env}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=RUN_BOUND_S, cwd=source)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, float] = json.loads(line[7:])
            return result
    raise SystemExit(f"a run failed ({source}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--queue", default="sqlite")
    parser.add_argument("--base-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the base side only")
    args = parser.parse_args()
    base_env = dict(item.split("=", 1) for item in args.base_env)
    commit = checkout(args.base, BASE_TREE)
    sides = {f"base {commit}": BASE_TREE, "working tree": REPO}
    envs = {f"base {commit}": base_env, "working tree": {}}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    for _ in range(args.runs):
        for name, source in sides.items():
            results[name].append(_run(source, args.events, args.queue, envs[name]))
    print(f"{args.queue} chain A -> B, {args.events} events, median of {args.runs}"
          + (f" (base with {' '.join(args.base_env)})" if args.base_env else "") + ":")
    medians = {}
    for name, runs in results.items():
        rate = statistics.median(r["rate"] for r in runs)
        cpu = statistics.median(r["cpu_us"] for r in runs)
        medians[name] = (rate, cpu)
        print(f"  {name:16} {rate:8,.0f} events/s   core CPU {cpu:7,.0f} us/event   (cpu runs: "
              + ", ".join(f"{r['cpu_us']:.0f}" for r in runs) + ")")
    (b_rate, b_cpu), (w_rate, w_cpu) = medians.values()
    print(f"  ratio tree/base: events/s {w_rate / b_rate:.2f}x, CPU per event {w_cpu / b_cpu:.2f}x")


if __name__ == "__main__":
    main()
