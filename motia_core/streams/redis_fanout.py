"""Stream changes carried between motia-core instances over Redis pub/sub.

A step on instance A changes a stream item; the clients joined to that item may be connected to
instance B. ``RedisFanout`` closes the gap: as a listener of A's ``StreamStore`` it publishes
every change on one channel (``<prefix>streams:changes``), and on B it calls its own
``listeners`` (B's ``StreamHub.on_change``) with the changes that other instances published.
Its own changes come back on the channel too and are ignored: the local hub has them already.

Order: the store's listener is synchronous and must never wait on the network, so a change goes
into a bounded buffer, and one task publishes the buffer in order on one connection. Redis
delivers a channel's messages in the order they were published, and one task hands them to the
listeners in that order: the changes of one item reach B's clients in the order A stored them.
A buffer that fills up (Redis slow or gone) drops changes with a warning rather than stall the
step: pub/sub is fire-and-forget anyway, and a client re-syncs when it re-joins.

The app wires it when streams are kept in Redis (``--streams redis``, or following
``--state redis``); usage:

    fanout = RedisFanout(url, prefix=prefix)
    store.listeners.append(fanout.on_change)
    fanout.listeners.append(hub.on_change)
    await tg.start(fanout.run)
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.abc
import msgspec
import redis.asyncio
import redis.exceptions

from motia_core.storage.redis import DEFAULT_PREFIX, connect, mapped_errors, redact, unreachable
from motia_core.streams.store import StreamListener

__all__ = ("DEFAULT_BUFFER", "FanoutError", "RedisFanout")

log = logging.getLogger("motia.streams")

# Changes waiting to be published before new ones are dropped.
DEFAULT_BUFFER = 10_000
# Wait before reconnecting to a server that went away while running.
RECONNECT_S = 1.0
# How long a stream write waits for its change to be published (then it returns; the change
# stays buffered and goes out when the server answers again).
SENT_WAIT_S = 5.0


class FanoutError(Exception):
    """The Redis server of the stream fan-out failed; the message names it."""


class _Change(msgspec.Struct, array_like=True, frozen=True):
    """One change on the wire; ``origin`` is the publishing instance."""

    origin: str
    stream: str
    group: str
    item_id: str | None
    kind: str
    payload: Any


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Change).decode


class RedisFanout:
    """Publishes this instance's stream changes, and hands other instances' to ``listeners``."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX,
                 buffer: int = DEFAULT_BUFFER) -> None:
        self.url = url
        self.channel = f"{prefix}streams:changes".encode()
        self.origin = uuid.uuid4().hex
        self.listeners: list[StreamListener] = []
        self.dropped = 0  # changes not published because the buffer was full
        self._send, self._outgoing = anyio.create_memory_object_stream[bytes](buffer)
        # Changes buffered and published so far (in buffer order), for ``wait_sent``.
        self._queued = 0
        self._published = 0
        self._progress = anyio.Event()

    def __repr__(self) -> str:
        return f"RedisFanout({redact(self.url)!r}, channel={self.channel.decode()!r})"

    def on_change(self, stream: str, group: str, item_id: str | None, kind: str,
                  payload: Any) -> None:
        """A ``StreamStore`` listener: queue the change for publishing, never waiting."""
        data = _encode(_Change(self.origin, stream, group, item_id, kind, payload))
        try:
            self._send.send_nowait(data)
            self._queued += 1
        except (anyio.WouldBlock, anyio.ClosedResourceError):
            self.dropped += 1
            if self.dropped == 1 or math.log2(self.dropped).is_integer():
                log.warning("%r: %d stream change(s) not sent to other instances: the buffer "
                            "is full (is Redis slow or down?)", self, self.dropped,
                            extra={"action": "streams.fanout_dropped"})

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Publish and receive until cancelled; started once subscribed to the channel, so a
        change published after ``tg.start(fanout.run)`` returns is received.

        A server that cannot be reached at the start raises :class:`FanoutError`; one lost later
        is reconnected to, after ``RECONNECT_S``, keeping the changes buffered meanwhile (those
        published while it was away are not heard: a client re-syncs when it re-joins)."""
        started = False

        def on_started() -> None:
            nonlocal started
            if not started:
                started = True
                task_status.started()

        try:
            while True:
                try:
                    await self._run_once(on_started)
                except FanoutError as exc:
                    if not started:
                        raise
                    log.warning("%r lost its connection (%s); reconnecting in %.0f s", self, exc,
                                RECONNECT_S, extra={"action": "streams.fanout_reconnect"})
                    await anyio.sleep(RECONNECT_S)
        finally:
            # One run per fan-out: its buffer ends with it (later changes count as dropped).
            self._send.close()
            self._outgoing.close()

    async def _run_once(self, on_started: Callable[[], None]) -> None:
        client = connect(self.url)
        failures: list[BaseException] = []
        try:
            async with mapped_errors("stream fan-out", self.url, FanoutError):
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.channel)
                    async with anyio.create_task_group() as tg:

                        async def guarded(work: Awaitable[None]) -> None:
                            # Either half failing ends both (a task group would wrap the error).
                            try:
                                await work
                            except (redis.exceptions.RedisError, OSError) as exc:
                                failures.append(exc)
                                tg.cancel_scope.cancel()

                        tg.start_soon(guarded, self._publish(client),
                                      name="motia.streams fanout publish")
                        on_started()
                        await guarded(self._receive(pubsub))
                finally:
                    with anyio.CancelScope(shield=True):
                        with contextlib.suppress(redis.exceptions.RedisError, OSError):
                            await pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            with anyio.CancelScope(shield=True):
                with contextlib.suppress(redis.exceptions.RedisError, OSError):
                    await client.aclose()
        if failures:
            raise FanoutError(unreachable("stream fan-out", self.url, failures[0]))

    async def wait_sent(self) -> None:
        """Return once every change buffered so far is published (at most ``SENT_WAIT_S``): a
        stream write awaits this, so the step that made the change, and the acknowledgement of
        its event, come after the other instances were told; an instance killed right after
        cannot take the change with it."""
        target = self._queued
        with anyio.move_on_after(SENT_WAIT_S):
            while self._published < target:  # bounded by SENT_WAIT_S
                await self._progress.wait()

    async def _publish(self, client: redis.asyncio.Redis) -> None:
        async for data in self._outgoing:
            try:
                await client.publish(self.channel, data)
            finally:  # sent or lost with the connection: either way no writer waits for it
                self._published += 1
                self._progress.set()
                self._progress = anyio.Event()

    async def _receive(self, pubsub: Any) -> None:
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                change = _decode(message["data"])
            except msgspec.DecodeError:
                log.warning("%r: ignored a message that is not a stream change", self,
                            extra={"action": "streams.fanout_invalid"})
                continue
            if change.origin == self.origin:
                continue  # ours: the local hub heard it from the store directly
            for listener in tuple(self.listeners):
                try:
                    listener(change.stream, change.group, change.item_id, change.kind,
                             change.payload)
                except Exception:  # one listener's bug must not stop the others, or the fan-out
                    log.exception("stream listener %r failed on a change from another instance",
                                  listener, extra={"action": "streams.listener_error"})
