"""The event bus: topics fan out to one queue per subscribing step, and consumers drain them.

``publish`` writes one message per subscribing step (``<topic>.<step>``) and returns how many;
a held subscription (a step that failed to reload) still gets its messages, delivered once the
step is subscribed again.
``run`` owns one consumer per subscription: it leases messages (up to the step's concurrency),
calls ``deliver``, and acks on success; on an exception it asks the step's ``RetryPolicy`` and
either nacks with a delay or dead-letters with the error. Delivery is at least once: a message
leaves its queue only on ack or dead letter, so a crash, a cancelled delivery or a stop leaves it
there to be delivered again.

A consumer that is caught up (waiting for its queue, which it found empty) and has a free slot
gets a newly published message straight from ``publish``: the adapter writes it already leased
to this process (``enqueue_leased``, in the transaction that accepts the event) and a worker
delivers it, with no wake-up of the consumer and no receive between. It is then held exactly as
a received message is (a crash leaves it to come back when its lease runs out), and a consumer
that stopped meanwhile gets nothing: the message goes back to the queue. A consumer with a
backlog takes every message through ``receive``, in order. On SQLite this took a receive
transaction and a wake-up off each hop: the p50 of ``make bench-compare``'s pipeline at 1 in
flight 2.15 -> 1.85 ms, and the core's CPU per item about 5% lower at 32 in flight.
"""

from __future__ import annotations

import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.abc
import msgspec

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
from motia_core.events.retry import Retry, RetryLater
from motia_core.events.settings import SubscriptionSettings
from motia_core.idle import IdleWorkers

__all__ = (
    "DeadLetterHook",
    "Deliver",
    "EventBus",
    "QueueMetrics",
    "Subscription",
)

log = logging.getLogger("motia.events")

T = TypeVar("T")
# An event step's delivery: raise to fail the attempt; ``attempt`` is 1-based.
Deliver = Callable[[Event, int], Awaitable[None]]

# The most messages one receive call leases (as many as the subscription has free slots).
MAX_RECEIVE_BATCH = 32
# ``join`` re-checks this often even without a wake-up, for adapters shared with other processes.
JOIN_RECHECK_S = 0.25


class Subscription:
    """One step subscribed to one topic; its messages live in the queue ``<topic>.<step>``."""

    def __init__(self, topic: str, step_name: str, deliver: Deliver,
                 settings: SubscriptionSettings) -> None:
        self.topic = topic
        self.step_name = step_name
        self.queue = queue_name(topic, step_name)
        self.deliver = deliver
        self.settings = settings
        # Cancelled to stop fetching (unsubscribe, replace, stop); deliveries under way go on.
        # Made when the consumer starts: a cancel scope needs a running event loop.
        self.fetching: anyio.CancelScope | None = None
        # Held (``EventBus.hold``): still subscribed, so events keep landing in its queue, but
        # nothing is fetched until the step is subscribed again.
        self.held = False
        # The running consumer, while there is one (``publish`` hands it messages directly).
        self.consumer: _Consumer | None = None

    def stop_fetching(self) -> None:
        if self.fetching is not None:
            self.fetching.cancel()

    def __repr__(self) -> str:
        return f"Subscription({self.queue!r})"


# Called once a message is dead-lettered (after the log line), e.g. to record it in the trace.
DeadLetterHook = Callable[[Subscription, DeadLetter], "Awaitable[None] | None"]


class QueueMetrics(msgspec.Struct, kw_only=True, frozen=True):
    """One subscriber queue, as the health endpoint and the benchmarks show it."""

    queue: str
    topic: str
    step: str
    depth: int  # waiting: ready + delayed
    in_flight: int
    retries: int  # since this bus started
    dead_letters: int  # stored
    delivered: int  # acked since this bus started


class _Workers:
    """The delivery workers of one consumer: the messages taken and not yet started, and the
    workers waiting for one."""

    __slots__ = ("closed", "idle", "ready")

    def __init__(self) -> None:
        self.ready: deque[QueueMessage] = deque()
        self.idle = IdleWorkers()
        self.closed = False

    def close(self) -> None:
        """No more messages: idle workers end, busy ones end after the ones taken."""
        self.closed = True
        while self.idle.wake_one():
            pass


