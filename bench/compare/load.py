"""The load generator: an aiohttp client in this process, against 127.0.0.1 only.

Every run is bounded twice: by a request count and by a time cap (a run that reaches the cap
stops, reports what completed and is flagged ``capped``). ``concurrency`` workers each keep one
request (or one pipeline item) in flight; failures are counted, not raised, because the original
is expected to drop some under load and that is a figure too.

The pipeline's completion is observed through a named pipe: the last step appends
``"<id> <unix time>\\n"`` to the sink path it was given, and ``Sink`` wakes on each line
(no polling), so the end-to-end latency is the step's own clock minus the client's at the POST.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio
import anyio.abc

from .figures import Run

__all__ = ("Sink", "get_run", "pipeline_run", "session")

_TIMEOUT = aiohttp.ClientTimeout(total=60)


def session(concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive client with one connection per worker."""
    return aiohttp.ClientSession(timeout=_TIMEOUT,
                                 connector=aiohttp.TCPConnector(limit=max(concurrency, 1)))


async def get_run(client: aiohttp.ClientSession, url: str, count: int, concurrency: int,
                  cap_s: float) -> Run:
    """``count`` GETs of ``url/n<i>``, ``concurrency`` at a time, for at most ``cap_s``."""
    latencies: list[float] = []
    errors = 0
    numbers = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        for i in numbers:
            started = time.perf_counter()
            try:
                async with client.get(f"{url}/n{i}") as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1e3)
            else:
                errors += 1

    elapsed_s, capped = await _workers(worker, concurrency, cap_s)
    return Run.of(count, latencies, errors, elapsed_s, capped=capped)


@dataclass
class Sink:
    """A named pipe the pipeline's last step writes to; ``done`` maps id -> unix time."""

    path: Path
    done: dict[str, float] = field(default_factory=dict)
    _waiters: dict[str, anyio.Event] = field(default_factory=dict)

    def expect(self, item: str) -> anyio.Event:
        event = self._waiters[item] = anyio.Event()
        if item in self.done:
            event.set()
        return event

    async def pump(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                   ) -> None:
        """Read completion lines until cancelled. Our own write end keeps EOF away."""
        self.path.unlink(missing_ok=True)
        os.mkfifo(self.path)
        reader = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        keeper = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        pending = b""
        try:
            task_status.started()
            while True:  # ends when the caller cancels the pump
                await anyio.wait_readable(reader)
                try:
                    chunk = os.read(reader, 1 << 16)
                except BlockingIOError:
                    continue
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    item, _, stamp = line.decode().partition(" ")
                    self.done[item] = float(stamp)
                    if (event := self._waiters.pop(item, None)) is not None:
                        event.set()
        finally:
            os.close(keeper)
            os.close(reader)
            self.path.unlink(missing_ok=True)


async def pipeline_run(client: aiohttp.ClientSession, base: str, sink: Sink, tag: str,
                       count: int, concurrency: int, cap_s: float, item_cap_s: float) -> Run:
    """``count`` POST /pipeline items, each waited for at the sink (``item_cap_s`` at most).

    ``tag`` makes the ids unique per run, so a straggler of an earlier run is not counted.
    """
    latencies: list[float] = []
    errors = lost = 0
    numbers = iter(range(count))

    async def worker() -> None:
        nonlocal errors, lost
        for i in numbers:
            item = f"{tag}-{i}"
            arrived = sink.expect(item)
            started = time.time()
            try:
                async with client.post(f"{base}/pipeline",
                                       json={"id": item, "sink": str(sink.path)}) as response:
                    await response.read()
                    accepted = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                accepted = False
            if accepted:
                with anyio.move_on_after(item_cap_s):
                    await arrived.wait()
            if accepted and item in sink.done:
                latencies.append((sink.done[item] - started) * 1e3)
            elif accepted:
                lost += 1
            else:
                errors += 1

    elapsed_s, capped = await _workers(worker, concurrency, cap_s)
    return Run.of(count, latencies, errors, elapsed_s, capped=capped, lost=lost)


async def _workers(worker: Callable[[], Awaitable[None]], concurrency: int,
                   cap_s: float) -> tuple[float, bool]:
    """``concurrency`` copies of ``worker`` until they finish or ``cap_s`` runs out; returns
    the seconds taken and whether the cap stopped them."""
    began = time.perf_counter()
    with anyio.move_on_after(cap_s) as scope:
        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker)
    return time.perf_counter() - began, scope.cancelled_caught
