"""How one event step consumes its queue: ``infrastructure.queue`` of its config, typed.

``SubscriptionSettings.from_queue_settings`` reads the keys the original accepts (``type``,
``concurrency``, ``visibilityTimeout``, ``delaySeconds`` and the retry keys of ``RetryPolicy``)
and refuses a bad value with a message that names the key and an example.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from motia_core.events.retry import QueueSettingsError, RetryPolicy, number_setting

__all__ = ("DEFAULT_CONCURRENCY", "DEFAULT_VISIBILITY_TIMEOUT_S", "MAX_DELAY_SECONDS",
           "SubscriptionSettings")

DEFAULT_CONCURRENCY = 10  # BullMQ worker concurrency in the original
DEFAULT_VISIBILITY_TIMEOUT_S = 900.0  # the original's default `visibilityTimeout`
MAX_DELAY_SECONDS = 900.0  # `delaySeconds` range of the original's validator


@dataclass(frozen=True)
class SubscriptionSettings:
    """How one step consumes its queue."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # FIFO: events with the same messageGroupId are delivered one at a time, in order; groups
    # (and events without a group) still run in parallel up to ``concurrency``.
    fifo: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    # How long a delivery holds its message before it is handed out again (crash safety);
    # longer than the step's handler timeout.
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S
    # Every event waits this long before its first delivery.
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.visibility_timeout_s <= 0 or self.delay_s < 0:
            raise ValueError(f"visibility_timeout_s must be > 0 and delay_s >= 0, got "
                             f"{self.visibility_timeout_s} and {self.delay_s}")

    @classmethod
    def from_queue_settings(cls, settings: Mapping[str, Any] | None) -> SubscriptionSettings:
        """From an event step's ``infrastructure.queue`` (``type``, ``concurrency``,
        ``visibilityTimeout``, ``delaySeconds`` and the retry keys of ``RetryPolicy``)."""
        settings = settings or {}
        kind = settings.get("type", "standard")
        if kind not in ("standard", "fifo"):
            raise QueueSettingsError(
                f"infrastructure.queue.type must be 'standard' or 'fifo', got {kind!r}"
            )
        delay_s = number_setting(settings, "delaySeconds", 0.0, example="0")
        if delay_s > MAX_DELAY_SECONDS:
            raise QueueSettingsError(
                f"infrastructure.queue.delaySeconds must be at most {MAX_DELAY_SECONDS:g}, "
                f"got {delay_s:g}"
            )
        visibility_timeout_s = number_setting(settings, "visibilityTimeout",
                                              DEFAULT_VISIBILITY_TIMEOUT_S, example="900")
        if visibility_timeout_s <= 0:
            raise QueueSettingsError(
                "infrastructure.queue.visibilityTimeout must be more than 0 seconds (and more "
                "than handler.timeout); use e.g. 900"
            )
        return cls(
            retry=RetryPolicy.from_queue_settings(settings),
            fifo=kind == "fifo",
            concurrency=int(number_setting(settings, "concurrency", DEFAULT_CONCURRENCY,
                                           integer=True, minimum=1, example="10")),
            visibility_timeout_s=visibility_timeout_s,
            delay_s=delay_s,
        )

    @classmethod
    def from_step(cls, step: Any) -> SubscriptionSettings:
        """From a ``steps.Step``: its ``queue`` property is the typed ``infrastructure.queue``
        (None for steps that are not event steps, which get the defaults)."""
        queue = getattr(step, "queue", None)
        return cls.from_queue_settings(None if queue is None else msgspec.to_builtins(queue))
