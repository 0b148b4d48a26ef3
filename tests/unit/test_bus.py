"""The event bus over every queue adapter (memory, SQLite on a real file in tmp_path, and Redis
under a key prefix of each test's own), with real anyio tasks, and the retry policy.

Assertions on ``MemoryQueue.operations`` hold for the memory adapter only; each such test also
checks the same outcome through the adapter-neutral interface (counts, metrics, calls).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import msgspec
import pytest

from motia_core.events import (
    DeadLetter,
    Enqueue,
    Event,
    EventBus,
    GiveUp,
    MemoryQueue,
    QueueAdapter,
    QueueCounts,
    QueueMessage,
    QueueSettingsError,
    Retry,
    RetryLater,
    RetryPolicy,
    SqliteQueue,
    Subscription,
    SubscriptionSettings,
    dlq,
    open_queue,
)
from motia_core.events.base import now_ms
from motia_core.protocol.errors import HandlerError

pytestmark = pytest.mark.anyio

BOUND_S = 10.0  # generous bound on every wait: a hang fails, a slow machine does not
FAST = RetryPolicy(max_retries=2, delay_s=0.01)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueAdapter]:
    if request.param == "redis":
        adapter = open_queue("redis", tmp_path, redis_url=request.getfixturevalue("redis_url"),
                             redis_prefix=request.getfixturevalue("redis_prefix"))
    else:
        adapter = open_queue(request.param, tmp_path / ".motia")
    try:
        yield adapter
    finally:
        await adapter.aclose()


def event(topic: str = "order.created", n: int = 0, group: str | None = None) -> Event:
    return Event(topic=topic, data={"n": n}, trace_id="K7M2Q-5123456", message_group_id=group)


class Recorder:
    """A deliver function that records (event n, attempt) and fails its first ``fail`` calls."""

    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail = fail
        self.error = error or ValueError("boom")

    async def __call__(self, event: Event, attempt: int) -> None:
        self.calls.append((event.data["n"], attempt))
        await anyio.lowlevel.checkpoint()
        if len(self.calls) <= self.fail:
            raise self.error


@asynccontextmanager
async def running(bus: EventBus) -> AsyncIterator[EventBus]:
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(bus.run)
            try:
                yield bus
            finally:
                await bus.stop(grace_s=1.0)


async def test_one_delivery_per_subscribing_step(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    bus.subscribe("order.created", "notify", step)
    async with running(bus):
        assert await bus.publish(event(n=1)) == 1
        assert await bus.publish(event("nobody.listens")) == 0
        await bus.join(BOUND_S)
    assert step.calls == [(1, 1)]
    assert (await bus.metrics())["order.created.notify"].delivered == 1


async def test_fan_out_gives_each_step_its_own_copy(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    steps = {name: Recorder() for name in ("a", "b", "c", "other")}
    for name in ("a", "b", "c"):
        bus.subscribe("order.created", name, steps[name])
    bus.subscribe("order.paid", "other", steps["other"])
    assert sorted(bus.topics()) == ["order.created", "order.paid"]
    async with running(bus):
        assert await bus.publish(event(n=5)) == 3
        await bus.join(BOUND_S)
    assert {name: r.calls for name, r in steps.items()} == {
        "a": [(5, 1)], "b": [(5, 1)], "c": [(5, 1)], "other": []}


async def test_a_failing_step_is_retried_then_dead_lettered_with_its_error(
    queue: QueueAdapter, caplog: pytest.LogCaptureFixture,
) -> None:
    letters: list[tuple[Subscription, DeadLetter]] = []

    async def on_dead_letter(sub: Subscription, letter: DeadLetter) -> None:
        letters.append((sub, letter))

    bus = EventBus(queue, on_dead_letter=on_dead_letter)
    step = Recorder(fail=100)
    sub = bus.subscribe("order.created", "notify", step, SubscriptionSettings(retry=FAST))
    sent = event(n=3)
    with caplog.at_level(logging.INFO, logger="motia.events"):
        async with running(bus):
            await bus.publish(sent)
            await bus.join(BOUND_S)

    assert step.calls == [(3, 1), (3, 2), (3, 3)]  # max_retries=2: three attempts in all
    assert await bus.dead_letters("order.created", "notify") == await queue.dead_letters(sub.queue)
    [letter] = await queue.dead_letters(sub.queue)
    assert (letter.event, letter.attempts) == (sent, 3)
    assert (letter.error.name, letter.error.message) == ("ValueError", "boom")
    assert letter.error.stack and "boom" in letter.error.stack
    assert letters == [(sub, letter)]
    metrics = (await bus.metrics())[sub.queue]
    assert (metrics.retries, metrics.dead_letters, metrics.delivered, metrics.depth) == (2, 1, 0, 0)
    actions = [getattr(r, "action", None) for r in caplog.records]
    assert actions.count("event_retry") == 2 and "event_dead_letter" in actions


async def test_a_step_failing_twice_then_succeeding_is_delivered_three_times(
    queue: QueueAdapter,
) -> None:
    bus = EventBus(queue)
    step = Recorder(fail=2)
    sub = bus.subscribe("order.created", "notify", step,
                        SubscriptionSettings(retry=RetryPolicy(delay_s=0.01,
                                                               backoff="exponential")))
    async with running(bus):
        await bus.publish(event())
        await bus.join(BOUND_S)  # join also waits for the delayed retries
    assert step.calls == [(0, 1), (0, 2), (0, 3)]
    assert await queue.dead_letters(sub.queue) == []
    assert (await bus.metrics())[sub.queue].retries == 2


async def test_runner_errors_and_hooks_that_fail(queue: QueueAdapter) -> None:
    """The dead letter keeps the user's error from the runner; a broken hook is contained."""

    def broken_hook(sub: Subscription, letter: DeadLetter) -> None:
        raise RuntimeError("hook bug")

    bus = EventBus(queue, on_dead_letter=broken_hook)
    remote = HandlerError("TypeError: x", {"name": "TypeError", "message": "x", "stack": "at f"})
    sub = bus.subscribe("order.created", "notify", Recorder(fail=1, error=remote),
                        SubscriptionSettings(retry=RetryPolicy(max_retries=0)))
    async with running(bus):
        await bus.publish(event())
        await bus.join(BOUND_S)
        [letter] = await queue.dead_letters(sub.queue)
        assert (letter.error.name, letter.error.message, letter.error.stack) == (
            "TypeError", "x", "at f")
        # The consumer survived the hook's error and still delivers.
        await bus.publish(event(n=1))
        await bus.join(BOUND_S)
    if isinstance(queue, MemoryQueue):
        assert [m.op for m in queue.operations if m.op == "ack"] == ["ack"]
    assert (await bus.metrics())[sub.queue].delivered == 1


