"""The queue adapter contract, run against the in-memory adapter.

Written against ``QueueAdapter`` only (plus ``MemoryQueue`` helpers in the last tests), so the
durable adapters can join the ``queue`` fixture's parameters and pass the same suite.
"""

from __future__ import annotations

import anyio
import msgspec
import pytest

from motia_core.errors import HandlerError
from motia_core.events import (
    Enqueue,
    ErrorInfo,
    Event,
    MemoryQueue,
    QueueAdapter,
    QueueCounts,
    QueueMessage,
    queue_name,
)
from motia_core.events.base import now_ms

pytestmark = pytest.mark.anyio

Q = "order.created.notify"
BOUND_S = 10.0  # generous bound on every wait: a hang fails, a slow machine does not


@pytest.fixture(params=["memory"])
def queue(request: pytest.FixtureRequest) -> QueueAdapter:
    return MemoryQueue()


def event(n: int = 0, group: str | None = None) -> Event:
    return Event(topic="order.created", data={"n": n}, trace_id="K7M2Q-5123456",
                 message_group_id=group)


async def receive_when_ready(queue: QueueAdapter, visibility_timeout_s: float = 30.0,
                             name: str = Q) -> QueueMessage:
    """Receive, waiting through ``wait`` (never a sleep) until a message is visible."""
    with anyio.fail_after(BOUND_S):
        while True:
            message = await queue.receive(name, visibility_timeout_s)
            if message is not None:
                return message
            await queue.wait(name, BOUND_S)


async def test_a_received_message_is_leased_until_acked(queue: QueueAdapter) -> None:
    sent = event(1)
    message_id = await queue.enqueue(Q, sent)
    assert await queue.counts(Q) == QueueCounts(ready=1)

    message = await queue.receive(Q, 30)
    assert message is not None
    assert (message.id, message.queue, message.event, message.attempt) == (message_id, Q, sent, 1)
    assert message.receipt
    assert await queue.receive(Q, 30) is None  # hidden while leased
    assert await queue.counts(Q) == QueueCounts(in_flight=1)

    assert await queue.ack(message) is True
    assert await queue.counts(Q) == QueueCounts()
    assert await queue.ack(message) is False  # already gone


async def test_an_unknown_queue_is_empty(queue: QueueAdapter) -> None:
    assert await queue.receive("nobody.listens", 1) is None
    assert await queue.counts("nobody.listens") == QueueCounts()
    assert await queue.depth("nobody.listens") == 0
    assert await queue.dead_letters("nobody.listens") == []


async def test_messages_come_out_in_order(queue: QueueAdapter) -> None:
    await queue.enqueue_many([Enqueue(queue=Q, event=event(n)) for n in range(5)])
    assert await queue.depth(Q) == 5
    received = [await queue.receive(Q, 30) for _ in range(5)]
    assert [m.event.data["n"] for m in received if m is not None] == [0, 1, 2, 3, 4]


async def test_a_delayed_message_becomes_visible_later(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event(), delay_s=0.05)
    assert await queue.receive(Q, 30) is None
    assert (await queue.counts(Q)).delayed == 1
    message = await receive_when_ready(queue)
    assert message.attempt == 1
    assert message.enqueued_at_ms + 50 <= now_ms()


async def test_nack_counts_the_attempt_and_delays_the_message(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event())
    first = await receive_when_ready(queue)
    assert await queue.nack(first, delay_s=0.05) is True
    assert await queue.receive(Q, 30) is None
    second = await receive_when_ready(queue)
    assert (second.id, second.attempt) == (first.id, 2)
    assert second.receipt != first.receipt
    assert await queue.nack(first) is False  # the old lease is stale


async def test_release_makes_it_visible_now_without_counting(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event())
    first = await receive_when_ready(queue)
    assert await queue.release(first) is True
    again = await queue.receive(Q, 30)
    assert again is not None
    assert (again.id, again.attempt) == (first.id, 1)


async def test_an_expired_lease_is_delivered_again(queue: QueueAdapter) -> None:
    """A consumer that dies holding a message loses nothing: the lease runs out."""
    await queue.enqueue(Q, event())
    crashed = await receive_when_ready(queue, visibility_timeout_s=0.05)
    redelivered = await receive_when_ready(queue)  # `wait` wakes when the lease runs out
    assert (redelivered.id, redelivered.attempt) == (crashed.id, 2)
    assert await queue.ack(crashed) is False  # the first consumer's outcome no longer counts
    assert await queue.dead_letter(crashed, ErrorInfo(message="late")) is None
    assert await queue.ack(redelivered) is True
    assert await queue.counts(Q) == QueueCounts()


