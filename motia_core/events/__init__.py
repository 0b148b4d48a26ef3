"""Events: topics fan out to one queue per subscribing step, with retries and dead letters.

``EventBus`` (bus.py) holds the logic; ``QueueAdapter`` (base.py) is the narrow storage interface
with ``MemoryQueue`` (memory.py) as its reference implementation; ``RetryPolicy`` (retry.py)
decides between retrying and giving up.
"""

from __future__ import annotations

from motia_core.events.base import (
    DeadLetter,
    Enqueue,
    ErrorInfo,
    Event,
    QueueAdapter,
    QueueCounts,
    QueueMessage,
    queue_name,
)
from motia_core.events.bus import (
    DeadLetterHook,
    Deliver,
    EventBus,
    QueueMetrics,
    Subscription,
    SubscriptionSettings,
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

__all__ = (
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
    "QueueCounts",
    "QueueMessage",
    "QueueMetrics",
    "QueueOperation",
    "QueueSettingsError",
    "Retry",
    "RetryLater",
    "RetryPolicy",
    "Subscription",
    "SubscriptionSettings",
    "queue_name",
)
