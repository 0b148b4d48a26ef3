"""The queue interface every event adapter implements, and the messages that cross it.

The interface is a handful of primitives shaped for at-least-once delivery, as SQS and Redis
Streams consumer groups are: ``receive`` hands out a message under a *lease* (a visibility timeout
and a receipt token) instead of removing it, and only ``ack`` removes it. A consumer that dies
holding a lease loses nothing: the lease runs out and the message becomes visible again.

Retries, fan-out and policy live above this interface, in ``EventBus``; an adapter only stores,
leases and orders. The in-memory adapter (``memory.py``) is the reference; a durable adapter
(SQLite) and a shared one (Redis) implement the same methods, where ``wait`` may poll with a bound.

Ordering: a message enqueued with a ``group_id`` is FIFO within its ``(queue, group_id)``: only
the oldest unfinished message of a group can be received, so at most one per group is in flight
and a failed head blocks its group until it is acked or dead-lettered. Messages without a group
are unordered and all may be in flight at once.
"""

from __future__ import annotations

import itertools
import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import anyio
import msgspec

from motia_core.protocol.errors import RpcError

__all__ = (
    "BatchQueueAdapter",
    "DeadLetter",
    "Enqueue",
    "ErrorInfo",
    "Event",
    "QueueAdapter",
    "QueueClosed",
    "QueueCounts",
    "QueueError",
    "QueueMessage",
    "new_id",
    "now_ms",
    "queue_name",
)


def now_ms() -> int:
    """Wall-clock milliseconds: durable adapters compare these across restarts."""
    return int(time.time() * 1000)


def queue_name(topic: str, step_name: str) -> str:
    """The subscriber queue of one step for one topic (BullMQ's ``<topic>.<stepName>``)."""
    return f"{topic}.{step_name}"


def _reseed_ids() -> None:
    global _id_prefix, _id_counter
    _id_prefix = os.urandom(8).hex()
    _id_counter = itertools.count()


_id_prefix = ""
_id_counter = itertools.count()
_reseed_ids()
os.register_at_fork(after_in_child=_reseed_ids)  # a forked child must not repeat the parent's


def new_id() -> str:
    """An id unique across processes, in uuid4().hex's shape (32 hex digits): 64 random bits
    drawn once per process, then a counter. Several times cheaper than ``uuid4()`` (no
    ``urandom`` call, no UUID object) for the ids made per event: event, message, lease receipt.
    Not a secret: nothing may rely on it being unguessable."""
    return f"{_id_prefix}{next(_id_counter):016x}"


class _Record(msgspec.Struct, rename="camel", kw_only=True, frozen=True):
    """Base of the queue's records: camelCase when stored or shown, as the Motia wire is."""


class Event(_Record, kw_only=True, frozen=True):
    """One emitted event, as it travels from the emitter to every subscriber."""

    topic: str
    data: Any = None
    # The emitter's trace: a whole chain of events shares one trace id.
    trace_id: str
    # The emitting invocation's span, so the subscriber's span can name its parent.
    parent_span_id: str | None = None
    flows: list[str] = msgspec.field(default_factory=list)
    # FIFO subscribers keep the events of one group in order (``emit({..., messageGroupId})``).
    message_group_id: str | None = None
    id: str = msgspec.field(default_factory=new_id)
    emitted_at_ms: int = msgspec.field(default_factory=now_ms)
    # The W3C ``tracestate`` the trace came in with, passed on to every subscriber.
    tracestate: str | None = None


class QueueMessage(_Record, kw_only=True, frozen=True):
    """One delivery of an event to one subscriber queue, as handed out by ``receive``.

    A snapshot: ``ack``/``nack``/``release``/``dead_letter`` find the stored message by ``id``
    and act only while ``receipt`` is still the current lease (a stale one is refused).
    """

    id: str
    queue: str
    event: Event
    # 1 for the first delivery; +1 after each nack and each expired lease.
    attempt: int
    # While leased, when the lease runs out; otherwise when the message becomes visible.
    available_at_ms: int
    # The lease token of this delivery; empty when the message is not leased.
    receipt: str = ""
    # Set only for FIFO subscriptions (the event's message_group_id).
    group_id: str | None = None
    enqueued_at_ms: int = 0


class Enqueue(_Record, kw_only=True, frozen=True):
    """One message to add, for ``enqueue_many``."""

    queue: str
    event: Event
    delay_s: float = 0.0
    group_id: str | None = None