async def test_fifo_groups_keep_order_and_one_in_flight(queue: QueueAdapter) -> None:
    for n, group in enumerate(["a", "a", "b", "a", None]):
        await queue.enqueue(Q, event(n, group), group_id=group)

    def ns(*messages: QueueMessage | None) -> list[int]:
        return [m.event.data["n"] for m in messages if m is not None]

    a0, b2, free = [await queue.receive(Q, 30) for _ in range(3)]
    assert ns(a0, b2, free) == [0, 2, 4]  # the heads of a and b, and the ungrouped one
    assert await queue.receive(Q, 30) is None  # a1 waits for a0

    assert a0 is not None
    await queue.nack(a0, delay_s=0.05)  # a failed head keeps its place and blocks its group
    assert await queue.receive(Q, 30) is None
    a0_again = await receive_when_ready(queue)
    assert ns(a0_again) == [0]
    assert a0_again.group_id == "a"
    await queue.ack(a0_again)
    a1 = await queue.receive(Q, 30)
    assert ns(a1) == [1]
    assert await queue.receive(Q, 30) is None
    assert a1 is not None
    await queue.ack(a1)
    assert ns(await queue.receive(Q, 30)) == [3]


async def test_dead_letters_keep_the_error_and_can_be_replayed(queue: QueueAdapter) -> None:
    sent = event(7, group="g")
    await queue.enqueue(Q, sent, group_id="g")
    first = await receive_when_ready(queue)
    await queue.nack(first)
    second = await receive_when_ready(queue)
    error = ErrorInfo(message="boom", name="ValueError", stack="Traceback ...")
    letter = await queue.dead_letter(second, error)
    assert letter is not None
    assert (letter.id, letter.queue, letter.event, letter.attempts, letter.error) == (
        first.id, Q, sent, 2, error)
    assert await queue.dead_letters(Q) == [letter]
    assert await queue.counts(Q) == QueueCounts(dead_letters=1)

    assert await queue.replay_dead_letter(Q, "no-such-id") is False
    assert await queue.replay_dead_letter(Q, letter.id) is True
    assert await queue.dead_letters(Q) == []
    replayed = await receive_when_ready(queue)
    assert (replayed.event, replayed.attempt, replayed.group_id) == (sent, 1, "g")

    await queue.dead_letter(replayed, error)
    assert await queue.purge_dead_letters(Q) == 1
    assert await queue.counts(Q) == QueueCounts()


async def test_wait_wakes_on_enqueue_from_another_task(queue: QueueAdapter) -> None:
    woke = anyio.Event()

    async def waiter() -> None:
        await queue.wait(Q, 60)  # far beyond the bound below: only the enqueue can wake it
        woke.set()

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert not woke.is_set()
            await queue.enqueue(Q, event())
            await woke.wait()


async def test_wait_wakes_when_a_group_head_is_acked(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event(0, "g"), group_id="g")
    await queue.enqueue(Q, event(1, "g"), group_id="g")
    head = await receive_when_ready(queue)
    woke = anyio.Event()

    async def waiter() -> None:
        await queue.wait(Q, 60)
        woke.set()

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert not woke.is_set()  # the second message is blocked behind the head
            await queue.ack(head)
            await woke.wait()
    assert (await receive_when_ready(queue)).event.data == {"n": 1}


async def test_wait_returns_at_once_when_something_is_visible(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event())
    with anyio.fail_after(BOUND_S):
        await queue.wait(Q, 60)


async def test_memory_helpers_log_and_reset() -> None:
    queue = MemoryQueue()
    await queue.enqueue(Q, event())
    message = await receive_when_ready(queue)
    await queue.ack(message)
    await queue.ack(message)
    assert [(op.op, op.attempt) for op in queue.operations] == [
        ("enqueue", 1), ("receive", 1), ("ack", 1), ("stale", 1)]
    await queue.enqueue(Q, event(2))
    assert [m.event.data for m in queue.messages(Q)] == [{"n": 2}]
    assert queue.queues() == [Q]
    queue.reset()
    assert queue.messages(Q) == [] and list(queue.operations) == []


def test_events_round_trip_in_camel_case() -> None:
    sent = Event(topic="t", data=[1, {"x": None}], trace_id="T", parent_span_id="s",
                 flows=["f"], message_group_id="g")
    wire = msgspec.json.decode(msgspec.json.encode(sent))
    assert {"traceId", "parentSpanId", "messageGroupId", "emittedAtMs", "id"} <= set(wire)
    assert msgspec.json.decode(msgspec.json.encode(sent), type=Event) == sent
    assert len(sent.id) == 32 and sent.id != Event(topic="t", trace_id="T").id
    assert queue_name("t", "step") == "t.step"


def test_error_info_prefers_the_runners_error() -> None:
    remote = HandlerError("ValueError: bad", {"name": "ValueError", "message": "bad",
                                              "stack": "Traceback (user frames)"})
    assert ErrorInfo.from_exception(remote) == ErrorInfo(
        message="bad", name="ValueError", stack="Traceback (user frames)")
    try:
        raise KeyError("missing")
    except KeyError as exc:
        local = ErrorInfo.from_exception(exc)
    assert local.name == "KeyError" and local.stack and "missing" in local.stack

