"""The live socket, ``GET /__motia/api/live``: spans, logs, state, dead-letter and runner changes.

Publishing is called from trace-store and log listeners, which must never wait, so a frame is
put on each socket's bounded queue with ``send_nowait``. A socket whose queue is full loses
frames: it is marked, and once its queue has room again it gets one ``{"kind": "overflow"}``
frame telling the page to refetch. Frames are encoded once per change, and only when some socket
wants that kind. A socket from a page on another origin is refused unless that origin has a CORS
grant: WebSockets are not covered by CORS, so the check is ours.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from motia_core.http.policy import CorsPolicy, is_same_origin
from motia_core.observability import LogEntry, TraceChange
from motia_core.observability.store import summarize
from motia_core.observability.traces import StateTraceEvent

__all__ = ("DEFAULT_QUEUE_FRAMES", "KINDS", "LiveHub")

log = logging.getLogger("motia.workbench")

KINDS = frozenset({"span", "log", "state", "dlq", "runner"})
DEFAULT_QUEUE_FRAMES = 512
_OVERFLOW = b'{"kind":"overflow"}'
_encode = msgspec.json.Encoder(enc_hook=str).encode
_STATE_ACTIONS = {"set": "set", "delete": "delete", "clear": "clear"}


class _Socket:
    __slots__ = ("kinds", "overflowed", "receive", "send")

    def __init__(self, size: int) -> None:
        self.send: MemoryObjectSendStream[bytes]
        self.receive: MemoryObjectReceiveStream[bytes]
        self.send, self.receive = anyio.create_memory_object_stream[bytes](size)
        self.kinds: Collection[str] = KINDS
        self.overflowed = False


class LiveHub:
    """Every open live socket, and the functions that feed them."""

    def __init__(self, *, queue_frames: int = DEFAULT_QUEUE_FRAMES,
                 cors: Callable[[], CorsPolicy] = CorsPolicy,
                 snapshot: Callable[[str], Any] | None = None) -> None:
        self.queue_frames = queue_frames
        self._cors = cors
        # trace id -> (trace, spans) of the recorder's memory, to send a trace's summary.
        self._snapshot = snapshot
        self._sockets: set[_Socket] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    # --- feeding ---------------------------------------------------------------------------------

    def publish(self, kind: str, frame: dict[str, Any] | Callable[[], dict[str, Any]]) -> None:
        """Queue ``frame`` (or what calling it returns, computed only if wanted) on every socket
        that wants ``kind``."""
        if not self._sockets:  # the common case, on every trace change: no page is open
            return
        wanting = [s for s in self._sockets if kind in s.kinds]
        if not wanting:
            return
        data = _encode(frame() if callable(frame) else frame)
        for socket in wanting:
            try:
                socket.send.send_nowait(data)
            except anyio.WouldBlock:
                socket.overflowed = True
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._sockets.discard(socket)

    def on_trace(self, change: TraceChange) -> None:
        """A trace-store listener: span frames, and state frames for a step's state writes."""
        if not self._sockets:
            return
        event = change.event
        if isinstance(event, StateTraceEvent) and event.operation in _STATE_ACTIONS:
            self.state_changed(event.operation, event.group, event.key)
        self.publish("span", lambda: {"kind": "span", "action": change.action,
                                      "trace": self._summary(change), "span": change.span})

    def _summary(self, change: TraceChange) -> Any:
        found = self._snapshot(change.trace.id) if self._snapshot is not None else None
        return summarize(*found) if found is not None else change.trace

    def on_log(self, entry: LogEntry) -> None:
        self.publish("log", {"kind": "log", "record": entry})

    def state_changed(self, action: str, group: str, key: str | None) -> None:
        self.publish("state", {"kind": "state", "action": action, "group": group, "key": key})

    def dlq_changed(self, action: str) -> None:
        self.publish("dlq", {"kind": "dlq", "action": action})

    def runner_changed(self, language: str, index: int, state: str) -> None:
        self.publish("runner", {"kind": "runner", "language": language, "index": index,
                                "state": state})

    # --- the socket ------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin and not is_same_origin(origin, request.host) and self._cors().grant(
                origin) is None:
            raise web.HTTPForbidden(reason=f"origin {origin!r} may not open the live socket; "
                                           "list it in [http] cors_origins")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024)
        # Listed before the handshake completes, so no change after the client's connect
        # returns is missed.
        socket = _Socket(self.queue_frames)
        self._sockets.add(socket)
        try:
            await ws.prepare(request)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, ws, socket)
                await self._read(ws, socket)
                tg.cancel_scope.cancel()
        finally:
            self._sockets.discard(socket)
            socket.send.close()
            socket.receive.close()
        return ws

    async def _pump(self, ws: web.WebSocketResponse, socket: _Socket) -> None:
        try:
            async for data in socket.receive:
                await ws.send_str(data.decode())
                if socket.overflowed:
                    socket.overflowed = False
                    await ws.send_str(_OVERFLOW.decode())
        except (ConnectionError, RuntimeError):  # the peer went away mid-send
            pass
        # The hub closed the queue (shutdown) or the peer is gone: either way, end the socket.
        await ws.close()

    async def _read(self, ws: web.WebSocketResponse, socket: _Socket) -> None:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                wanted = msgspec.json.decode(message.data).get("subscribe")
            except (msgspec.DecodeError, AttributeError):
                wanted = None
            if isinstance(wanted, list) and all(isinstance(k, str) for k in wanted):
                socket.kinds = frozenset(wanted) & KINDS
            else:
                await ws.send_str(_encode({"kind": "error", "error": (
                    'expected {"subscribe": [kinds]} with kinds among '
                    f'{", ".join(sorted(KINDS))}')}).decode())

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every socket (aiohttp's on_shutdown): their handlers then return."""
        for socket in tuple(self._sockets):
            socket.send.close()