class ErrorInfo(_Record, kw_only=True, frozen=True):
    """Why a delivery failed, in the shape Motia traces use: ``{message, name, stack}``."""

    message: str
    name: str = "Error"
    stack: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """The user's error when a runner reported one (its ``data``), else ours."""
        if isinstance(exc, RpcError) and isinstance(exc.data, dict):
            data: dict[str, Any] = exc.data
            return cls(
                message=str(data.get("message") or exc.message),
                name=str(data.get("name") or type(exc).__name__),
                stack=data["stack"] if isinstance(data.get("stack"), str) else None,
            )
        return cls(message=str(exc) or type(exc).__name__, name=type(exc).__name__,
                   stack="".join(traceback.format_exception(exc)))


class DeadLetter(_Record, kw_only=True, frozen=True):
    """A message that exhausted its retries, kept with its last error for inspection or replay."""

    id: str
    queue: str
    event: Event
    # How many deliveries were made (the attempt that failed last).
    attempts: int
    error: ErrorInfo
    failed_at_ms: int
    # The FIFO group it was delivered in; a replay goes back into that group.
    group_id: str | None = None


class QueueCounts(_Record, kw_only=True, frozen=True):
    """What one queue holds; ``ready + delayed + in_flight`` are the unfinished messages."""

    ready: int = 0
    delayed: int = 0
    in_flight: int = 0
    dead_letters: int = 0


class QueueError(Exception):
    """A queue store failed; the message names the store and what to do."""


class QueueClosed(QueueError, RuntimeError):
    """A queue adapter was used after ``aclose()``."""


class QueueWakes:
    """What an adapter's ``wait`` sleeps on: one event per queue, taken before looking (so news
    between the look and the sleep still wakes it) and set, and replaced, by any news of the
    queue in this process."""

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: dict[str, anyio.Event] = {}

    def event(self, queue: str) -> anyio.Event:
        """The event the next news of ``queue`` sets."""
        event = self._events.get(queue)
        if event is None:
            event = self._events[queue] = anyio.Event()
        return event

    def set(self, queue: str) -> None:
        """News of ``queue``: wake whoever waits on it."""
        event = self._events.pop(queue, None)
        if event is not None:
            event.set()

    def set_all(self) -> None:
        """News of every queue (another process wrote, or the adapter closes)."""
        for queue in list(self._events):
            self.set(queue)


