"""The SQLite event queue: what one ``receive`` and one idle ``wait`` look cost as a queue grows.

Both run on the event loop (``_sqlite.Database``), so their cost is time every other task of the
core waits. Two shapes of growth, each at 0, 1k, 10k and 100k messages:

* delayed: N messages delayed by an hour, enqueued *before* the one ready message (the worst
  case for a walk in delivery order: all of them come first). Per round: enqueue one ready
  message, ``receive`` it (timed), ack it. Then ``wait(queue, 0)`` with only the delayed ones
  left (timed): the look a consumer makes before it sleeps.
* ready: a backlog of N ready messages; ``receive`` + ack from the front (timed receive), the
  case a fix for the first must not make worse.

A flat column from 0 to 100k is the point. Everything is local (a temporary directory) and
bounded in count. Run: ``python bench/queue_receive.py`` (``--rounds``, ``--sizes``).
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
from report import percentile

from motia_core.events import Enqueue, Event
from motia_core.events.sqlite import SqliteQueue

QUEUE = "bench::Consumer"
BATCH = 10_000  # messages per enqueue_many (one transaction)


def _event(n: int) -> Event:
    return Event(topic="bench", data={"n": n}, trace_id="T")


async def _fill(queue: SqliteQueue, count: int, delay_s: float) -> None:
    for start in range(0, count, BATCH):
        await queue.enqueue_many([Enqueue(queue=QUEUE, event=_event(n), delay_s=delay_s)
                                  for n in range(start, min(count, start + BATCH))])


async def _delayed(path: Path, size: int, rounds: int) -> tuple[list[float], list[float]]:
    queue = SqliteQueue(path)
    try:
        await _fill(queue, size, delay_s=3600)
        receives: list[float] = []
        for n in range(rounds):
            await queue.enqueue(QUEUE, _event(n))
            started = time.perf_counter()
            message = await queue.receive(QUEUE, 30)
            receives.append(time.perf_counter() - started)
            assert message is not None and message.event.data == {"n": n}
            await queue.ack(message)
        waits: list[float] = []
        for _ in range(rounds):
            started = time.perf_counter()
            await queue.wait(QUEUE, 0)
            waits.append(time.perf_counter() - started)
        return receives, waits
    finally:
        await queue.aclose()


async def _ready(path: Path, size: int, rounds: int) -> list[float]:
    queue = SqliteQueue(path)
    try:
        await _fill(queue, max(size, rounds), delay_s=0)
        receives: list[float] = []
        for n in range(rounds):
            started = time.perf_counter()
            message = await queue.receive(QUEUE, 30)
            receives.append(time.perf_counter() - started)
            assert message is not None and message.event.data == {"n": n}  # delivery order
            await queue.ack(message)
        return receives
    finally:
        await queue.aclose()


def _us(samples: Sequence[float], q: float) -> str:
    return f"{percentile(samples, q) * 1e6:,.0f}"


async def main(sizes: Sequence[int], rounds: int) -> None:
    print(f"SQLite {sqlite3.sqlite_version}, Python {platform.python_version()}, "
          f"{rounds} rounds per size (microseconds)\n")
    header = ("messages", "delayed: receive p50", "p99", "wait p50", "p99",
              "ready: receive p50", "p99")
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            receives, waits = await _delayed(Path(tmp) / "delayed.sqlite3", size, rounds)
            backlog = await _ready(Path(tmp) / "ready.sqlite3", size, rounds)
        rows.append((f"{size:,}", _us(receives, 50), _us(receives, 99), _us(waits, 50),
                     _us(waits, 99), _us(backlog, 50), _us(backlog, 99)))
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for line in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0,1000,10000,100000",
                        help="queue sizes, comma-separated (at most 1,000,000 each)")
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per size (<= 10,000)")
    args = parser.parse_args()
    sizes = [min(int(s), 1_000_000) for s in args.sizes.split(",")]
    anyio.run(main, sizes, min(args.rounds, 10_000))
