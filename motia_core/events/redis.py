"""Subscriber queues on Redis, shared by every motia-core instance on one server.

Same semantics as ``MemoryQueue`` and ``SqliteQueue`` (the contract suite in
tests/unit/test_queue.py runs on all three), across processes and hosts:

- ``enqueue``/``enqueue_many`` return once Redis has the message (every subscriber's copy in
  one script, so an event is accepted for all of them or for none). Surviving a Redis restart
  is the server's ``appendonly`` setting.
- Visible messages are ids in one list per queue; ``receive`` pops the head, so each goes to
  one consumer, and leases it.
- Leases: a visibility timeout is per delivery (the contract lets two receives of one queue ask
  for different ones), so each lease is a score in a sorted set, and ``receive`` first takes
  over the oldest expired lease (from whichever instance held it: a dead instance loses
  nothing) before popping new ones. A receipt token in the message's hash makes a late ack of a
  lost lease a no-op.
- Delays and retries: a sorted set of due times, moved to the list by ``receive`` when due.
- FIFO: a list per (queue, group); only its head is ever ready, delayed or leased, so at most
  one message per group is in flight cluster-wide.
- Dead letters: a sorted set per queue and a hash per letter, listed, replayed and purged by
  ``motia dlq`` through ``motia_core/dlq.py`` as for SQLite.

Why not a stream with a consumer group (``XREADGROUP``, ``XAUTOCLAIM``)? The leases need their
own sorted set anyway (``XAUTOCLAIM`` has one minimum idle time, the contract a timeout per
delivery), and atop it the group's pending list was a second, costlier record of the same
thing: XADD, XREADGROUP, XACK and XDEL took the server about 20 us per message (INFO
commandstats, 3,000 messages) where an RPUSH and an LPOP take about 2.

Each operation is a piece of one Lua function library (events/_redis_lua.py), so concurrent
instances never see a half-done change. The operations asked for in one turn of the event loop
go to the server in one ``FCALL``, which runs them in order and answers each on its own: one
command for the client to pack and one reply to parse, one ``TIME`` and one look at the delays
and expired leases per queue for the server, however many deliveries are in flight. The library
is loaded by the first call that finds it missing (a new, restarted or flushed server), which
needs Redis 7.0 or newer; its helpers are defined once per load, not once per call as a
script's would be. The calls go over storage/resp.py's lean connection, not redis-py's client.

``wait`` ends on news in this process at once (an event per queue, as ``SqliteQueue``'s), and
on other instances' through a ``BLMOVE`` of the ready list onto itself (head to head: a
documented no-op move), which returns as soon as the list holds an id, whichever instance put
it there (an enqueue, a release, a retry falling due, a FIFO head's ack); bounded by the next
delay or lease expiry and by ``poll_interval_s``. ``enqueue_leased`` writes a message already
leased for a caught-up consumer of this process (the bus delivers it with no receive and no
wake-up), and a receive that found fewer than it wanted spares the bus's next one
(``receive_many``): at 1 in flight a hop costs one round trip on the item's path, as on SQLite.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import msgspec
import redis.asyncio

from motia_core.events import _redis_lua as lua
from motia_core.events.base import (
    BatchQueueAdapter,
    DeadLetter,
    Enqueue,
    ErrorInfo,
    Event,
    QueueClosed,
    QueueCounts,
    QueueError,
    QueueMessage,
    QueueWakes,
    new_id,
)
from motia_core.storage.redis import (
    DEFAULT_PREFIX,
    connect,
    mapped_errors,
    ping,
    redact,
    unreachable,
)
from motia_core.storage.resp import SOCKET_TIMEOUT_S, RespConnection

__all__ = ("POLL_INTERVAL_S", "RedisQueue")

log = logging.getLogger("motia.events")

# The longest ``wait`` blocks without looking again (a retry another instance scheduled sooner
# than the next due time this waiter knew of is seen within this).
POLL_INTERVAL_S = 1.0
# Functions (FUNCTION LOAD, FCALL) came with Redis 7.0.
MIN_REDIS_MAJOR = 7
# How long an empty receive's look stands in for wait()'s own (it is used once, at once).
LOOKED_FRESH_S = 0.5

_event_decoder = msgspec.json.Decoder(Event)


class _Leased(msgspec.Struct, array_like=True, frozen=True):
    """One message as RECEIVE lists it (its receipt is rebuilt by the client)."""

    id: str
    attempt: int
    enqueued_at: int
    group_id: str | None
    event: Event


class _Received(msgspec.Struct, array_like=True, frozen=True):
    """RECEIVE's answer: when the leases run out, PEEK's answer, the messages."""

    lease_until: int
    visible: int
    due_ms: int
    messages: list[_Leased]


_received_decoder = msgspec.json.Decoder(_Received)
_error_decoder = msgspec.json.Decoder(ErrorInfo)


def _consumer_name() -> str:
    """This instance's name, kept in each message it holds (``holder``), for who holds what."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class RedisQueue(BatchQueueAdapter):
    """Subscriber queues under ``prefix`` on the Redis server at ``url``; connects on first use.

    Every instance (process) sharing the queues uses the same ``url`` and ``prefix``, and its own
    ``consumer`` name (a fresh one by default).
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, consumer: str | None = None,
                 poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.url = url
        self.prefix = prefix
        self.consumer = consumer or _consumer_name()
        self.poll_interval_s = poll_interval_s
        self._client: redis.asyncio.Redis | None = None
        # idle connections for the watches' BLMOVEs (one per queue watched at most)
        self._spare: list[RespConnection] = []
        self._conn: RespConnection | None = None  # the operations' (FCALL) connection
        self._batch: list[_Call] | None = None  # the calls of this turn of the loop
        # queue -> (when, PEEK's answer) of its last empty receive, for the next wait
        self._looked: dict[str, tuple[float, Any]] = {}
        # queue -> set on news here (an enqueue, a release, ...) or by the watch
        self._wakes = QueueWakes()
        # queue -> its BLMOVE on the ready list, kept across waits (see _watch)
        self._watches: dict[str, asyncio.Task[None]] = {}
        # queue -> how many of its consumers here are in wait() (the watch goes on for them)
        self._waiters: dict[str, int] = {}
        # queue -> what a receive that found fewer than wanted said, for the next receive of
        # the same step of the same task only (dropped when it yields): nothing more is visible
        self._drained: dict[str, tuple[float, Any]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisQueue({redact(self.url)!r}, prefix={self.prefix!r})"

    async def open(self) -> None:
        """Check the server answers now, and is new enough, so that a wrong URL or an old
        server fails at startup with its name."""
        self._check_open()
        try:
            version = await ping(self.url, "event queue")
        except ConnectionError as exc:
            raise QueueError(str(exc)) from exc
        if version.split(".")[0].isdigit() and int(version.split(".")[0]) < MIN_REDIS_MAJOR:
            raise QueueError(_too_old(self.url, version))

    # --- QueueAdapter ------------------------------------------------------------------------

    async def _enqueue(self, items: Sequence[Enqueue], lease_s: Sequence[float | None],
                       ) -> tuple[list[str], list[QueueMessage | None]]:
        """Add ``items`` in one call, those with a lease (neither grouped nor delayed) already
        leased; their ids, and the leased ones as received messages (None for the others)."""
        if not items:
            return [], []
        args: list[Any] = []
        ids: list[str] = []
        leased: list[tuple[str, int] | None] = []  # (receipt, lease ms) per item
        for item, lease in zip(items, lease_s, strict=True):
            message_id = new_id()
            ids.append(message_id)
            if lease is None or item.group_id is not None or item.delay_s > 0:
                leased.append(None)
                args += _enqueue_args(message_id, item)
            else:
                receipt = f"{message_id}|{new_id()}|0|{self.consumer}"
                leased.append((receipt, _ms(lease)))
                args += _enqueue_args(message_id, item, _ms(lease), receipt)
        now = int(await self._call(lua.ENQUEUE, "", *args))
        for queue in {item.queue for item, taken in zip(items, leased, strict=True)
                      if taken is None}:
            self._wakes.set(queue)  # a leased one wakes nobody: it is taken
        return ids, [None if taken is None else QueueMessage(
            id=message_id, queue=item.queue, event=item.event, attempt=1,
            available_at_ms=now + taken[1], receipt=taken[0], enqueued_at_ms=now)
            for message_id, item, taken in zip(ids, items, leased, strict=True)]

    async def enqueue_once(self, key: str, ttl_s: float, queue: str, event: Event, *,
                           group_id: str | None = None) -> str | None:
        message_id = new_id()
        taken = await self._call(lua.ENQUEUE_ONCE, "", key, max(1, _ms(ttl_s)), queue,
                                 message_id, "0" if group_id is None else "1", group_id or "", 0,
                                 msgspec.json.encode(event))
        if taken is None:
            return None
        self._wakes.set(queue)
        return message_id

    async def receive(self, queue: str, visibility_timeout_s: float) -> QueueMessage | None:
        messages = await self.receive_many(queue, visibility_timeout_s, 1)
        return messages[0] if messages else None

    async def receive_many(self, queue: str, visibility_timeout_s: float,
                           max_messages: int) -> list[QueueMessage]:
        wanted = max(1, max_messages)
        drained = self._drained.pop(queue, None)
        if drained is not None:
            # The receive just before, in this same step, found fewer than it wanted: nothing
            # more was visible then, and nothing here has run since. What became visible
            # elsewhere meanwhile is not missed: wait()'s BLMOVE returns at once for it.
            self._looked[queue] = drained
            return []
        token = new_id()
        got = _received_decoder.decode(await self._call(
            lua.RECEIVE, queue, _ms(visibility_timeout_s), self.consumer, token, wanted))
        looked = (anyio.current_time(), (got.visible, got.due_ms))
        if not got.messages:  # what PEEK would say, for the next wait
            self._looked[queue] = looked
            return []
        if len(got.messages) < wanted:
            self._drained[queue] = looked
            asyncio.get_running_loop().call_soon(self._drained.pop, queue, None)
        consumer = self.consumer
        return [QueueMessage(id=m.id, queue=queue, event=m.event, attempt=m.attempt,
                             available_at_ms=got.lease_until,
                             receipt=f"{m.id}|{token}{n}|{0 if m.group_id is None else 1}|"
                                     f"{consumer}",
                             group_id=m.group_id, enqueued_at_ms=m.enqueued_at)
                for n, m in enumerate(got.messages, 1)]

    async def ack(self, message: QueueMessage) -> bool:
        done = await self._settle(lua.ACK, message)
        if done and message.group_id is not None:  # the group's next is visible now
            self._wakes.set(message.queue)
        return done

    async def nack(self, message: QueueMessage, delay_s: float = 0.0) -> bool:
        done = await self._settle(lua.NACK, message, _ms(delay_s))
        if done and delay_s <= 0:
            self._wakes.set(message.queue)
        return done

    async def release(self, message: QueueMessage) -> bool:
        done = await self._settle(lua.RELEASE, message)
        if done:
            self._wakes.set(message.queue)
        return done

    async def dead_letter(self, message: QueueMessage, error: ErrorInfo) -> DeadLetter | None:
        if not message.receipt:
            return None
        got = await self._call(lua.DEAD_LETTER, message.queue, message.id, message.receipt,
                               msgspec.json.encode(error))
        if not got:
            return None
        if message.group_id is not None:  # the group's next is visible now
            self._wakes.set(message.queue)
        event, group_id, attempts, failed_at = got
        return DeadLetter(id=message.id, queue=message.queue, event=_event_decoder.decode(event),
                          attempts=int(attempts), error=error, failed_at_ms=int(failed_at),
                          group_id=None if group_id is None else _text(group_id))

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        rows = await self._call(lua.LETTERS, queue)
        return [DeadLetter(id=_text(id_), queue=queue, event=_event_decoder.decode(event),
                           attempts=int(attempts), error=_error_decoder.decode(error),
                           failed_at_ms=int(failed_at),
                           group_id=None if group_id is None else _text(group_id))
                for id_, event, group_id, attempts, error, failed_at in rows]

    async def dead_letter_queues(self) -> list[str]:
        async with self._errors() as client:
            names = await client.smembers(f"{self.prefix}dead-queues".encode())
        return [_text(name) for name in sorted(names)]

    async def replay_dead_letter(self, queue: str, message_id: str) -> bool:
        replayed = bool(await self._call(lua.REPLAY, queue, message_id, new_id()))
        if replayed:
            self._wakes.set(queue)
        return replayed

    async def purge_dead_letters(self, queue: str) -> int:
        return int(await self._call(lua.PURGE, queue))

    async def counts(self, queue: str) -> QueueCounts:
        ready, delayed, in_flight, dead = await self._call(lua.COUNTS, queue)
        return QueueCounts(ready=int(ready), delayed=int(delayed), in_flight=int(in_flight),
                           dead_letters=int(dead))

    async def wait(self, queue: str, timeout_s: float) -> None:
        deadline = anyio.current_time() + max(0.0, timeout_s)
        looked = self._looked.pop(queue, None)
        self._waiters[queue] = self._waiters.get(queue, 0) + 1
        try:
            while True:
                # Taken before looking: news here after the look sets it.
                changed = self._wakes.event(queue)
                if looked is not None and anyio.current_time() - looked[0] < LOOKED_FRESH_S:
                    # The empty receive just before looked: nothing made ready since is
                    # missed, as the watch's BLMOVE returns at once while the ready list holds
                    # anything.
                    visible, due_ms = looked[1]
                    if int(due_ms) >= 0:
                        due_ms = max(0, int(due_ms) - math.ceil(
                            (anyio.current_time() - looked[0]) * 1000))
                else:
                    visible, due_ms = await self._call(lua.PEEK, queue)
                looked = None
                remaining_s = deadline - anyio.current_time()
                if visible or remaining_s <= 0 or changed.is_set():
                    break
                self._watch(queue)
                with anyio.move_on_after(min(remaining_s, self.poll_interval_s,
                                             math.inf if int(due_ms) < 0
                                             else int(due_ms) / 1000)):
                    await changed.wait()
                if changed.is_set():
                    return
        finally:
            self._waiters[queue] -= 1
        await anyio.lowlevel.checkpoint()  # a caller looping on wait() still yields

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wakes.set_all()  # waiters look once more, and fail with QueueClosed
        for watch in self._watches.values():
            watch.cancel()
        self._watches.clear()
        if self._conn is not None:
            self._conn.close()
        for conn in self._spare:
            conn.close()
        self._spare.clear()
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # --- internals ---------------------------------------------------------------------------

    async def _settle(self, op: str, message: QueueMessage, *extra: Any) -> bool:
        """Finish or hand back a delivery, only while ``message`` holds the current lease."""
        if not message.receipt:
            return False
        return bool(await self._call(op, message.queue, message.id, message.receipt, *extra))

    async def _call(self, op: str, queue: str, *args: Any) -> Any:
        """Run one operation (named as in ``lua``). The calls made in one turn of the loop go to
        the server together, in one FCALL: at 32 deliveries in flight their receives, acks and
        enqueues cost a few round trips, not one each. Each stays atomic."""
        self._check_open()
        call = _Call(op, [queue, *args])
        batch = self._batch
        if batch is not None:
            batch.append(call)
            await call.done.wait()
        else:
            # This call leads the batch: it lets the other tasks of this turn add theirs, then
            # sends them all (shielded: the others wait on it).
            batch = self._batch = [call]
            with anyio.CancelScope(shield=True):
                await anyio.lowlevel.checkpoint()
                if self._batch is batch:
                    self._batch = None
                await self._send(batch)
        if call.error is not None:
            raise call.error
        return call.result

    def _watch(self, queue: str) -> None:
        """Keep a BLMOVE of the queue's ready list onto itself (head to head: a documented
        no-op move) outstanding: it returns as soon as the list holds an id, whichever
        instance put it there (an enqueue, a release, a retry falling due, a FIFO head's ack),
        and then wakes the waiters. Owned by this adapter (``aclose`` cancels it), not by one
        wait: a wait that news here ended leaves it for the next one, rather than cancel it
        mid-reply (which would cost the connection)."""
        if queue not in self._watches:
            self._watches[queue] = asyncio.get_running_loop().create_task(
                self._watching(queue), name=f"motia.events watch {queue}")

    async def _watching(self, queue: str) -> None:
        ready = f"{self.prefix}ready:{queue}".encode()
        woke: Any = None
        # A connection of its own: BLMOVE holds up whatever is sent behind it.
        conn = self._spare.pop() if self._spare else RespConnection(self.url)
        try:
            # A timeout of 0 would mean forever.
            woke = await conn.call("BLMOVE", ready, ready, "LEFT", "LEFT",
                                   f"{self.poll_interval_s:.3f}",
                                   timeout_s=self.poll_interval_s + SOCKET_TIMEOUT_S)
            self._spare.append(conn)
        except Exception:  # the waiters look again, and meet the failure there
            conn.close()
            woke = True
        except BaseException:  # cancelled (aclose): its reply would still come
            conn.close()
            raise
        finally:
            self._watches.pop(queue, None)
        if woke is not None:
            self._wakes.set(queue)
        elif self._waiters.get(queue) and not self._closed:
            self._watch(queue)  # timed out with waiters still here: watch on for them

    async def _send(self, batch: list[_Call]) -> None:
        # One FCALL runs the batch's operations in order, each atomic (the whole call is): one
        # command to pack and one reply to parse, one TIME and one look at the delays per queue.
        args: list[Any] = [lua.FUNCTION, 0, self.prefix]
        for call in batch:
            args += [call.op, len(call.args), *call.args]
        try:
            async with self._errors() as client:
                if self._conn is None:
                    self._conn = RespConnection(self.url)
                try:
                    results = await self._conn.call("FCALL", *args)
                except redis.exceptions.ResponseError as exc:
                    if "unknown command" in str(exc).lower():  # no FCALL: before Redis 7.0
                        info = await client.info("server")
                        raise QueueError(_too_old(self.url, str(info.get("redis_version")))
                                         ) from exc
                    if not str(exc).startswith("Function not found"):
                        raise
                    # A new, restarted or flushed server: nothing ran; load the library, again.
                    await self._load(self._conn)
                    results = await self._conn.call("FCALL", *args)
            for call, result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    call.error = QueueError(unreachable("event queue", self.url, result))
                else:
                    call.result = result
        except QueueError as exc:
            for call in batch:
                call.error = exc
        finally:
            for call in batch:
                call.done.set()

    @staticmethod
    async def _load(conn: RespConnection) -> None:
        """Load the queue's function library (``FUNCTION LOAD``)."""
        try:
            await conn.call("FUNCTION", "LOAD", lua.LIBRARY)
        except redis.exceptions.ResponseError as exc:
            if "already exists" not in str(exc):  # else another instance loaded it meanwhile
                raise

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[redis.asyncio.Redis]:
        """The client (made on first use), with its failures raised as QueueError."""
        self._check_open()
        if self._client is None:
            try:
                self._client = connect(self.url)
            except ValueError as exc:
                raise QueueError(f"{redact(self.url)} is not a Redis URL ({exc}); use e.g. "
                                 "redis://127.0.0.1:6379/0") from exc
        async with mapped_errors("event queue", self.url, QueueError):
            yield self._client

    def _check_open(self) -> None:
        if self._closed:
            raise QueueClosed(f"the event queue at {redact(self.url)} is closed; open a new "
                              "RedisQueue")


class _Call:
    """One operation waiting in a batch (``RedisQueue._call``)."""

    __slots__ = ("args", "done", "error", "op", "result")

    def __init__(self, op: str, args: list[Any]) -> None:
        self.op = op
        self.args = args
        self.done = anyio.Event()
        self.result: Any = None
        self.error: QueueError | None = None


def _too_old(url: str, version: str) -> str:
    return (f"the Redis event queue needs Redis {MIN_REDIS_MAJOR}.0 or newer (its operations "
            f"are a function library), and the server at {redact(url)} runs Redis {version}: "
            f"upgrade it, or use --queue sqlite")


def _enqueue_args(message_id: str, item: Enqueue, lease_ms: int | str = "",
                  receipt: str = "") -> list[Any]:
    """One item of ENQUEUE: visible (or delayed) as usual, or leased already under
    ``receipt`` for ``lease_ms``."""
    return [item.queue, message_id, "0" if item.group_id is None else "1", item.group_id or "",
            _ms(item.delay_s), msgspec.json.encode(item.event), lease_ms, receipt]


def _ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounded up so a delay never ends early."""
    return max(0, math.ceil(seconds * 1000))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