async def test_fifo_keeps_order_per_group_and_runs_groups_in_parallel(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    order: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    active: dict[str, int] = {"a": 0, "b": 0}
    b_started = anyio.Event()
    failed_once: set[int] = set()

    async def deliver(event: Event, attempt: int) -> None:
        group = event.message_group_id
        assert group is not None
        active[group] += 1
        assert active[group] == 1, "two events of one group in flight"
        order[group].append((event.data["n"], attempt))
        try:
            if group == "a" and event.data["n"] == 0:
                # Deadlocks unless group b runs while a's head is in flight.
                await b_started.wait()
                if 0 not in failed_once:
                    failed_once.add(0)
                    raise ValueError("fail the head once: it must stay first in its group")
            if group == "b":
                b_started.set()
            await anyio.sleep(0.005)
        finally:
            active[group] -= 1

    bus.subscribe("order.created", "ship", deliver,
                  SubscriptionSettings(fifo=True, retry=FAST, concurrency=4))
    async with running(bus):
        for n in range(5):
            await bus.publish(event(n=n, group="a"))
            await bus.publish(event(n=n, group="b"))
        await bus.join(BOUND_S)
    assert order["a"] == [(0, 1), (0, 2), (1, 1), (2, 1), (3, 1), (4, 1)]
    assert order["b"] == [(n, 1) for n in range(5)]


async def test_standard_subscriptions_ignore_message_groups(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    both_in_flight = anyio.Event()
    in_flight = 0

    async def deliver(event: Event, attempt: int) -> None:
        nonlocal in_flight
        in_flight += 1
        if in_flight == 2:
            both_in_flight.set()
        await both_in_flight.wait()  # deadlocks if the group serialised them

    bus.subscribe("order.created", "notify", deliver)
    async with running(bus):
        await bus.publish(event(n=0, group="g"))
        await bus.publish(event(n=1, group="g"))
        await bus.join(BOUND_S)


async def test_the_concurrency_cap_is_honoured(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    active = peak = 0
    cap_reached = anyio.Event()

    async def deliver(event: Event, attempt: int) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 3:
            cap_reached.set()
        await cap_reached.wait()  # the first three block until the cap is reached
        await anyio.lowlevel.checkpoint()
        active -= 1

    bus.subscribe("order.created", "notify", deliver, SubscriptionSettings(concurrency=3))
    async with running(bus):
        for n in range(12):
            await bus.publish(event(n=n))
        await bus.join(BOUND_S)
    assert peak == 3


async def test_delay_holds_the_first_delivery(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    delivered_at: list[int] = []

    async def deliver(event: Event, attempt: int) -> None:
        delivered_at.append(now_ms())

    bus.subscribe("order.created", "notify", deliver, SubscriptionSettings(delay_s=0.05))
    sent = event()
    async with running(bus):
        await bus.publish(sent)
        await bus.join(BOUND_S)
    assert len(delivered_at) == 1
    assert delivered_at[0] >= sent.emitted_at_ms + 50


async def test_settle_returns_while_join_waits_for_delayed_messages(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    sub = bus.subscribe("order.created", "notify", step, SubscriptionSettings(delay_s=5.0))
    async with running(bus):
        await bus.publish(event())
        await bus.settle(BOUND_S)  # nothing runnable now
        assert step.calls == []
        with pytest.raises(TimeoutError, match=r"order\.created\.notify"):
            await bus.join(0.05)
        assert (await bus.queue.counts(sub.queue)).delayed == 1


async def test_join_waits_for_a_whole_chain(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    seen: list[str] = []

    async def first(event: Event, attempt: int) -> None:
        seen.append("first")
        await bus.publish(Event(topic="second", data=None, trace_id=event.trace_id))

    async def second(event: Event, attempt: int) -> None:
        await anyio.sleep(0.01)
        seen.append("second")

    bus.subscribe("first", "one", first)
    bus.subscribe("second", "two", second)
    async with running(bus):
        await bus.publish(Event(topic="first", trace_id="T"))
        await bus.join(BOUND_S)
        assert seen == ["first", "second"]


async def test_a_message_held_by_a_crashed_consumer_is_delivered_again(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    sub = bus.subscribe("order.created", "notify", step,
                        SubscriptionSettings(visibility_timeout_s=30))
    await bus.publish(event(n=9))
    crashed = await queue.receive(sub.queue, visibility_timeout_s=0.05)  # and never acks
    assert crashed is not None
    async with running(bus):
        await bus.join(BOUND_S)
    assert step.calls == [(9, 2)]


async def test_a_delivery_past_its_lease_is_redelivered_and_its_late_ack_ignored(
    queue: QueueAdapter,
) -> None:
    bus = EventBus(queue)
    calls: list[int] = []
    second_done = anyio.Event()

    async def deliver(event: Event, attempt: int) -> None:
        calls.append(attempt)
        if attempt == 1:
            await second_done.wait()  # hangs past its 0.05 s lease
        else:
            second_done.set()

    sub = bus.subscribe("order.created", "notify", deliver,
                        SubscriptionSettings(visibility_timeout_s=0.05))
    async with running(bus):
        await bus.publish(event())
        await bus.join(BOUND_S)
    assert calls == [1, 2]
    if isinstance(queue, MemoryQueue):
        assert [op.op for op in queue.operations][-2:] == ["ack", "stale"]
    assert (await bus.metrics())[sub.queue].delivered == 1  # the late ack did not count
    assert await queue.counts(sub.queue) == QueueCounts()


async def test_leases_that_keep_expiring_end_in_the_dead_letters(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    sub = bus.subscribe("order.created", "notify", step,
                        SubscriptionSettings(retry=RetryPolicy(max_retries=0)))
    await bus.publish(event())
    assert await queue.receive(sub.queue, visibility_timeout_s=0.01) is not None  # crash
    async with running(bus):
        await bus.join(BOUND_S)
    assert step.calls == []
    [letter] = await queue.dead_letters(sub.queue)
    assert letter.error.name == "LeaseExpired" and letter.attempts == 2


async def test_unsubscribe_stops_deliveries_and_keeps_queued_messages(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    kept, dropped = Recorder(), Recorder()
    bus.subscribe("order.created", "kept", kept)
    bus.subscribe("order.created", "dropped", dropped)
    async with running(bus):
        await bus.publish(event(n=0))
        await bus.join(BOUND_S)
        assert bus.unsubscribe("order.created", "dropped") is True
        assert bus.unsubscribe("order.created", "dropped") is False
        assert await bus.publish(event(n=1)) == 1
        await bus.join(BOUND_S)
    assert kept.calls == [(0, 1), (1, 1)]
    assert dropped.calls == [(0, 1)]
    assert [s.step_name for s in bus.subscriptions("order.created")] == ["kept"]


async def until(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds (a state of the bus's tasks, not an awaitable event)."""
    with anyio.fail_after(BOUND_S):
        while not condition():
            await anyio.sleep(0.001)


async def caught_up(sub: Subscription) -> None:
    """Until ``sub``'s consumer waits for its queue, having found it empty."""
    await until(lambda: sub.consumer is not None and sub.consumer.caught_up)


async def test_a_caught_up_consumer_takes_a_new_event_without_a_receive(
    queue: QueueAdapter, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus = EventBus(queue)
    step = Recorder()
    sub = bus.subscribe("order.created", "notify", step)
    receives: list[str] = []
    receive_many = queue.receive_many

    async def counted(name: str, visibility_timeout_s: float, count: int) -> list[QueueMessage]:
        receives.append(name)
        return await receive_many(name, visibility_timeout_s, count)

    monkeypatch.setattr(queue, "receive_many", counted)
    async with running(bus):
        await caught_up(sub)
        before = len(receives)
        await bus.publish(event(n=1))
        await bus.join(BOUND_S)
        if isinstance(queue, SqliteQueue):  # leased as it was written, handed to the worker
            assert len(receives) == before
    assert step.calls == [(1, 1)]
    assert await queue.counts(sub.queue) == QueueCounts()


async def test_a_consumer_stopping_while_publish_writes_leaves_the_event_queued(
    queue: QueueAdapter, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus = EventBus(queue)
    step = Recorder()
    sub = bus.subscribe("order.created", "notify", step)
    enqueue_leased = queue.enqueue_leased

    async def unsubscribed_meanwhile(items: list[Enqueue], lease_s: list[float | None],
                                     ) -> list[QueueMessage | None]:
        consumer = sub.consumer
        assert consumer is not None
        bus.unsubscribe("order.created", "notify")
        await until(lambda: consumer.workers.closed)
        return await enqueue_leased(items, lease_s)

    monkeypatch.setattr(queue, "enqueue_leased", unsubscribed_meanwhile)
    async with running(bus):
        await caught_up(sub)
        assert await bus.publish(event(n=1)) == 1
        assert step.calls == []
        assert await queue.counts(sub.queue) == QueueCounts(ready=1)  # back, not lost
        bus.subscribe("order.created", "notify", step)
        await bus.join(BOUND_S)
    assert step.calls == [(1, 1)]  # a release does not count as an attempt


async def test_a_held_subscription_queues_events_until_subscribed_again(
        queue: QueueAdapter) -> None:
    """A step that failed to reload (motia dev): its events wait, then go to the fixed version."""
    bus = EventBus(queue)
    broken, fixed = Recorder(), Recorder()
    sub = bus.subscribe("order.created", "notify", broken)
    async with running(bus):
        assert bus.hold("order.created", "notify") is True
        assert bus.hold("order.created", "nobody") is False
        assert await bus.publish(event(n=1)) == 1  # still counted: it will be delivered
        await bus.join(BOUND_S)  # a held queue does not keep join waiting
        assert (await queue.counts(sub.queue)).ready == 1
        assert broken.calls == []
        bus.subscribe("order.created", "notify", fixed)
        await bus.join(BOUND_S)
    assert fixed.calls == [(1, 1)]


async def test_a_held_subscription_is_not_started_by_run(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    bus.subscribe("order.created", "notify", step)
    bus.hold("order.created", "notify")
    await bus.publish(event(n=2))
    async with running(bus):
        await bus.join(BOUND_S)
        assert step.calls == []
        bus.subscribe("order.created", "notify", step)
        await bus.join(BOUND_S)
    assert step.calls == [(2, 1)]


async def test_resubscribing_hands_pending_retries_to_the_new_handler(queue: QueueAdapter) -> None:
    """Hot reload: the queue, and the retry waiting in it, go to the new deliver function."""
    bus = EventBus(queue)
    old = Recorder(fail=1)
    new = Recorder()
    slow_retry = SubscriptionSettings(retry=RetryPolicy(delay_s=0.2))
    sub = bus.subscribe("order.created", "notify", old, slow_retry)
    async with running(bus):
        await bus.publish(event())
        await bus.settle(BOUND_S)  # the first attempt failed; its retry is waiting
        assert (await queue.counts(sub.queue)).delayed == 1
        bus.subscribe("order.created", "notify", new, slow_retry)
        await bus.join(BOUND_S)
    assert old.calls == [(0, 1)]
    assert new.calls == [(0, 2)]


async def test_after_resubscribing_the_next_event_goes_to_the_new_handler(
    queue: QueueAdapter,
) -> None:
    """The old consumer may be inside receive() when it is replaced: it must hand back what it
    got rather than deliver it to the old handler."""
    bus = EventBus(queue)
    old, new = Recorder(), Recorder()
    bus.subscribe("order.created", "notify", old)
    async with running(bus):
        await bus.join(BOUND_S)
        bus.subscribe("order.created", "notify", new)
        await bus.publish(event())
        await bus.join(BOUND_S)
    assert old.calls == []
    assert new.calls == [(0, 1)]


async def test_stop_lets_deliveries_finish_or_returns_their_messages(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    started = anyio.Event()
    step_calls: list[int] = []

    async def hangs(event: Event, attempt: int) -> None:
        step_calls.append(attempt)
        started.set()
        await anyio.sleep_forever()

    sub = bus.subscribe("order.created", "notify", hangs)
    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(bus.run)
            await bus.publish(event())
            await started.wait()
            await bus.stop(grace_s=0.01)  # the delivery does not finish: it is cancelled
    # Nothing lost: the message is back, with its attempt not counted.
    assert await queue.counts(sub.queue) == QueueCounts(ready=1)
    if isinstance(queue, MemoryQueue):
        assert [op.op for op in queue.operations][-1] == "release"

    finisher = Recorder()
    bus.subscribe("order.created", "notify", finisher)
    async with running(bus):  # a bus can run again, as after a restart
        await bus.join(BOUND_S)
    assert finisher.calls == [(0, 1)]


async def test_subscribing_while_running_starts_a_consumer(queue: QueueAdapter) -> None:
    bus = EventBus(queue)
    step = Recorder()
    async with running(bus):
        bus.subscribe("order.created", "late", step)
        await bus.publish(event())
        await bus.join(BOUND_S)
        with pytest.raises(RuntimeError, match="already running"):
            await bus.run()
    assert step.calls == [(0, 1)]


async def test_a_dead_letter_replayed_after_the_fix_is_delivered_under_its_trace(
    queue: QueueAdapter,
) -> None:
    """The issue's loop: a step always fails and ends in the dead letters; once fixed (here by
    a restart with the new handler), ``motia dlq replay`` delivers the event from attempt 1."""
    seen: list[tuple[str, int]] = []

    async def fixed(event: Event, attempt: int) -> None:
        seen.append((event.trace_id, attempt))

    bus = EventBus(queue)
    bus.subscribe("order.created", "notify", Recorder(fail=100), SubscriptionSettings(retry=FAST))
    sent = event(n=4)
    async with running(bus):
        await bus.publish(sent)
        await bus.join(BOUND_S)
    [row] = await dlq.list_dead_letters(queue)
    assert (row["step"], row["attempts"], row["traceId"]) == ("notify", 3, sent.trace_id)
    bus.subscribe("order.created", "notify", fixed, SubscriptionSettings(retry=FAST))
    await dlq.replay(queue, None, row["id"])
    async with running(bus):
        await bus.join(BOUND_S)
    assert seen == [(sent.trace_id, 1)]
    assert await dlq.list_dead_letters(queue) == []


# --- the retry policy ------------------------------------------------------------------------


def test_max_retries_counts_retries_after_the_first_attempt() -> None:
    policy = RetryPolicy()  # maxRetries 3, fixed 2 s, as BullMQ in the original
    error = ValueError("x")
    assert policy.max_attempts == 4
    assert [policy.decide(a, error) for a in (1, 2, 3)] == [Retry(2.0)] * 3
    assert isinstance(policy.decide(4, error), GiveUp)
    assert isinstance(RetryPolicy(max_retries=0).decide(1, error), GiveUp)


def test_exponential_backoff_grows_to_its_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(delay_s=1.0, backoff="exponential", max_delay_s=5.0)
    assert [policy.delay_for(a) for a in (1, 2, 3, 4, 500)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittery = RetryPolicy(delay_s=2.0, jitter=0.5)
    assert jittery.delay_for(1, rand=lambda: 0.0) == 2.0
    assert jittery.delay_for(1, rand=lambda: 1.0) == 1.0


def test_give_up_on_and_retry_later() -> None:
    policy = RetryPolicy(give_up_on=(KeyError,))
    assert isinstance(policy.decide(1, KeyError("k")), GiveUp)
    assert policy.decide(1, RetryLater(0.5)) == Retry(0.5)
    assert isinstance(policy.decide(4, RetryLater(0.5)), GiveUp)


def test_settings_from_infrastructure_queue() -> None:
    assert SubscriptionSettings.from_queue_settings(None) == SubscriptionSettings()
    settings = SubscriptionSettings.from_queue_settings({
        "type": "fifo", "maxRetries": 5, "visibilityTimeout": 60, "delaySeconds": 1.5,
        "concurrency": 2, "backoff": "exponential", "retryDelaySeconds": 0.5, "jitter": 0.1,
    })
    assert settings == SubscriptionSettings(
        fifo=True, concurrency=2, visibility_timeout_s=60.0, delay_s=1.5,
        retry=RetryPolicy(max_retries=5, delay_s=0.5, backoff="exponential", jitter=0.1))


def test_settings_from_a_typed_step_config() -> None:
    class QueueConfig(msgspec.Struct, rename="camel"):
        type: str = "fifo"
        max_retries: int = 1
        visibility_timeout: float = 30
        concurrency: int | None = None
        retry_delay_seconds: float | None = None
        message_group_id: str | None = None

    class EventStep:
        queue = QueueConfig()

    class ApiStep:
        queue = None

    assert SubscriptionSettings.from_step(EventStep()) == SubscriptionSettings(
        fifo=True, visibility_timeout_s=30.0, retry=RetryPolicy(max_retries=1))
    assert SubscriptionSettings.from_step(ApiStep()) == SubscriptionSettings()


@pytest.mark.parametrize(("queue", "field"), [
    ({"maxRetries": -1}, "maxRetries"),
    ({"maxRetries": 1.5}, "maxRetries"),
    ({"maxRetries": True}, "maxRetries"),
    ({"type": "priority"}, "type"),
    ({"concurrency": 0}, "concurrency"),
    ({"visibilityTimeout": "15m"}, "visibilityTimeout"),
    ({"visibilityTimeout": 0}, "visibilityTimeout"),
    ({"delaySeconds": 901}, "delaySeconds"),
    ({"backoff": "linear"}, "backoff"),
    ({"jitter": 2}, "jitter"),
    ({"retryDelaySeconds": float("inf")}, "retryDelaySeconds"),
])
def test_bad_queue_settings_name_the_field(queue: dict[str, object], field: str) -> None:
    with pytest.raises(QueueSettingsError, match=rf"infrastructure\.queue\.{field} "):
        SubscriptionSettings.from_queue_settings(queue)
