"""CPU per delivery of the event bus alone (memory queue, no-op subscriber): a git ref vs the tree.

    .venv/bin/python bench/bus_ab.py --base HEAD~1 [--runs 7] [--events 20000]

What ``cpu_ab.py`` measures through the whole pipeline (SQLite, runners, JSON) varies run to run
by more than the bus's own cost; this isolates the bus: ``publish`` into the in-memory queue and
the consumer's receive, delivery and ack, with a subscriber that only yields once. Each run is a
fresh process with one side's ``motia_core`` first on ``PYTHONPATH``; the sides alternate run by
run and each figure is the median. Bounded: ``--runs`` x 2 processes of ``--events`` events
each, every one under a timeout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from worktree import alternate, report

BENCH = Path(__file__).resolve().parent
BASE_TREE = BENCH / ".scratch" / "bus-ab-base"
RUN_BOUND_S = 120
WARM_UP = 500

_ONE = """
import time, anyio
from motia_core.events import Event, EventBus, SubscriptionSettings
from motia_core.events.memory import MemoryQueue

async def main():
    bus, delivered, finished = EventBus(MemoryQueue()), [0], anyio.Event()

    async def deliver(event, attempt):
        await anyio.lowlevel.checkpoint()
        delivered[0] += 1
        if delivered[0] == {events} + {warm_up}:
            finished.set()

    bus.subscribe("t", "s", deliver, SubscriptionSettings())
    async with anyio.create_task_group() as tg:
        await tg.start(bus.run)
        for i in range({warm_up}):
            await bus.publish(Event(topic="t", data={{"i": i}}, trace_id="t"))
        began = time.process_time()
        for i in range({events}):
            await bus.publish(Event(topic="t", data={{"i": i}}, trace_id="t"))
            if i % 20 == 0:  # let the consumer run now and then, as emits spread over time do
                await anyio.sleep(0)
        with anyio.fail_after({bound}):
            await finished.wait()
        print("RESULT", (time.process_time() - began) / {events} * 1e6)
        await bus.stop()

anyio.run(main)
"""


def _run(source: Path, events: int) -> float:
    code = _ONE.format(events=events, warm_up=WARM_UP, bound=RUN_BOUND_S)
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(source)},
                          capture_output=True, text=True, timeout=RUN_BOUND_S, cwd=source)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(line[7:])
    raise SystemExit(f"a run failed ({source}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    results = alternate(args.base, BASE_TREE, args.runs,
                        lambda source: _run(source, args.events))
    report(f"event bus alone (memory queue, no-op subscriber), {args.events} events, median of "
           f"{args.runs}:", "CPU", "delivery", results)

if __name__ == "__main__":
    main()
