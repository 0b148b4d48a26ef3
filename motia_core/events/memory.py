"""The in-memory queue adapter: the reference implementation of ``QueueAdapter``.

Real semantics (leases, delays, FIFO groups, dead letters), nothing persisted: what a process
holds is gone when it exits. It is the adapter for tests and for ``motia dev --memory``, and the
one the contract tests compare the durable adapters with. ``wait`` is event-driven: it wakes on
every change to the queue and at the next moment a delay or a lease runs out, never by polling.

Test helpers: ``operations`` (a bounded log of what was done), ``messages(queue)`` (snapshots of
what is stored) and ``reset()``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import anyio
import msgspec

from motia_core.events.base import (
    DeadLetter,
    ErrorInfo,
    Event,
    QueueAdapter,
    QueueCounts,
    QueueMessage,
    new_id,
    now_ms,
)

__all__ = ("MemoryQueue", "QueueOperation")

# The operation log is for tests and debugging; a long-running dev server must not grow forever.
OPERATION_LOG_SIZE = 10_000


class QueueOperation(msgspec.Struct, frozen=True):
    """One entry of ``MemoryQueue.operations``: what was done to which message."""

    op: str  # enqueue | receive | ack | nack | release | dead_letter | replay | stale
    queue: str
    message_id: str
    attempt: int


@dataclass
class _Stored:
    id: str
    event: Event
    group_id: str | None
    attempt: int
    available_at_ms: int
    enqueued_at_ms: int
    receipt: str = ""

    def snapshot(self, queue: str) -> QueueMessage:
        return QueueMessage(id=self.id, queue=queue, event=self.event, attempt=self.attempt,
                            available_at_ms=self.available_at_ms, receipt=self.receipt,
                            group_id=self.group_id, enqueued_at_ms=self.enqueued_at_ms)


@dataclass
class _Queue:
    # Insertion order is enqueue order, and a message is never re-inserted: FIFO for free.
    stored: dict[str, _Stored] = field(default_factory=dict)
    dead: dict[str, DeadLetter] = field(default_factory=dict)
    changed: anyio.Event | None = None


class MemoryQueue(QueueAdapter):
    """Subscriber queues in this process's memory."""

    def __init__(self, *, clock_ms: Callable[[], int] = now_ms) -> None:
        self._clock_ms = clock_ms
        self._queues: dict[str, _Queue] = {}
        self.operations: deque[QueueOperation] = deque(maxlen=OPERATION_LOG_SIZE)

    # --- test helpers ------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every message, dead letter and logged operation (waiters are woken)."""
        for q in self._queues.values():
            self._notify(q)
        self._queues.clear()
        self.operations.clear()

    def messages(self, queue: str) -> list[QueueMessage]:
        """Snapshots of the unfinished messages of ``queue``, oldest first."""
        q = self._queues.get(queue)
        return [] if q is None else [m.snapshot(queue) for m in q.stored.values()]

    def queues(self) -> list[str]:
        """Every queue that has held a message."""
        return list(self._queues)

    # --- QueueAdapter ------------------------------------------------------------------------

    async def enqueue(self, queue: str, event: Event, *, delay_s: float = 0.0,
                      group_id: str | None = None) -> str:
        now = self._clock_ms()
        stored = _Stored(id=new_id(), event=event, group_id=group_id, attempt=1,
                         available_at_ms=now + _ms(delay_s), enqueued_at_ms=now)
        q = self._queue(queue)
        q.stored[stored.id] = stored
        self._log("enqueue", queue, stored)
        self._notify(q)
        return stored.id

    async def receive(self, queue: str, visibility_timeout_s: float) -> QueueMessage | None:
        q = self._queues.get(queue)
        if q is None:
            return None
        now = self._clock_ms()
        stored = self._next_visible(q, now)
        if stored is None:
            return None
        if stored.receipt:  # the previous lease ran out: that delivery counts as an attempt
            stored.attempt += 1
        stored.receipt = new_id()
        stored.available_at_ms = now + _ms(visibility_timeout_s)
        self._log("receive", queue, stored)
        return stored.snapshot(queue)

    async def ack(self, message: QueueMessage) -> bool:
        q, stored = self._leased(message, "ack")
        if q is None or stored is None:
            return False
        del q.stored[stored.id]
        self._notify(q)
        return True

    async def nack(self, message: QueueMessage, delay_s: float = 0.0) -> bool:
        q, stored = self._leased(message, "nack")
        if q is None or stored is None:
            return False
        stored.attempt += 1
        stored.receipt = ""
        stored.available_at_ms = self._clock_ms() + _ms(delay_s)
        self._notify(q)
        return True

    async def release(self, message: QueueMessage) -> bool:
        q, stored = self._leased(message, "release")
        if q is None or stored is None:
            return False
        stored.receipt = ""
        stored.available_at_ms = self._clock_ms()
        self._notify(q)
        return True

    async def dead_letter(self, message: QueueMessage, error: ErrorInfo) -> DeadLetter | None:
        q, stored = self._leased(message, "dead_letter")
        if q is None or stored is None:
            return None
        del q.stored[stored.id]
        letter = DeadLetter(id=stored.id, queue=message.queue, event=stored.event,
                            attempts=stored.attempt, error=error, failed_at_ms=self._clock_ms(),
                            group_id=stored.group_id)
        q.dead[letter.id] = letter
        self._notify(q)
        return letter

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        q = self._queues.get(queue)
        return [] if q is None else list(q.dead.values())

    async def dead_letter_queues(self) -> list[str]:
        return sorted(name for name, q in self._queues.items() if q.dead)

    async def replay_dead_letter(self, queue: str, message_id: str) -> bool:
        q = self._queues.get(queue)
        letter = None if q is None else q.dead.pop(message_id, None)
        if letter is None:
            return False
        message_id = await self.enqueue(queue, letter.event, group_id=letter.group_id)
        self.operations.append(QueueOperation("replay", queue, message_id, 1))
        return True

    async def purge_dead_letters(self, queue: str) -> int:
        q = self._queues.get(queue)
        if q is None:
            return 0
        purged = len(q.dead)
        q.dead.clear()
        return purged

    async def counts(self, queue: str) -> QueueCounts:
        q = self._queues.get(queue)
        if q is None:
            return QueueCounts()
        now = self._clock_ms()
        ready = delayed = in_flight = 0
        for m in q.stored.values():
            if m.available_at_ms <= now:
                ready += 1  # an expired lease counts as ready: it will be handed out again
            elif m.receipt:
                in_flight += 1
            else:
                delayed += 1
        return QueueCounts(ready=ready, delayed=delayed, in_flight=in_flight,
                           dead_letters=len(q.dead))

    async def wait(self, queue: str, timeout_s: float) -> None:
        q = self._queue(queue)
        now = self._clock_ms()
        if self._next_visible(q, now) is not None:
            await anyio.lowlevel.checkpoint()  # a caller looping on wait() still yields
            return
        # Wake for the next delay or lease that runs out, even if nothing else happens.
        upcoming = [m.available_at_ms for m in q.stored.values() if m.available_at_ms > now]
        if upcoming:
            timeout_s = min(timeout_s, (min(upcoming) - now) / 1000)
        if q.changed is None:
            q.changed = anyio.Event()
        with anyio.move_on_after(timeout_s):
            await q.changed.wait()

    # --- internals ---------------------------------------------------------------------------

    def _queue(self, queue: str) -> _Queue:
        q = self._queues.get(queue)
        if q is None:
            q = self._queues[queue] = _Queue()
        return q

    @staticmethod
    def _next_visible(q: _Queue, now: int) -> _Stored | None:
        """The oldest visible message, skipping groups whose head is leased or delayed."""
        seen_groups: set[str] = set()
        for m in q.stored.values():
            if m.group_id is not None:
                if m.group_id in seen_groups:
                    continue  # not the head of its group
                seen_groups.add(m.group_id)
            if m.available_at_ms <= now:
                return m
        return None

    def _leased(self, message: QueueMessage, op: str) -> tuple[_Queue | None, _Stored | None]:
        """The stored message if ``message`` still holds its lease, else (None, None)."""
        q = self._queues.get(message.queue)
        stored = None if q is None else q.stored.get(message.id)
        if q is None or stored is None or not message.receipt or stored.receipt != message.receipt:
            self.operations.append(QueueOperation("stale", message.queue, message.id,
                                                  message.attempt))
            return None, None
        self._log(op, message.queue, stored)
        return q, stored

    def _log(self, op: str, queue: str, m: _Stored) -> None:
        self.operations.append(QueueOperation(op, queue, m.id, m.attempt))

    @staticmethod
    def _notify(q: _Queue) -> None:
        if q.changed is not None:
            q.changed.set()
            q.changed = None


def _ms(seconds: float) -> int:
    """Seconds to whole milliseconds, rounded up so a delay never ends early."""
    return max(0, math.ceil(seconds * 1000))

