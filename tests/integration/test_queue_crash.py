"""Kill -9 a consumer of the SQLite queue midway through 1,000 events; a restart loses none.

Two real processes (tests/fixtures/queue_consumer.py: an EventBus over a SqliteQueue, with a slow
subscriber that fsyncs each delivered event id to a log) share one queue file in tmp_path. The
first is SIGKILLed while deliveries are under way; the second opens the same file, takes the
dead process's leases back at once (no waiting out the 900 s visibility timeout) and drains the
queue. Every event must be in the log; the duplicates (delivered, not acked when the first died)
are printed and may not exceed what could be in flight: the consumer's concurrency.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import anyio
import anyio.abc
import pytest

from motia_core.events import Enqueue, Event, SqliteQueue, queue_name
from tests.support import FIXTURES

pytestmark = pytest.mark.anyio

CONSUMER = FIXTURES / "queue_consumer.py"
EVENTS = 1_000
CONCURRENCY = 8
DELAY_S = 0.002
KILL_AFTER = 300  # deliveries reported by the first consumer before it is killed
BOUND_S = 90.0


class Lines:
    """Lines from a child's stdout, read as they come."""

    def __init__(self, stream: anyio.abc.ByteReceiveStream) -> None:
        self._stream = stream
        self._buffer = b""

    async def next(self) -> str:
        while b"\n" not in self._buffer:
            self._buffer += await self._stream.receive()
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    async def until(self, wanted: str, count: int = 1) -> None:
        seen = 0
        while seen < count:
            if await self.next() == wanted:
                seen += 1


async def start(db: Path, log: Path, mode: str) -> tuple[anyio.abc.Process, Lines]:
    process = await anyio.open_process(
        [sys.executable, str(CONSUMER), str(db), str(log), str(CONCURRENCY), str(DELAY_S), mode],
        stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[2])
    assert process.stdout is not None
    lines = Lines(process.stdout)
    await lines.until("ready")
    return process, lines


async def test_a_killed_consumer_loses_no_event(tmp_path: Path) -> None:
    db, log = tmp_path / ".motia" / "queue.sqlite3", tmp_path / "delivered.log"
    queue = SqliteQueue(db)
    name = queue_name("load", "slow")
    events = [Event(topic="load", data={"n": n}, trace_id=f"T{n}") for n in range(EVENTS)]
    half = EVENTS // 2
    try:
        with anyio.fail_after(BOUND_S):
            await queue.enqueue_many([Enqueue(queue=name, event=e) for e in events[:half]])
            first, lines = await start(db, log, "run")
            async with first:
                # The rest arrives while the first consumer works (two processes writing).
                for batch in range(half, EVENTS, 50):
                    await queue.enqueue_many([Enqueue(queue=name, event=e)
                                              for e in events[batch:batch + 50]])
                await lines.until("delivered", KILL_AFTER)
                first.send_signal(signal.SIGKILL)
                assert await first.wait() == -signal.SIGKILL
            left = await queue.counts(name)
            assert left.in_flight + left.ready > 0, "the first consumer finished before the kill"

            second, lines = await start(db, log, "drain")
            async with second:
                await lines.until("drained")
                assert await second.wait() == 0
            assert await queue.counts(name) == type(left)()
            assert await queue.dead_letters(name) == []
    finally:
        await queue.aclose()

    delivered = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert set(delivered) == {e.id for e in events}, "an event was lost"
    duplicates = sum(delivered.values()) - len(delivered)
    print(f"\n{EVENTS} events, killed after {KILL_AFTER} deliveries: {duplicates} delivered "
          f"twice (in flight at the kill; concurrency {CONCURRENCY})")
    assert duplicates <= CONCURRENCY
    assert max(delivered.values()) <= 2
