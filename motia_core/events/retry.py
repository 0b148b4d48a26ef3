"""Retry policy: given a failed attempt, decide to retry (after how long) or to give up.

The policy returns a decision value and does nothing itself; ``EventBus`` carries it out (``nack``
with the delay, or ``dead_letter``). A retry is just a message that becomes visible later, so no
timer can be stranded, unlike the original's local queue (MOTIA_CONTRACT.md 11.11).

``max_retries`` counts retries *after* the first attempt, as BullMQ does (``attempts =
maxRetries + 1``): the default 3 means up to 4 deliveries. The original's in-memory queue read it
as total attempts; we follow the adapter that became its default.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = (
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RETRY_DELAY_S",
    "Backoff",
    "Decision",
    "GiveUp",
    "QueueSettingsError",
    "Retry",
    "RetryLater",
    "RetryPolicy",
    "number_setting",
)

DEFAULT_MAX_RETRIES = 3
# BullMQ's fixed backoff in the original (the local queue waited `visibilityTimeout`, 15 min).
DEFAULT_RETRY_DELAY_S = 2.0
DEFAULT_MAX_RETRY_DELAY_S = 300.0

Backoff = Literal["fixed", "exponential"]
_BACKOFFS: tuple[Backoff, ...] = ("fixed", "exponential")


class QueueSettingsError(ValueError):
    """An event step's ``infrastructure.queue`` holds a value we cannot use."""


class RetryLater(Exception):
    """Raised by a delivery to be retried after ``delay_s`` instead of the policy's delay.

    It still counts as an attempt, and it is logged as a retry, not as an error.
    """

    def __init__(self, delay_s: float, reason: str = "") -> None:
        super().__init__(reason or f"retry requested in {delay_s}s")
        self.delay_s = delay_s


@dataclass(frozen=True)
class Retry:
    """Deliver again after ``delay_s``."""

    delay_s: float


@dataclass(frozen=True)
class GiveUp:
    """Stop: the message goes to the dead letters."""

    reason: str


Decision = Retry | GiveUp


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    # The first retry's delay; exponential backoff doubles it for each further retry.
    delay_s: float = DEFAULT_RETRY_DELAY_S
    backoff: Backoff = "fixed"
    max_delay_s: float = DEFAULT_MAX_RETRY_DELAY_S
    # Up to this fraction of each delay is removed at random, so failures of many messages do
    # not retry in lockstep: 0 = exact delays, 1 = "full jitter".
    jitter: float = 0.0
    # Errors that are never worth retrying go straight to the dead letters.
    give_up_on: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.delay_s < 0 or self.max_delay_s < 0:
            raise ValueError(f"retry delays must be >= 0, got {self.delay_s}, {self.max_delay_s}")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")
        if self.backoff not in _BACKOFFS:
            raise ValueError(f"backoff must be one of {_BACKOFFS}, got {self.backoff!r}")

    @property
    def max_attempts(self) -> int:
        """Deliveries in all: the first one plus the retries."""
        return self.max_retries + 1

    def delay_for(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before the delivery that follows failed ``attempt`` (1-based)."""
        if self.backoff == "exponential":
            # Capped before exponentiating large attempts would overflow a float.
            delay = self.delay_s * 2.0 ** min(attempt - 1, 64)
        else:
            delay = self.delay_s
        delay = min(delay, self.max_delay_s)
        return delay * (1.0 - self.jitter * rand())

    def decide(self, attempt: int, error: BaseException,
               rand: Callable[[], float] = random.random) -> Decision:
        """What to do after ``attempt`` (1-based) failed with ``error``."""
        if isinstance(error, self.give_up_on):
            return GiveUp(f"{type(error).__name__} is never retried")
        if attempt >= self.max_attempts:
            return GiveUp(f"failed {attempt} time(s), the last of 1 + {self.max_retries} retries")
        if isinstance(error, RetryLater):
            return Retry(max(0.0, error.delay_s))
        return Retry(self.delay_for(attempt, rand))

    @classmethod
    def from_queue_settings(cls, settings: Mapping[str, Any] | None) -> RetryPolicy:
        """The policy of an event step's ``infrastructure.queue``.

        Reads ``maxRetries`` and our extensions ``retryDelaySeconds``, ``backoff``
        (``fixed``|``exponential``), ``maxRetryDelaySeconds`` and ``jitter``; other keys
        (``type``, ``concurrency``, ``visibilityTimeout``, ``delaySeconds``, which is the
        *initial* delivery delay) belong to the subscription. Missing keys take the defaults.
        """
        settings = settings or {}
        max_retries = number_setting(settings, "maxRetries", DEFAULT_MAX_RETRIES,
                                     integer=True, example="3")
        backoff = settings.get("backoff", "fixed")
        if backoff not in _BACKOFFS:
            raise QueueSettingsError(
                f"infrastructure.queue.backoff must be 'fixed' or 'exponential', "
                f"got {backoff!r}; leave it out for fixed delays"
            )
        jitter = number_setting(settings, "jitter", 0.0, example="0.2")
        if jitter > 1:
            raise QueueSettingsError(
                f"infrastructure.queue.jitter is a fraction of the delay between 0 and 1, "
                f"got {jitter!r}; use e.g. 0.2"
            )
        return cls(
            max_retries=int(max_retries),
            delay_s=number_setting(settings, "retryDelaySeconds", DEFAULT_RETRY_DELAY_S,
                                   example="2"),
            backoff=backoff,
            max_delay_s=number_setting(settings, "maxRetryDelaySeconds",
                                       DEFAULT_MAX_RETRY_DELAY_S, example="300"),
            jitter=jitter,
        )


def number_setting(settings: Mapping[str, Any], key: str, default: float, *,
                   integer: bool = False, minimum: float = 0.0, example: str = "1") -> float:
    """``settings[key]`` as a number >= ``minimum``, or a message naming the field and a fix."""
    value = settings.get(key, default)
    kind = "an integer" if integer else "a number"
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
        value
    ) or (integer and not float(value).is_integer()):
        raise QueueSettingsError(
            f"infrastructure.queue.{key} must be {kind}, got {value!r}; use e.g. {example}"
        )
    if value < minimum:
        raise QueueSettingsError(
            f"infrastructure.queue.{key} must be {kind} >= {minimum:g}, got {value!r}; "
            f"use e.g. {example}"
        )
    return float(value)
