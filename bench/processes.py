"""Events/s of the event pipeline with `motia start --processes 1` and `--processes 2`, on SQLite
and on Redis (issue 20, item 2).

Each run starts one `motia start --processes N` of bench/app (the two-step Python chain
bench.chain.a -> BenchChainFirst -> bench.chain.b -> BenchChainSecond; recording off, so the
queue is what is measured), waits until all N processes answer on the port, puts ``--events``
events into the first step's queue straight through the queue adapter (the same SQLite file, or
the same Redis prefix), and times until both queues are empty. The configurations alternate run
by run so a burst of load elsewhere on the shared machine hits them alike; each figure is the
median of ``--runs``, and the x2/x1 ratios are of those medians.

Next to events/s it reports the CPU time per event of the core processes, of their runner
processes and of the local redis-server (read from /proc): N processes can reach at most
min(N, cores / (core + runners + redis)) / core of one, which says what bounds the x2 figure.

    .venv/bin/python bench/processes.py [--events 3000] [--runs 3] [--no-redis | --no-sqlite]

Redis: MOTIA_TEST_REDIS_URL or redis://127.0.0.1:6379 (keys under a prefix of the run's own,
deleted afterwards). The redis-server measured is the local one listening on that URL's port;
next to its CPU, the script calls per event and the server's time in them (INFO commandstats),
which only a server of the benchmark's own keeps free of other traffic.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import NamedTuple

import anyio

from motia_core.events import Enqueue, Event, QueueAdapter, open_queue, queue_name
from motia_core.observability import new_trace_id
from motia_core.storage.redis import delete_prefix

__all__ = ("main",)

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "bench" / "app"
FIRST = queue_name("bench.chain.a", "BenchChainFirst")
SECOND = queue_name("bench.chain.b", "BenchChainSecond")
START_BOUND_S = 90.0
DRAIN_BOUND_S = 600.0
POLL_S = 0.02


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one live process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(c) for c in children]
        todo += [int(c) for c in children]
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cpu_split(root: int) -> dict[str, float]:
    """CPU seconds so far of the core processes (the supervisor included) and of the runners."""
    split = {"core": _cpu_s(root), "runners": 0.0}
    for pid in _descendants(root):
        split["core" if "motia_core.cli" in _cmdline(pid) else "runners"] += _cpu_s(pid)
    return split


def _redis_pid(redis_url: str) -> int | None:
    """The local redis-server serving ``redis_url``'s port (several may run)."""
    port = urllib.parse.urlsplit(redis_url).port or 6379
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        line = _cmdline(int(entry.name))
        if line.startswith("redis-server") and line.split()[1].endswith(f":{port}"):
            return int(entry.name)
    return None


