"""Stream fan-out: latency from ``StreamStore.set`` to receipt at 1, 100 and 1,000 sockets.

The server side (store, hub, WebSocket handler behind ``create_app``) runs in this process on
127.0.0.1; the clients (aiohttp WebSockets, one group subscription each) run in a child process,
so client work does not share the server's event loop. Each set carries the sender's
``time.monotonic_ns()``, which on Linux is one clock for every process; the child records, per
socket, receipt time minus that.

Two phases per socket count:

* latency: one set at a time; the next goes once every socket has the previous one (the child
  says so on stdout). p50/p99 over every (socket, message) pair. "set p50" is how long the
  ``set`` call itself took: the fan-out is done inside it (frames are written to every socket
  that has room), so it is the server's share; the rest is loopback and the Python client
  process, which parses every frame of every socket on one core.
* burst: ``--burst`` sets back to back; messages/s is sets divided by the time until the last
  socket has the last one, and frames/s is that times the sockets.

Everything is local and bounded in count. Run: ``python bench/streams.py`` (``--help``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import anyio.abc
from aiohttp import web
from report import percentile

from motia_core.http import create_app
from motia_core.state import MemoryState
from motia_core.streams.hub import StreamHub
from motia_core.streams.store import StreamStore
from motia_core.streams.ws import StreamSocketServer

__all__ = ("StreamsRow", "main", "measure")

STREAM, GROUP = "bench", "fanout"
STEP_TIMEOUT_S = 120  # one phase; everything is bounded


@dataclass(frozen=True)
class StreamsRow:
    sockets: int
    messages: int
    set_p50_ms: float
    p50_ms: float
    p99_ms: float
    messages_per_s: float

    @property
    def frames_per_s(self) -> float:
        return self.messages_per_s * self.sockets


class _NoApi:
    async def invoke_api(self, *_args: Any) -> Any:
        raise RuntimeError("no api steps in this benchmark")

    async def emit(self, *_args: Any) -> str:
        raise RuntimeError("no emit in this benchmark")

    def health(self) -> dict[str, Any]:
        return {"status": "ok"}


@asynccontextmanager
async def _server() -> AsyncIterator[tuple[str, StreamStore]]:
    store = StreamStore(MemoryState())
    hub = StreamHub()
    store.listeners.append(hub.on_change)
    sockets = StreamSocketServer(hub, store)
    app = create_app([], _NoApi(), websocket=sockets)
    app.on_shutdown.append(sockets.on_shutdown)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=2048).start()
        host, port = runner.addresses[0][:2]
        yield f"ws://{host}:{port}/", store
    finally:
        await runner.cleanup()


class _Lines:
    def __init__(self, stream: anyio.abc.ByteReceiveStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def next(self) -> str:
        with anyio.fail_after(STEP_TIMEOUT_S):
            while b"\n" not in self.buffer:
                self.buffer += await self.stream.receive()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


async def measure(sockets: int, messages: int, burst: int) -> StreamsRow:
    """One socket count: both phases, through a fresh server and a fresh client process."""
    async with _server() as (url, store):
        command = [sys.executable, __file__, "--client", url, "--sockets", str(sockets)]
        async with await anyio.open_process(command, stderr=None) as child:
            assert child.stdin is not None and child.stdout is not None
            lines = _Lines(child.stdout)
            if await lines.next() != "ready":
                raise RuntimeError("the client process did not get ready")
            set_ms: list[float] = []
            for seq in range(messages):
                t0 = time.monotonic_ns()
                await store.set(STREAM, GROUP, "item", {"seq": seq, "t0": t0})
                set_ms.append((time.monotonic_ns() - t0) / 1e6)
                await lines.next()  # "done <seq>": every socket has it
            started = time.perf_counter()
            for seq in range(messages, messages + burst):
                await store.set(STREAM, GROUP, "item", {"seq": seq, "t0": time.monotonic_ns(),
                                                        "burst": True})
            for _ in range(burst):
                await lines.next()
            elapsed = time.perf_counter() - started
            await child.stdin.send(b"report\n")
            report = json.loads(await lines.next())
            await child.stdin.aclose()
            with anyio.fail_after(STEP_TIMEOUT_S):
                await child.wait()
    return StreamsRow(sockets, messages, percentile(set_ms, 50), report["p50_ms"],
                      report["p99_ms"], burst / elapsed)


# --- the client process ----------------------------------------------------------------------


async def _client(url: str, count: int) -> None:
    latencies_ms: list[float] = []
    received: dict[int, int] = {}
    out = sys.stdout

    async def follow(ws: aiohttp.ClientWebSocketResponse[bool]) -> None:
        async for message in ws:
            now = time.monotonic_ns()
            data = json.loads(message.data)["event"]["data"]
            seq = data["seq"]
            if not data.get("burst"):
                latencies_ms.append((now - data["t0"]) / 1e6)
            received[seq] = received.get(seq, 0) + 1
            if received[seq] == count:
                del received[seq]
                out.write(f"done {seq}\n")
                out.flush()

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sockets = [await session.ws_connect(url) for _ in range(count)]
        for n, ws in enumerate(sockets):
            await ws.send_json({"type": "join", "data": {
                "streamName": STREAM, "groupId": GROUP, "subscriptionId": f"s{n}"}})
        for ws in sockets:
            await ws.receive()  # the group's sync
        async with anyio.create_task_group() as tg:
            for ws in sockets:
                tg.start_soon(follow, ws)
            out.write("ready\n")
            out.flush()
            stdin = anyio.wrap_file(sys.stdin)
            await stdin.readline()  # "report": the parent has seen every "done"
            out.write(json.dumps({"p50_ms": percentile(latencies_ms, 50),
                                  "p99_ms": percentile(latencies_ms, 99)}) + "\n")
            out.flush()
            for ws in sockets:
                await ws.close()


# --- the table -----------------------------------------------------------------------------


def render(rows: Sequence[StreamsRow]) -> str:
    header = ("sockets", "messages", "set p50 ms", "p50 ms", "p99 ms", "messages/s", "frames/s")
    body = [(f"{r.sockets:,}", f"{r.messages:,}", f"{r.set_p50_ms:.2f}", f"{r.p50_ms:.2f}",
             f"{r.p99_ms:.2f}",
             f"{r.messages_per_s:,.0f}", f"{r.frames_per_s:,.0f}") for r in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True))
                     for line in (header, tuple("-" * w for w in widths), *body))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", default="1,100,1000",
                        help="comma-separated socket counts (client mode: one count)")
    parser.add_argument("--messages", type=int, default=100, help="sets in the latency phase")
    parser.add_argument("--burst", type=int, default=200, help="sets in the burst phase")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    if args.client:
        anyio.run(_client, args.client, int(args.sockets))
        return
    counts = [int(n) for n in args.sockets.split(",")]
    print(f"stream fan-out, StreamStore.set -> frame received; Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, {sys.platform}; latency: "
          f"{args.messages} sets one at a time; throughput: bursts of {args.burst} sets",
          flush=True)
    rows = [anyio.run(measure, n, args.messages, args.burst) for n in counts]
    print(render(rows))


if __name__ == "__main__":
    main()
