"""Rooms, subscriptions and fan-out of stream changes to connected clients.

The hub knows nothing of aiohttp: a client is a ``send(frame)`` and a ``close(code, reason)``
given by the WebSocket layer. A change is encoded once, stamped with a millisecond timestamp
that strictly increases across the hub (the stream clients drop a message whose timestamp is
not newer than the last one they saw), and appended to each subscribed client's queue; a pump
per client writes its queue to the socket. So a store listener never waits on a socket, and one
slow socket never stalls the others.

Each queue is bounded in frames and bytes. A client that cannot keep up is disconnected with
close code 1013 (try again later) and a reason saying why, rather than allowed to grow memory;
the stream clients reconnect and re-join, which re-syncs them.

Rooms (MOTIA_CONTRACT 6.3): a group room per ``(stream, group)`` and an item room per
``(stream, group, id)``. Unlike the original, the item room includes the group id: the client
would drop an item message from another group anyway, so it is only traffic saved. A change with
an id goes to both rooms, one without only to the group room, and a client in both gets the frame
once (the client itself hands an item message to its group subscriptions too).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import msgspec

from motia_core.observability import now_ms

__all__ = (
    "CLOSE_GOING_AWAY",
    "CLOSE_TOO_SLOW",
    "Close",
    "DEFAULT_MAX_QUEUED_BYTES",
    "DEFAULT_MAX_QUEUED_FRAMES",
    "Send",
    "SendNow",
    "Snapshot",
    "StreamClient",
    "StreamHub",
    "Subscription",
)

log = logging.getLogger("motia.streams")

DEFAULT_MAX_QUEUED_FRAMES = 2048
DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024
CLOSE_TOO_SLOW = 1013  # RFC 6455 "try again later": reconnecting (and re-syncing) is the fix
CLOSE_GOING_AWAY = 1001

Send = Callable[[bytes], Awaitable[None]]
# Writes the frame now if the socket can take it without waiting; False otherwise (then the frame
# is queued for the pump). Saves a task switch per frame and socket, which is most of the cost.
SendNow = Callable[[bytes], bool]
Close = Callable[[int, str], Awaitable[None]]
# Reads what a joining client is synced with; None means "send no sync frame".
Snapshot = Callable[[], Awaitable[Any]]
_Room = tuple[str, ...]

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Subscription:
    """What a join names: a group (``id`` None) or one item of it."""

    stream: str
    group_id: str
    id: str | None = None

    @property
    def room(self) -> _Room:
        if self.id is None:
            return ("group", self.stream, self.group_id)
        return ("item", self.stream, self.group_id, self.id)


class StreamClient:
    """One connected socket: its subscriptions, its bounded send queue and the pump behind it."""

    def __init__(self, send: Send, close: Close, auth_context: Any, *, max_frames: int,
                 max_bytes: int, send_now: SendNow | None = None) -> None:
        self.auth_context = auth_context
        self.subscriptions: dict[str | None, _Room] = {}  # subscription id -> room
        self._send = send
        self._send_now = send_now
        self._sending = False
        self._close = close
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._wakeup = anyio.Event()
        self._held_from: int | None = None  # frames from this index wait for a join's sync
        self._scope = anyio.CancelScope()
        self._close_with: tuple[int, str] | None = None
        self.closed = False

    @property
    def queued(self) -> int:
        return len(self._frames)

    def offer(self, frame: bytes) -> bool:
        """Queue a frame; False when the queue is full (the hub then drops the client)."""
        if self.closed or self._close_with is not None:  # going away: nothing more to send
            return True
        if (self._send_now is not None and not self._frames and not self._sending
                and self._held_from is None):
            try:
                if self._send_now(frame):
                    return True
            except Exception as exc:  # the socket closed under us: its reader sees it too
                log.debug("stream client send failed: %r", exc,
                          extra={"action": "streams.send_failed"})
                self.closed = True
                return True
        if len(self._frames) >= self._max_frames or self._bytes + len(frame) > self._max_bytes:
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._wakeup.set()
        return True

    def hold(self) -> None:
        """Keep frames queued from now on back until :meth:`release` (a join reads its sync)."""
        self._held_from = len(self._frames)

    def release(self, first: bytes | None) -> None:
        """Send ``first`` (the sync) before the frames held back, then resume."""
        if first is not None and self._held_from is not None:
            self._frames.insert(self._held_from, first)
            self._bytes += len(first)
        self._held_from = None
        self._wakeup.set()

    def close(self, code: int, reason: str) -> None:
        """Stop sending now (even mid-write) and close the socket with ``code`` and ``reason``."""
        if self._close_with is None and not self.closed:
            self._close_with = (code, reason)
            self._scope.cancel()

    def stop(self) -> None:
        """The socket is gone: stop the pump without closing anything."""
        self.closed = True
        self._scope.cancel()

    def _next(self) -> bytes | None:
        if not self._frames or self._held_from == 0:
            return None
        if self._held_from is not None:
            self._held_from -= 1
        frame = self._frames.popleft()
        self._bytes -= len(frame)
        return frame

    async def run(self) -> None:
        """The pump: write queued frames in order until stopped or closed."""
        with self._scope:
            while True:
                frame = self._next()
                if frame is None:
                    await self._wakeup.wait()
                    self._wakeup = anyio.Event()
                    continue
                self._sending = True
                try:
                    await self._send(frame)
                except Exception as exc:  # the socket closed under us: its reader sees it too
                    log.debug("stream client send failed: %r", exc,
                              extra={"action": "streams.send_failed"})
                    self.closed = True
                    return
                finally:
                    self._sending = False
        self._frames.clear()
        self._bytes = 0
        if self._close_with is not None and not self.closed:
            self.closed = True
            await self._close(*self._close_with)


class StreamHub:
    """Every client, every room, and the fan-out between the store's listeners and them."""

    def __init__(self, *, max_queued_frames: int = DEFAULT_MAX_QUEUED_FRAMES,
                 max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
                 clock: Callable[[], int] = now_ms) -> None:
        if max_queued_frames < 1 or max_queued_bytes < 1:
            raise ValueError("max_queued_frames and max_queued_bytes must be positive, got "
                             f"{max_queued_frames} and {max_queued_bytes}")
        self.max_queued_frames = max_queued_frames
        self.max_queued_bytes = max_queued_bytes
        self._clock = clock
        self._last_ms = 0
        self._rooms: dict[_Room, dict[StreamClient, set[str | None]]] = {}
        self.clients: set[StreamClient] = set()
        self.dropped_slow = 0  # clients disconnected because their queue was full

    # --- clients ---------------------------------------------------------------------------

    def connect(self, send: Send, close: Close, auth_context: Any = None, *,
                send_now: SendNow | None = None) -> StreamClient:
        """A new client; run its pump (``client.run``) in a task of the socket's owner."""
        client = StreamClient(send, close, auth_context, max_frames=self.max_queued_frames,
                              max_bytes=self.max_queued_bytes, send_now=send_now)
        self.clients.add(client)
        return client

    def disconnect(self, client: StreamClient) -> None:
        """Forget the client and its subscriptions (empty rooms are deleted)."""
        for subscription_id in list(client.subscriptions):
            self._remove(client, subscription_id)
        self.clients.discard(client)

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down",
                  ) -> None:
        for client in list(self.clients):
            client.close(code, reason)

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    # --- subscriptions ---------------------------------------------------------------------

    async def join(self, client: StreamClient, subscription_id: str | None,
                   subscription: Subscription, snapshot: Snapshot | None) -> None:
        """Subscribe, then sync the client with what ``snapshot`` reads (unless it reads None).

        The client is in the room before the read starts and its frames are held back until
        the sync is queued, so no change is lost between the read and the join, and the sync
        (stamped before the read) reaches the client before any change made during the read.
        """
        client.hold()
        first: bytes | None = None
        try:
            timestamp = self.next_timestamp()
            self._add(client, subscription_id, subscription.room)
            data = None if snapshot is None else await snapshot()
            if data is not None:
                first = self.frame(subscription, {"type": "sync", "data": data}, timestamp)
        finally:
            client.release(first)

    def leave(self, client: StreamClient, subscription_id: str) -> bool:
        if subscription_id not in client.subscriptions:
            return False
        self._remove(client, subscription_id)
        return True

    def _add(self, client: StreamClient, subscription_id: str | None, room: _Room) -> None:
        if subscription_id in client.subscriptions:  # the same id joined again: move it
            self._remove(client, subscription_id)
        client.subscriptions[subscription_id] = room
        self._rooms.setdefault(room, {}).setdefault(client, set()).add(subscription_id)

    def _remove(self, client: StreamClient, subscription_id: str | None) -> None:
        room = client.subscriptions.pop(subscription_id)
        members = self._rooms.get(room)
        if members is None:
            return
        ids = members.get(client)
        if ids is not None:
            ids.discard(subscription_id)
            if not ids:
                del members[client]
        if not members:
            del self._rooms[room]

    # --- fan-out ---------------------------------------------------------------------------

    def next_timestamp(self) -> int:
        """Wall-clock milliseconds, nudged forward so that no two frames share a timestamp."""
        self._last_ms = max(self._clock(), self._last_ms + 1)
        return self._last_ms

    def frame(self, subscription: Subscription, event: dict[str, Any],
              timestamp: int | None = None) -> bytes:
        """One server frame: ``{timestamp, streamName, groupId, id?, event}`` as JSON text."""
        message: dict[str, Any] = {
            "timestamp": self.next_timestamp() if timestamp is None else timestamp,
            "streamName": subscription.stream,
            "groupId": subscription.group_id,
        }
        if subscription.id is not None:
            message["id"] = subscription.id
        message["event"] = event
        return _encode(message)

    def send_to(self, client: StreamClient, subscription: Subscription,
                event: dict[str, Any]) -> None:
        """A frame for one client only (an error frame answering its join)."""
        if not client.offer(self.frame(subscription, event)):
            self._drop_slow(client)

    def publish(self, subscription: Subscription, event: dict[str, Any]) -> int:
        """Queue ``event`` for every client in the channel's rooms; returns how many."""
        group_room = self._rooms.get(("group", subscription.stream, subscription.group_id))
        item_room = None if subscription.id is None else self._rooms.get(subscription.room)
        if not group_room and not item_room:
            return 0
        frame = self.frame(subscription, event)
        slow: list[StreamClient] = []
        reached = 0
        for room, skip in ((group_room, None), (item_room, group_room)):
            for client in room or ():
                if skip is not None and client in skip:
                    continue
                reached += 1
                if not client.offer(frame):
                    slow.append(client)
        for client in slow:
            self._drop_slow(client)
        return reached

    def on_change(self, stream: str, group: str, item_id: str | None, kind: str,
                  payload: Any) -> None:
        """A :class:`~motia_core.streams.StreamStore` listener: ``store.listeners.append``."""
        event = ({"type": "event", "event": payload} if kind == "event"
                 else {"type": kind, "data": payload})
        self.publish(Subscription(stream, group, item_id), event)

    def _drop_slow(self, client: StreamClient) -> None:
        self.dropped_slow += 1
        log.warning("closing a stream client that cannot keep up (%d frames queued)",
                    client.queued, extra={"action": "streams.client_too_slow"})
        self.disconnect(client)
        client.close(CLOSE_TOO_SLOW, f"too slow: more than {self.max_queued_frames} frames or "
                                     f"{self.max_queued_bytes} bytes waiting; reconnect")
