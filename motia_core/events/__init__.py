"""Events: topics fan out to one queue per subscribing step, with retries and dead letters.

``EventBus`` (bus.py) holds the logic; ``QueueAdapter`` (base.py) is the narrow storage interface
with ``MemoryQueue`` (memory.py) as its reference implementation and ``SqliteQueue`` (sqlite.py)
as the durable default; ``RetryPolicy`` (retry.py) decides between retrying and giving up.

    queue = open_queue("sqlite", project / ".motia")  # or "memory" for tests
    bus = EventBus(queue)
    ...
    await queue.aclose()
"""

from __future__ import annotations

from pathlib import Path

from motia_core.events.base import (
    DeadLetter,
    Enqueue,
    ErrorInfo,
    Event,
    QueueAdapter,
    QueueClosed,
    QueueCounts,
    QueueError,
    QueueMessage,
    queue_name,
)
from motia_core.events.bus import (
    DeadLetterHook,
    Deliver,
    EventBus,
    QueueMetrics,
    Subscription,
)
from motia_core.events.memory import MemoryQueue, QueueOperation
from motia_core.events.retry import (
    Decision,
    GiveUp,
    QueueSettingsError,
    Retry,
    RetryLater,
    RetryPolicy,
)
from motia_core.events.settings import SubscriptionSettings
from motia_core.events.sqlite import SqliteQueue

__all__ = (
    "QUEUE_KINDS",
    "SQLITE_FILENAME",
    "DeadLetter",
    "DeadLetterHook",
    "Decision",
    "Deliver",
    "Enqueue",
    "ErrorInfo",
    "Event",
    "EventBus",
    "GiveUp",
    "MemoryQueue",
    "QueueAdapter",
    "QueueClosed",
    "QueueCounts",
    "QueueError",
    "QueueMessage",
    "QueueMetrics",
    "QueueOperation",
    "QueueSettingsError",
    "Retry",
    "RetryLater",
    "RetryPolicy",
    "SqliteQueue",
    "Subscription",
    "SubscriptionSettings",
    "UnknownQueueAdapter",
    "open_queue",
    "queue_name",
)

# The kinds open_queue() knows, default first.
QUEUE_KINDS = ("sqlite", "memory")
# Kinds that exist in Motia but not here yet; named in the error so nobody thinks it is a typo.
_PLANNED_KINDS = ("redis",)
# The SQLite queue's file name inside the project's .motia/ directory (beside the state's).
SQLITE_FILENAME = "queue.sqlite3"


class UnknownQueueAdapter(QueueError, ValueError):
    """The configured queue adapter kind does not exist."""


def open_queue(kind: str, motia_dir: Path) -> QueueAdapter:
    """An event queue of ``kind`` ("sqlite" or "memory", any case) for the project's ``.motia/``.

    Nothing is touched on disk until ``await queue.open()`` (SQLite only) or the first operation;
    close it with ``await queue.aclose()``.
    """
    name = kind.strip().lower()
    if name == "sqlite":
        return SqliteQueue(Path(motia_dir) / SQLITE_FILENAME)
    if name == "memory":
        return MemoryQueue()
    valid = ", ".join(repr(k) for k in QUEUE_KINDS)
    if name in _PLANNED_KINDS:
        raise UnknownQueueAdapter(
            f"the {name!r} queue adapter is not available in this version of motia-core; "
            f"use one of {valid}"
        )
    raise UnknownQueueAdapter(f"unknown queue adapter {kind!r}; valid kinds are {valid}")
