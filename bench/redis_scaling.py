"""Events/s of the event pipeline on Redis with 1 and 2 `motia start` instances, next to SQLite.

Each run starts N real `motia start` processes of bench/app (the two-step Python chain
bench.chain.a -> BenchChainFirst -> bench.chain.b -> BenchChainSecond; recording off, so the
queue is what is measured), waits until they listen, puts ``--events`` events into the first
step's queue straight through the queue adapter (so the figure is consumption, not HTTP
ingestion), and times until both queues are empty (nothing ready, delayed or in flight). The
configurations alternate run by run so a burst of load elsewhere on the shared machine hits them
alike; each figure is the median of ``--runs``.

    .venv/bin/python bench/redis_scaling.py [--events 3000] [--runs 3] [--redis-url URL]

Redis: MOTIA_TEST_REDIS_URL or redis://127.0.0.1:6379 (keys under a prefix of the run's own,
deleted afterwards).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio

from motia_core.events import Enqueue, Event, QueueAdapter, open_queue, queue_name
from motia_core.observability import new_trace_id

__all__ = ("main",)

APP = Path(__file__).resolve().parent / "app"
FIRST = queue_name("bench.chain.a", "BenchChainFirst")
SECOND = queue_name("bench.chain.b", "BenchChainSecond")
START_BOUND_S = 60.0
DRAIN_BOUND_S = 600.0
POLL_S = 0.02


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(project: Path, env: dict[str, str], index: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "motia_core.cli", "start", "--project", str(project), "-p",
         str(port), "--runners", "python"],
        env={**os.environ, **env, "MOTIA_MOTIA_DIR": f".motia-{index}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_BOUND_S
    while True:  # bounded: a connect succeeds once the server listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise SystemExit(f"motia start did not start ({env})") from None
            time.sleep(0.05)


async def _unfinished(queue: QueueAdapter) -> int:
    # The first queue first: once it is empty, every event it fed is in the second one.
    total = 0
    for name in (FIRST, SECOND):
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


def _run(kind: str, instances: int, events: int, redis_url: str) -> float:
    """One measured run: events/s of ``instances`` processes on the ``kind`` queue."""
    with tempfile.TemporaryDirectory(prefix="motia-bench-") as scratch:
        project = Path(scratch) / "app"
        shutil.copytree(APP, project)
        prefix = f"motia-bench:{uuid.uuid4().hex}:"
        env = {"MOTIA_QUEUE": kind, "MOTIA_STATE": kind, "MOTIA_OBSERVABILITY": "off",
               "MOTIA_REDIS_URL": redis_url, "MOTIA_REDIS_PREFIX": prefix,
               "MOTIA_JSON_LOGS": "1", "MOTIA_LOG_LEVEL": "warning"}
        if kind == "sqlite":  # one file for the instances (and for the bench that fills it)
            env["MOTIA_MOTIA_DIR"] = ".motia-0"
        started = []
        try:
            for index in range(instances):
                started.append(_start(project, env, 0 if kind == "sqlite" else index))

            async def measure() -> float:
                queue = open_queue(kind, project / ".motia-0", redis_url=redis_url,
                                   redis_prefix=prefix)
                try:
                    return await _drain(queue, events)
                finally:
                    await queue.aclose()

            return anyio.run(measure)
        finally:
            for process, _port in started:
                process.kill()
                process.wait()
            if kind == "redis":
                _delete_prefix(redis_url, prefix)


def _delete_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (median)")
    parser.add_argument("--redis-url",
                        default=os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379"))
    args = parser.parse_args()
    configs = [("sqlite", 1), ("redis", 1), ("redis", 2)]
    results: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for _ in range(args.runs):  # alternated
        for kind, instances in configs:
            results[(kind, instances)].append(_run(kind, instances, args.events, args.redis_url))
    print(f"\nevents/s through the two-step Python chain, {args.events} events per run, median "
          f"of {args.runs} (cores: {os.cpu_count()})")
    for (kind, instances), figures in results.items():
        shown = ", ".join(f"{f:,.0f}" for f in figures)
        print(f"  {kind:6} x{instances}: {statistics.median(figures):8,.0f}   (runs: {shown})")
    one, two = (statistics.median(results[("redis", n)]) for n in (1, 2))
    sqlite = statistics.median(results[("sqlite", 1)])
    print(f"  redis x2 / redis x1: {two / one:.2f}   redis x1 / sqlite x1: {one / sqlite:.2f}")


if __name__ == "__main__":
    main()