class QueueAdapter(ABC):
    """Storage for subscriber queues with leases, delays, FIFO groups and dead letters.

    Every method is safe to call from many tasks at once. Methods taking a ``QueueMessage`` return
    ``False`` (or ``None``) when its lease is no longer current: the lease ran out and the message
    was handed to someone else (or already finished), so the caller's outcome no longer counts.
    """

    @abstractmethod
    async def enqueue(self, queue: str, event: Event, *, delay_s: float = 0.0,
                      group_id: str | None = None) -> str:
        """Add a message, visible after ``delay_s``; returns its id."""

    async def enqueue_many(self, items: Sequence[Enqueue]) -> list[str]:
        """Add several messages. Durable adapters override this to write them all in one
        transaction, so an event is accepted for every subscriber or for none."""
        return [await self.enqueue(i.queue, i.event, delay_s=i.delay_s, group_id=i.group_id)
                for i in items]

    async def enqueue_leased(self, items: Sequence[Enqueue], lease_s: Sequence[float | None],
                             ) -> list[QueueMessage | None]:
        """``enqueue_many``, with the items whose ``lease_s`` is set already leased to the
        caller for that long, in the same transaction: a consumer of this process with a free
        slot delivers them at once, with no ``receive`` (and no wake-up) between. Each leased
        item comes back as the message to deliver and settle as if received (attempt 1); the
        others, and every item of an adapter that cannot lease on enqueue (this default), come
        back as None and are visible to ``receive`` as usual."""
        await self.enqueue_many(items)
        return [None] * len(items)

    async def enqueue_once(self, key: str, ttl_s: float, queue: str, event: Event, *,
                           group_id: str | None = None) -> str | None:
        """Add a message unless one was already added under ``key`` in the last ``ttl_s``
        seconds (by any process sharing this store); returns its id, or None when the key was
        taken. A cron tick is enqueued under its step and scheduled time, so every instance may
        try and only one succeeds. Shared adapters override this to claim the key and enqueue
        in one atomic step; this default serves one process."""
        now = now_ms()
        claimed: dict[str, int] = self.__dict__.setdefault("_once_keys", {})
        for old in [k for k, expires in claimed.items() if expires <= now]:
            del claimed[old]
        if key in claimed:
            return None
        claimed[key] = now + max(1, int(ttl_s * 1000))
        return await self.enqueue(queue, event, group_id=group_id)

    @abstractmethod
    async def receive(self, queue: str, visibility_timeout_s: float) -> QueueMessage | None:
        """Lease the oldest visible message for ``visibility_timeout_s``, or None right now.

        A message whose lease ran out is visible again and comes back with ``attempt + 1``.
        """

    async def receive_many(self, queue: str, visibility_timeout_s: float,
                           max_messages: int) -> list[QueueMessage]:
        """Lease up to ``max_messages`` visible messages, oldest first, as ``receive`` would one
        by one ([] when none is visible now). Adapters override this to lease them in one
        transaction or one round trip; this default leases one."""
        message = await self.receive(queue, visibility_timeout_s)
        return [] if message is None else [message]

    @abstractmethod
    async def ack(self, message: QueueMessage) -> bool:
        """Done: remove the message."""

    @abstractmethod
    async def nack(self, message: QueueMessage, delay_s: float = 0.0) -> bool:
        """Failed: visible again after ``delay_s``, with ``attempt + 1``."""

    @abstractmethod
    async def release(self, message: QueueMessage) -> bool:
        """Not processed (shutdown, unsubscribe): visible again now, the attempt not counted."""

    @abstractmethod
    async def dead_letter(self, message: QueueMessage, error: ErrorInfo) -> DeadLetter | None:
        """Given up: move the message to the queue's dead letters with its last error."""

    @abstractmethod
    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        """The queue's dead letters, oldest first."""

    @abstractmethod
    async def dead_letter_queues(self) -> list[str]:
        """Every queue holding at least one dead letter, sorted (for ``motia dlq list``)."""

    @abstractmethod
    async def replay_dead_letter(self, queue: str, message_id: str) -> bool:
        """Move a dead letter back into its queue as a new message (attempt 1, same event and
        trace); False if there is no such dead letter."""

    @abstractmethod
    async def purge_dead_letters(self, queue: str) -> int:
        """Delete the queue's dead letters; returns how many."""

    @abstractmethod
    async def counts(self, queue: str) -> QueueCounts:
        """How many messages are ready, delayed, in flight and dead."""

    async def depth(self, queue: str) -> int:
        """Messages waiting to be received (ready or delayed), as BullMQ counts its backlog."""
        counts = await self.counts(queue)
        return counts.ready + counts.delayed

    @abstractmethod
    async def wait(self, queue: str, timeout_s: float) -> None:
        """Return when a message may be receivable from ``queue``, or after ``timeout_s``.

        A hint, not a promise: the caller calls ``receive`` again, which may still return None.
        The memory adapter wakes on enqueue, nack, release, ack of a group's head and at the next
        delay or lease expiry; an adapter over shared storage may poll with a bounded interval.
        """

    async def open(self) -> None:  # noqa: B027  # optional hook: most adapters need no setup
        """Get ready now (create files, check the server) so problems surface at startup, not
        at the first event. Optional: the first operation does it too."""

    async def aclose(self) -> None:
        """Release connections; the memory adapter has none."""
        return None


class BatchQueueAdapter(QueueAdapter):
    """A queue that adds messages in one write per batch (one SQLite transaction, one Redis
    call), some of them already leased: ``enqueue``, ``enqueue_many`` and ``enqueue_leased``
    are each that one write, ``_enqueue``."""

    async def enqueue(self, queue: str, event: Event, *, delay_s: float = 0.0,
                      group_id: str | None = None) -> str:
        [message_id] = await self.enqueue_many([Enqueue(queue=queue, event=event,
                                                        delay_s=delay_s, group_id=group_id)])
        return message_id

    async def enqueue_many(self, items: Sequence[Enqueue]) -> list[str]:
        ids, _ = await self._enqueue(items, [None] * len(items))
        return ids

    async def enqueue_leased(self, items: Sequence[Enqueue], lease_s: Sequence[float | None],
                             ) -> list[QueueMessage | None]:
        _, messages = await self._enqueue(items, lease_s)
        return messages

    @abstractmethod
    async def _enqueue(self, items: Sequence[Enqueue], lease_s: Sequence[float | None],
                       ) -> tuple[list[str], list[QueueMessage | None]]:
        """Add ``items`` in one write, those with a lease already leased to this process for
        that long; their ids, and the leased ones as received messages (None for the others)."""