class _Consumer:
    """One subscription's consumer while it runs: its delivery slots (one per message taken and
    not yet settled), its workers, and whether it is caught up: waiting for the queue after a
    receive that found nothing visible. Only then may ``publish`` hand it a new message
    directly; a consumer with a backlog takes its messages in order through ``receive``."""

    __slots__ = ("caught_up", "slots", "tg", "workers")

    def __init__(self, concurrency: int, tg: anyio.abc.TaskGroup) -> None:
        self.slots = anyio.Semaphore(concurrency, fast_acquire=True)
        self.workers = _Workers()
        self.tg = tg
        self.caught_up = False

    def take_slot(self) -> bool:
        """A free slot, taken, for a message handed over by ``publish``; False when none."""
        if not self.caught_up or self.workers.closed or self.slots.value == 0:
            return False
        self.slots.acquire_nowait()
        return True


@dataclass
class _Counters:
    retries: int = 0
    delivered: int = 0


class EventBus:
    """Publish events to subscribing steps and run their consumers over a ``QueueAdapter``."""

    def __init__(self, queue: QueueAdapter, *, on_dead_letter: DeadLetterHook | None = None,
                 idle_wait_s: float = 5.0, error_backoff_s: float = 1.0) -> None:
        self.queue = queue
        self._on_dead_letter = on_dead_letter
        # How long a consumer waits for work before asking again (a bound for polling adapters).
        self._idle_wait_s = idle_wait_s
        self._error_backoff_s = error_backoff_s
        self._topics: dict[str, dict[str, Subscription]] = {}
        self._counters: dict[str, _Counters] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._finished: anyio.Event | None = None
        self._delivering = 0
        self._activity: anyio.Event | None = None

    # --- subscriptions -----------------------------------------------------------------------

    def subscribe(self, topic: str, step_name: str, deliver: Deliver,
                  settings: SubscriptionSettings | None = None) -> Subscription:
        """Deliver ``topic``'s events to ``step_name``. Subscribing the same step to the same
        topic again replaces the old subscription (hot reload): its queue, with pending
        retries, goes to the new one; deliveries under way finish with the old ``deliver``."""
        self.unsubscribe(topic, step_name)
        sub = Subscription(topic, step_name, deliver, settings or SubscriptionSettings())
        self._topics.setdefault(topic, {})[step_name] = sub
        self._counters.setdefault(sub.queue, _Counters())
        if self._tg is not None:
            self._start(sub)
        return sub

    def unsubscribe(self, topic: str, step_name: str) -> bool:
        """Stop delivering ``topic`` to ``step_name``. Deliveries under way finish; messages
        already queued stay in the queue (a later ``subscribe`` picks them up)."""
        subs = self._topics.get(topic, {})
        sub = subs.pop(step_name, None)
        if not subs:
            self._topics.pop(topic, None)
        if sub is None:
            return False
        sub.stop_fetching()
        return True

    def hold(self, topic: str, step_name: str) -> bool:
        """Keep ``topic`` queued for ``step_name`` but stop delivering it (a step that failed
        to reload in ``motia dev``): events published meanwhile wait in its queue, and the next
        ``subscribe`` of the step delivers them. Deliveries under way finish."""
        sub = self._topics.get(topic, {}).get(step_name)
        if sub is None:
            return False
        sub.held = True
        sub.stop_fetching()
        return True

    def subscriptions(self, topic: str | None = None) -> list[Subscription]:
        if topic is not None:
            return list(self._topics.get(topic, {}).values())
        return [s for subs in self._topics.values() for s in subs.values()]

    def topics(self) -> list[str]:
        return list(self._topics)

    # --- publishing --------------------------------------------------------------------------

    async def publish(self, event: Event) -> int:
        """Queue ``event`` once per subscribing step; returns how many (0: nobody listens, and
        the event is dropped, as in the original; the caller decides whether to log it)."""
        subs = self.subscriptions(event.topic)
        if not subs:
            return 0
        items = [Enqueue(queue=s.queue, event=event, delay_s=s.settings.delay_s,
                         group_id=event.message_group_id if s.settings.fifo else None)
                 for s in subs]
        # A caught-up consumer of this process with a free slot takes its message at once:
        # leased as it is written, delivered without a receive (not a FIFO group's message,
        # whose turn the queue decides, nor a delayed one).
        takers = [s.consumer if s.consumer is not None and not s.settings.fifo
                  and not s.settings.delay_s and s.consumer.take_slot() else None for s in subs]
        if not any(takers):
            await self.queue.enqueue_many(items)
            self._notify()
            return len(subs)
        # Shielded: once written, a leased message must reach its consumer (or go back).
        with anyio.CancelScope(shield=True):
            try:
                messages = await self.queue.enqueue_leased(items, [
                    None if c is None else s.settings.visibility_timeout_s
                    for s, c in zip(subs, takers, strict=True)])
            except BaseException:
                for consumer in takers:
                    if consumer is not None:
                        consumer.slots.release()
                raise
            for sub, consumer, message in zip(subs, takers, messages, strict=True):
                if consumer is not None:
                    await self._hand_over(sub, consumer, message)
        self._notify()
        return len(subs)

    async def _hand_over(self, sub: Subscription, consumer: _Consumer,
                         message: QueueMessage | None) -> None:
        """Give ``publish``'s leased ``message`` to its consumer's workers; a consumer that
        stopped meanwhile gets nothing (the message goes back to the queue)."""
        if message is not None and not consumer.workers.closed:
            self._delivering += 1
            consumer.workers.ready.append(message)
            if not consumer.workers.idle.wake_one():
                consumer.tg.start_soon(self._work, sub, consumer,
                                       name=f"motia.events worker {sub.queue}")
            return
        consumer.slots.release()
        if message is not None:
            await self._guard(self.queue.release(message), sub, message, "release")

    # --- consuming ---------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Consume every subscription (present and future) until ``stop()`` or cancellation.

        Cancelling ``run`` cancels deliveries under way; their messages are released, not lost.
        ``stop()`` is the graceful way: it lets them finish first.
        """
        if self._tg is not None:
            raise RuntimeError("EventBus.run() is already running; call it once per bus")
        self._finished = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for sub in self.subscriptions():
                    self._start(sub)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._tg = None
            self._finished.set()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop taking messages, give deliveries under way ``grace_s`` to finish, then cancel
        the rest (their messages go back to the queue) and return once ``run`` has ended."""
        tg, finished = self._tg, self._finished
        if tg is None or finished is None:
            return
        for sub in self.subscriptions():
            sub.stop_fetching()
        with anyio.move_on_after(grace_s):
            while self._delivering:
                await self._activity_event().wait()
        tg.cancel_scope.cancel()
        await finished.wait()

    def _start(self, sub: Subscription) -> None:
        assert self._tg is not None
        if sub.held:
            return
        sub.fetching = anyio.CancelScope()
        self._tg.start_soon(self._consume, sub, sub.fetching,
                            name=f"motia.events consumer {sub.queue}")

    async def _consume(self, sub: Subscription, fetching: anyio.CancelScope) -> None:
        consumer: _Consumer | None = None
        try:
            async with anyio.create_task_group() as tg:
                consumer = sub.consumer = _Consumer(sub.settings.concurrency, tg)
                try:
                    with fetching:
                        await self._fetch(sub, consumer)
                finally:
                    if sub.consumer is consumer:
                        sub.consumer = None
                    # Idle workers end now, busy ones once the messages taken are delivered.
                    consumer.workers.close()
        finally:
            if consumer is not None and consumer.workers.ready:
                # Taken but never started: the task group was cancelled.
                with anyio.CancelScope(shield=True):
                    while consumer.workers.ready:
                        message = consumer.workers.ready.popleft()
                        self._finished_one(consumer)
                        await self._guard(self.queue.release(message), sub, message, "release")

    async def _fetch(self, sub: Subscription, consumer: _Consumer) -> None:
        slots, workers = consumer.slots, consumer.workers
        while True:
            await slots.acquire()
            # Every free slot at once (bounded): one receive call leases a message for each.
            taken = 1
            while taken < MAX_RECEIVE_BATCH and slots.value > 0:
                slots.acquire_nowait()
                taken += 1
            messages = await self._guard(
                self.queue.receive_many(sub.queue, sub.settings.visibility_timeout_s, taken),
                sub, None, "receive") or []
            for _ in range(taken - len(messages)):
                slots.release()
            if not messages:
                consumer.caught_up = True  # publish may hand over new messages meanwhile
                try:
                    await self._guard(self.queue.wait(sub.queue, self._idle_wait_s), sub, None,
                                      "wait")
                finally:
                    consumer.caught_up = False
                continue
            if sub.fetching is not None and sub.fetching.cancel_called:
                # Replaced or unsubscribed while receiving (an adapter's receive need not yield):
                # the messages belong to whoever consumes the queue now.
                with anyio.CancelScope(shield=True):
                    for message in messages:
                        slots.release()
                        await self._guard(self.queue.release(message), sub, message, "release")
                return
            for message in messages:
                self._delivering += 1
                workers.ready.append(message)
                if not workers.idle.wake_one():
                    consumer.tg.start_soon(self._work, sub, consumer,
                                           name=f"motia.events worker {sub.queue}")

    async def _work(self, sub: Subscription, consumer: _Consumer) -> None:
        """Deliver the messages taken, one after another, then wait for more: a task per
        worker, not per message. Each message holds a slot until its outcome is settled, so a
        worker is started only when every live one is busy, and no more than ``concurrency``
        ever live."""
        workers = consumer.workers
        while True:
            while workers.ready:
                await self._handle(sub, workers.ready.popleft(), consumer)
            if workers.closed:
                return
            await workers.idle.park()

    def _finished_one(self, consumer: _Consumer) -> None:
        consumer.slots.release()
        self._delivering -= 1
        self._notify()

    async def _handle(self, sub: Subscription, message: QueueMessage,
                      consumer: _Consumer) -> None:
        try:
            if message.attempt > sub.settings.retry.max_attempts:
                # Only expired leases get here: deliveries that never reported back (a crash).
                await self._give_up(sub, message, ErrorInfo(
                    name="LeaseExpired",
                    message=f"attempt {message.attempt} is past the "
                            f"{sub.settings.retry.max_attempts} allowed: earlier deliveries "
                            f"ended without an outcome within the visibility timeout of "
                            f"{sub.settings.visibility_timeout_s:g}s (a crash or a hang)",
                ))
                return
            await self._deliver(sub, message)
        finally:
            self._finished_one(consumer)

    async def _deliver(self, sub: Subscription, message: QueueMessage) -> None:
        try:
            await sub.deliver(message.event, message.attempt)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._guard(self.queue.release(message), sub, message, "release")
            raise
        except Exception as exc:
            with anyio.CancelScope(shield=True):
                await self._failed(sub, message, exc)
            return
        with anyio.CancelScope(shield=True):
            if await self._guard(self.queue.ack(message), sub, message, "ack"):
                self._counters[sub.queue].delivered += 1
            else:
                self._lease_lost(sub, message, "ack")

    async def _failed(self, sub: Subscription, message: QueueMessage, exc: Exception) -> None:
        decision = sub.settings.retry.decide(message.attempt, exc)
        if not isinstance(decision, Retry):
            log.info("%s: %s", sub.queue, decision.reason, extra=_extra("give_up", sub, message))
            await self._give_up(sub, message, ErrorInfo.from_exception(exc))
            return
        if not await self._guard(self.queue.nack(message, decision.delay_s), sub, message, "nack"):
            self._lease_lost(sub, message, "nack")
            return
        self._counters[sub.queue].retries += 1
        level = logging.INFO if isinstance(exc, RetryLater) else logging.WARNING
        log.log(level, "%s: attempt %d of %d failed (%s: %s); retrying in %.1fs", sub.queue,
                message.attempt, sub.settings.retry.max_attempts, type(exc).__name__, exc,
                decision.delay_s, extra=_extra("retry", sub, message))

    async def _give_up(self, sub: Subscription, message: QueueMessage, error: ErrorInfo) -> None:
        letter = await self._guard(self.queue.dead_letter(message, error), sub, message,
                                   "dead_letter")
        if letter is None:
            self._lease_lost(sub, message, "dead_letter")
            return
        log.error("%s: event %s dead-lettered after %d attempt(s): %s: %s\n%s", sub.queue,
                  letter.event.id, letter.attempts, error.name, error.message,
                  error.stack or "", extra=_extra("dead_letter", sub, message))
        if self._on_dead_letter is None:
            return
        try:
            result = self._on_dead_letter(sub, letter)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s: the on_dead_letter hook failed", sub.queue,
                          extra=_extra("hook_failed", sub, message))

    async def _guard(self, call: Coroutine[Any, Any, T], sub: Subscription,
                     message: QueueMessage | None, op: str) -> T | None:
        """Run one adapter call; a failure is logged and becomes None, never a dead consumer.
        Safe because nothing is lost: an unacked message comes back when its lease runs out."""
        try:
            return await call
        except Exception:
            if message is not None:
                log.exception("%s: queue %s failed; the message comes back when its lease runs "
                              "out", sub.queue, op, extra=_extra("queue_error", sub, message))
                return None
            log.exception("%s: queue %s failed; trying again in %.1fs", sub.queue, op,
                          self._error_backoff_s, extra=_extra("queue_error", sub, message))
            await anyio.sleep(self._error_backoff_s)
            return None

    @staticmethod
    def _lease_lost(sub: Subscription, message: QueueMessage, op: str) -> None:
        log.warning("%s: could not %s event %s: its lease ran out and it will be (or was) "
                    "delivered again; raise infrastructure.queue.visibilityTimeout above the "
                    "handler's run time", sub.queue, op, message.event.id,
                    extra=_extra("lease_lost", sub, message))

    async def dead_letters(self, topic: str, step_name: str) -> list[DeadLetter]:
        """The dead letters of one step's subscription to ``topic``, oldest first."""
        return await self.queue.dead_letters(queue_name(topic, step_name))

    # --- waiting and metrics -----------------------------------------------------------------

    async def join(self, timeout_s: float = 30.0, *, include_delayed: bool = True) -> None:
        """Wait until every subscriber queue is empty and no delivery is under way.

        ``include_delayed=True`` also waits for delayed messages and pending retries; ``False``
        (``settle()``) only until nothing is runnable now. Step failures are not raised here
        (they are retried or dead-lettered); ``TimeoutError`` names what is still pending.
        Needs ``run()`` to be running, or nothing drains. Held queues (``hold``) are not waited
        for: nothing drains them until their step is subscribed again.
        """
        pending: dict[str, QueueCounts] = {}
        with anyio.move_on_after(timeout_s):
            while True:
                changed = self._activity_event()
                pending = await self._pending(include_delayed)
                if not pending and not self._delivering:
                    return
                with anyio.move_on_after(JOIN_RECHECK_S):
                    await changed.wait()
        raise TimeoutError(
            f"the event queues did not settle within {timeout_s:g}s; still pending: "
            + ", ".join(f"{q} {msgspec.structs.asdict(c)}" for q, c in pending.items())
            + (f"; {self._delivering} delivery(ies) under way" if self._delivering else "")
        )

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing is runnable now (delayed messages and retries may remain)."""
        await self.join(timeout_s, include_delayed=False)

    async def _pending(self, include_delayed: bool) -> dict[str, QueueCounts]:
        pending: dict[str, QueueCounts] = {}
        for sub in self.subscriptions():
            if sub.held:
                continue
            counts = await self.queue.counts(sub.queue)
            if counts.ready or counts.in_flight or (include_delayed and counts.delayed):
                pending[sub.queue] = counts
        return pending

    async def metrics(self) -> dict[str, QueueMetrics]:
        """Per subscriber queue: depth, in flight, retries, dead letters, delivered."""
        result: dict[str, QueueMetrics] = {}
        for sub in self.subscriptions():
            counts = await self.queue.counts(sub.queue)
            counters = self._counters[sub.queue]
            result[sub.queue] = QueueMetrics(
                queue=sub.queue, topic=sub.topic, step=sub.step_name,
                depth=counts.ready + counts.delayed, in_flight=counts.in_flight,
                retries=counters.retries, dead_letters=counts.dead_letters,
                delivered=counters.delivered)
        return result

    def _activity_event(self) -> anyio.Event:
        if self._activity is None:
            self._activity = anyio.Event()
        return self._activity

    def _notify(self) -> None:
        if self._activity is not None:
            self._activity.set()
            self._activity = None


def _extra(action: str, sub: Subscription, message: QueueMessage | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"action": f"event_{action}", "step": sub.step_name,
                             "topic": sub.topic, "queue": sub.queue}
    if message is not None:
        extra.update(trace_id=message.event.trace_id, event_id=message.event.id,
                     attempt=message.attempt)
    return extra