def _redis_usec(redis_url: str) -> tuple[float, int]:
    """Microseconds the server spent in commands so far (INFO commandstats), and their calls
    (a script's inner commands are counted in its own time and also on their own)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    top = {name: row for name, row in stats.items()
           if name.split("_", 1)[1] in ("evalsha", "eval", "fcall", "fcall_ro")} or stats
    return (sum(float(row["usec"]) for row in top.values()),
            sum(int(row["calls"]) for row in top.values()))


def _pid_of(port: int) -> int | None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/__motia/health",
                                 headers={"connection": "close"})
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return int(json.loads(response.read())["pid"])
    except OSError:
        return None


def _start(project: Path, env: dict[str, str], processes: int) -> subprocess.Popen[bytes]:
    # MOTIA_BENCH_CODE: run the core from that source tree (an A/B run, see --base), else from
    # this one. In the project's folder: `python -m` puts the working directory first on
    # sys.path, so started from a checkout, every side would run that checkout's motia_core.
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "motia_core.cli", "start", "--project", str(project), "-p",
         str(port), "--runners", "python", "--processes", str(processes)],
        env={**os.environ, **env, "PYTHONPATH": env.get("MOTIA_BENCH_CODE") or str(REPO)},
        cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_BOUND_S
    pids: set[int] = set()
    while len(pids) < processes:  # bounded: every process answers once it serves
        pid = _pid_of(port)
        if pid is not None:
            pids.add(pid)
        elif process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"motia start --processes {processes} did not start ({env})")
        else:
            time.sleep(0.05)
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"only {len(pids)} of {processes} processes answered")
    return process


async def _unfinished(queue: QueueAdapter) -> int:
    total = 0
    for name in (FIRST, SECOND):  # the first queue first: it feeds the second
        counts = await queue.counts(name)
        total += counts.ready + counts.delayed + counts.in_flight
    return total


async def _drain(queue: QueueAdapter, events: int) -> float:
    batch = [Enqueue(queue=FIRST, event=Event(topic="bench.chain.a", data={"n": n},
                                              trace_id=new_trace_id()))
             for n in range(events)]
    began = time.perf_counter()
    for at in range(0, events, 500):
        await queue.enqueue_many(batch[at:at + 500])
    with anyio.fail_after(DRAIN_BOUND_S):
        while await _unfinished(queue):
            await anyio.sleep(POLL_S)
    return events / (time.perf_counter() - began)


class Run(NamedTuple):
    rate: float  # events/s
    cpu_ms: dict[str, float]  # CPU ms per event: core, runners, redis
    scripts: tuple[float, float]  # per event: script calls, and server us in them (Redis only)


def _run(kind: str, processes: int, events: int, redis_url: str, code: str = "") -> Run:
    """One measured run: events/s and CPU per event of `motia start --processes N` on ``kind``."""
    with tempfile.TemporaryDirectory(prefix="motia-bench-") as scratch:
        project = Path(scratch) / "app"
        shutil.copytree(APP, project)
        prefix = f"motia-bench:{uuid.uuid4().hex}:"
        env = {"MOTIA_QUEUE": kind, "MOTIA_STATE": kind, "MOTIA_STREAMS": kind,
               "MOTIA_OBSERVABILITY": "off", "MOTIA_REDIS_URL": redis_url,
               "MOTIA_REDIS_PREFIX": prefix, "MOTIA_JSON_LOGS": "1",
               "MOTIA_LOG_LEVEL": "warning", "MOTIA_BENCH_CODE": code}
        server = _start(project, env, processes)
        try:
            # The events go in through a process of their own on the same code as the server
            # (the base tree's adapter may keep its queues in other keys or tables).
            drain = [sys.executable, __file__, "--drain", kind, str(project / ".motia"),
                     redis_url, prefix, str(events)]
            redis_pid = _redis_pid(redis_url)
            usec_before = _redis_usec(redis_url) if kind == "redis" else (0.0, 0)
            before = {**_cpu_split(server.pid), "redis": _cpu_s(redis_pid) if redis_pid else 0.0}
            rate = float(subprocess.run(drain, env={**os.environ, "PYTHONPATH": code},
                                        check=True, capture_output=True, text=True,
                                        timeout=DRAIN_BOUND_S + START_BOUND_S).stdout)
            after = {**_cpu_split(server.pid), "redis": _cpu_s(redis_pid) if redis_pid else 0.0}
            usec_after = _redis_usec(redis_url) if kind == "redis" else (0.0, 0)
            return Run(rate, {part: (after[part] - before[part]) * 1000 / events
                              for part in after},
                       ((usec_after[1] - usec_before[1]) / events,
                        (usec_after[0] - usec_before[0]) / events))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if kind == "redis":
                delete_prefix(redis_url, prefix)


def _drain_here(kind: str, store: str, redis_url: str, prefix: str, events: str) -> None:
    """The child of one run (``--drain``): put the events in and print events/s once done."""
    async def measure() -> float:
        queue = open_queue(kind, Path(store), redis_url=redis_url, redis_prefix=prefix)
        try:
            return await _drain(queue, int(events))
        finally:
            await queue.aclose()

    print(anyio.run(measure))


def main() -> None:
    if sys.argv[1:2] == ["--drain"]:
        return _drain_here(*sys.argv[2:7])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--no-redis", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="Redis only")
    parser.add_argument("--base", default="",
                        help="also run every configuration with the core from this source tree "
                             "(e.g. a `git archive` of another commit), interleaved: an A/B")
    parser.add_argument("--redis-url",
                        default=os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    args = parser.parse_args()
    kinds = [kind for kind, off in (("sqlite", args.no_sqlite), ("redis", args.no_redis))
             if not off]
    codes = ["", args.base] if args.base else [""]
    configs = [(kind, n, code) for code in codes for kind in kinds for n in (1, 2)]
    results: dict[tuple[str, int, str], list[Run]] = {c: [] for c in configs}
    for _ in range(args.runs):  # alternated
        for kind, processes, code in configs:
            results[(kind, processes, code)].append(_run(kind, processes, args.events,
                                                         args.redis_url, code))
    print(f"\nevents/s through the two-step Python chain, {args.events} events per run, median "
          f"of {args.runs} (cores: {os.cpu_count()}, load average: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    for (kind, processes, code), runs in results.items():
        shown = ", ".join(f"{r.rate:,.0f}" for r in runs)
        cpu = "  ".join(f"{part} {statistics.median(r.cpu_ms[part] for r in runs):.2f}"
                        for part in runs[0].cpu_ms)
        scripts = "" if kind != "redis" else (
            f"   scripts/event {statistics.median(r.scripts[0] for r in runs):.2f}, "
            f"server us/event in them {statistics.median(r.scripts[1] for r in runs):.0f}")
        print(f"  {kind:6} --processes {processes}{' (base)' if code else ''}: "
              f"{statistics.median(r.rate for r in runs):8,.0f}   (runs: {shown})   "
              f"CPU ms/event: {cpu}{scripts}")
    for code in codes:
        for kind in kinds:
            one, two = (statistics.median(r.rate for r in results[(kind, n, code)])
                        for n in (1, 2))
            print(f"  {kind}{' (base)' if code else ''}: --processes 2 / --processes 1 = "
                  f"{two / one:.2f}")


if __name__ == "__main__":
    main()
