"""Events: topics fan out to one queue per subscribing step, with retries and dead letters.

``EventBus`` (bus.py) holds the logic; ``QueueAdapter`` (base.py) is the narrow storage interface
with ``MemoryQueue`` (memory.py) as its reference implementation and ``SqliteQueue`` (sqlite.py)
as the durable default, ``RedisQueue`` (redis.py) for several instances sharing the work;
``RetryPolicy`` (retry.py) decides between retrying and giving up.

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
    new_id,
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
from motia_core.storage.redis import DEFAULT_PREFIX

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
    "new_id",
    "open_queue",
    "queue_name",
)

# The kinds open_queue() knows, default first.
QUEUE_KINDS = ("sqlite", "memory", "redis")
# The SQLite queue's file name inside the project's .motia/ directory (beside the state's).
SQLITE_FILENAME = "queue.sqlite3"


class UnknownQueueAdapter(QueueError, ValueError):
    """The configured queue adapter kind does not exist."""


def open_queue(kind: str, motia_dir: Path, *, redis_url: str | None = None,
               redis_prefix: str = DEFAULT_PREFIX) -> QueueAdapter:
    """An event queue of ``kind`` ("sqlite", "memory" or "redis", any case).

    SQLite keeps its file in the project's ``.motia/`` (``motia_dir``); Redis needs
    ``redis_url`` and keeps its keys under ``redis_prefix``. Nothing is touched (on disk or on
    the network) until ``await queue.open()`` or the first operation; close it with
    ``await queue.aclose()``.
    """
    name = kind.strip().lower()
    if name == "sqlite":
        return SqliteQueue(Path(motia_dir) / SQLITE_FILENAME)
    if name == "memory":
        return MemoryQueue()
    if name == "redis":
        if not redis_url:
            raise UnknownQueueAdapter(
                "the 'redis' queue adapter needs the server's URL: pass --redis-url "
                "redis://127.0.0.1:6379, set MOTIA_REDIS_URL, or set url under [redis] in "
                "motia.toml"
            )
        from motia_core.events.redis import RedisQueue  # redis-py only when asked for

        return RedisQueue(redis_url, prefix=redis_prefix)
    valid = ", ".join(repr(k) for k in QUEUE_KINDS)
    raise UnknownQueueAdapter(f"unknown queue adapter {kind!r}; valid kinds are {valid}")
