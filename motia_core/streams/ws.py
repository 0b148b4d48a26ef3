"""The stream socket: the aiohttp WebSocket handler speaking MOTIA_CONTRACT 6.3 frames exactly.

It is what ``@motiadev/stream-client*`` connect to, on the HTTP API's port at any path.
Client frames are ``{"type": "join" | "leave", "data": {streamName, groupId, id?,
subscriptionId}}``; each socket's frames are handled strictly in order (a join's lookup is never
overtaken by the leave after it). A join is checked (:mod:`motia_core.streams.auth`), then the
socket is synced: an item join gets ``sync`` with the item only if it exists, a group join gets
``sync`` with the group's items (possibly ``[]``) when the stream exists. Items go out without
the ``__motia`` marker. Changes reach the socket through the :class:`StreamHub`.

The handshake selects the first subprotocol the client offers, as the original's ``ws`` server
does (the Node ``ws`` client aborts with "Server sent no subprotocol" otherwise; clients put
credentials there). Compression is off: every frame is written to many sockets, and deflating
it once per socket would cost more than the bytes it saves on a LAN.

While a socket's transport has room, a frame is written to it directly (RFC 6455 framing of an
unmasked text frame, written whole, as aiohttp writes its own), so fan-out costs no task switch
per socket; otherwise it waits in the client's queue for the pump, which writes through aiohttp
and waits for the transport to drain.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio
import msgspec
from aiohttp import WSMsgType, web

from motia_core.streams.auth import (
    AUTH_FAILED_REASON,
    AuthenticationFailed,
    StreamAccess,
    error_event,
)
from motia_core.streams.hub import (
    CLOSE_GOING_AWAY,
    Snapshot,
    StreamClient,
    StreamHub,
    Subscription,
)
from motia_core.streams.store import StreamStore, without_marker

__all__ = (
    "DEFAULT_CLOSE_TIMEOUT_S",
    "DEFAULT_HEARTBEAT_S",
    "DEFAULT_MAX_CLIENT_MESSAGE_BYTES",
    "StreamSocketServer",
)

log = logging.getLogger("motia.streams")

DEFAULT_HEARTBEAT_S = 30.0  # pings find dead peers, whose subscriptions would otherwise stay
DEFAULT_MAX_CLIENT_MESSAGE_BYTES = 64 * 1024  # a join is ~200 bytes
DEFAULT_CLOSE_TIMEOUT_S = 5.0  # a peer that does not read gets its connection aborted after this
_COPY_LIMIT = 16 * 1024  # larger frames are not copied just to prepend their header


class _ClientMessage(msgspec.Struct):
    type: str
    data: Any = None


class _Channel(msgspec.Struct, rename="camel"):
    stream_name: str
    group_id: str
    id: str | None = None
    subscription_id: str | None = None

    def subscription(self) -> Subscription:
        # The client picks rooms by the truthiness of `id`: "" is a group subscription.
        return Subscription(self.stream_name, self.group_id, self.id or None)


def _first_protocol(request: web.Request) -> tuple[str, ...]:
    offered = request.headers.get("Sec-WebSocket-Protocol", "").split(",")[0].strip()
    return (offered,) if offered else ()


def _text_frame_header(length: int) -> bytes:
    if length < 126:
        return bytes((0x81, length))  # FIN + text opcode; server frames are not masked
    if length < 65536:
        return struct.pack("!BBH", 0x81, 126, length)
    return struct.pack("!BBQ", 0x81, 127, length)


def _direct_writer(ws: web.WebSocketResponse, request: web.Request) -> Callable[[bytes], bool]:
    def send_now(frame: bytes) -> bool:
        transport = request.transport
        if ws.closed or transport is None or transport.is_closing():
            raise ConnectionResetError("the stream socket is closed")
        if transport.get_write_buffer_size() + len(frame) > transport.get_write_buffer_limits()[1]:
            return False
        header = _text_frame_header(len(frame))
        if len(frame) > _COPY_LIMIT:  # two writes, back to back: still one whole frame
            transport.write(header)
            transport.write(frame)
        else:
            transport.write(header + frame)
        return True
    return send_now


def _headers(request: web.Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in request.headers:
        lower = name.lower()
        if lower not in headers:
            headers[lower] = ", ".join(request.headers.getall(name))
    return headers


class StreamSocketServer:
    """``create_app(..., websocket=server)``; ``app.on_shutdown.append(server.on_shutdown)``."""

    def __init__(self, hub: StreamHub, store: StreamStore, access: StreamAccess | None = None,
                 *, heartbeat_s: float | None = DEFAULT_HEARTBEAT_S,
                 max_message_bytes: int = DEFAULT_MAX_CLIENT_MESSAGE_BYTES,
                 close_timeout_s: float = DEFAULT_CLOSE_TIMEOUT_S) -> None:
        self.hub = hub
        self.store = store
        self.access = access or StreamAccess()
        self.heartbeat_s = heartbeat_s
        self.max_message_bytes = max_message_bytes
        self.close_timeout_s = close_timeout_s

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            auth_context = await self.access.handshake(_headers(request), request.path_qs)
        except AuthenticationFailed:
            return web.Response(status=401, reason=AUTH_FAILED_REASON, text=AUTH_FAILED_REASON)
        ws = web.WebSocketResponse(protocols=_first_protocol(request), compress=False,
                                   heartbeat=self.heartbeat_s,
                                   max_msg_size=self.max_message_bytes)
        try:
            await ws.prepare(request)
        except web.HTTPException as exc:  # not a valid WebSocket handshake
            return web.Response(status=exc.status, text=exc.text)
        client = self.hub.connect(partial(ws.send_frame, opcode=WSMsgType.TEXT),
                                  partial(self._close, ws, request), auth_context,
                                  send_now=_direct_writer(ws, request))
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, name="motia stream socket pump")
            try:
                await self._serve(ws, client)
            finally:
                self.hub.disconnect(client)
                client.stop()
        return ws

    async def on_shutdown(self, app: web.Application | None = None) -> None:
        """Close every socket (1001) so the HTTP server's shutdown does not wait on them."""
        self.hub.close_all(CLOSE_GOING_AWAY, "server shutting down")

    async def _close(self, ws: web.WebSocketResponse, request: web.Request, code: int,
                     reason: str) -> None:
        with anyio.move_on_after(self.close_timeout_s):
            await ws.close(code=code, message=reason.encode())
            return
        # The peer reads nothing, so even the close frame cannot get out: drop the connection.
        transport = request.transport
        if transport is not None:
            transport.abort()

    async def _serve(self, ws: web.WebSocketResponse, client: StreamClient) -> None:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                text: str | bytes = message.data
            elif message.type is WSMsgType.BINARY:
                text = message.data
            else:  # ERROR: the connection is broken
                break
            try:
                await self._handle(client, text)
            except Exception:
                log.exception("stream socket failed to handle %r", text[:200],
                              extra={"action": "streams.frame_error"})

    async def _handle(self, client: StreamClient, text: str | bytes) -> None:
        try:
            message = msgspec.json.decode(text, type=_ClientMessage)
            channel = msgspec.convert(message.data, type=_Channel)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.debug("stream socket ignored a frame (%s): %r", exc, text[:200],
                      extra={"action": "streams.frame_ignored"})
            return
        if message.type == "join":
            await self._join(client, channel)
        elif message.type == "leave" and channel.subscription_id is not None:
            self.hub.leave(client, channel.subscription_id)

    async def _join(self, client: StreamClient, channel: _Channel) -> None:
        subscription = channel.subscription()
        denials = await self.access.denials(subscription, client.auth_context)
        for denial in denials:
            self.hub.send_to(client, subscription, error_event(denial))
        if denials:
            return
        snapshot = self._snapshot(subscription) if self.access.knows(subscription.stream) else None
        await self.hub.join(client, channel.subscription_id, subscription, snapshot)

    def _snapshot(self, subscription: Subscription) -> Snapshot:
        store = self.store
        stream, group, item_id = subscription.stream, subscription.group_id, subscription.id
        if item_id is None:
            async def read_group() -> Any:
                return [without_marker(item) for item in await store.get_group(stream, group)]
            return read_group

        async def read_item() -> Any:
            return without_marker(await store.get(stream, group, item_id))
        return read_item
