"""The queue adapter contract, run against every adapter: memory, SQLite on a real file, and
Redis on the server of MOTIA_TEST_REDIS_URL under a key prefix of each test's own.

The first part is written against ``QueueAdapter`` only and parametrised over the adapters: what
passes for memory must pass for SQLite and Redis. Then the dead-letter tooling
(motia_core/events/dlq.py) on every adapter, what only SQLite has (durability, several
connections and processes on one file, schema and file errors), the memory adapter's helpers and
the factory. Several Redis instances sharing one queue: tests/integration/test_redis_queue.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import msgspec
import pytest

from motia_core.events import (
    SQLITE_FILENAME,
    Enqueue,
    ErrorInfo,
    Event,
    MemoryQueue,
    QueueAdapter,
    QueueClosed,
    QueueCounts,
    QueueError,
    QueueMessage,
    SqliteQueue,
    UnknownQueueAdapter,
    dlq,
    open_queue,
    queue_name,
)
from motia_core.events.base import now_ms
from motia_core.events.redis import RedisQueue
from motia_core.protocol.errors import HandlerError

pytestmark = pytest.mark.anyio

Q = "order.created.notify"
BOUND_S = 10.0  # generous bound on every wait: a hang fails, a slow machine does not
# A delay that a check made right after the enqueue sees still running, however busy the machine.
DELAY_S = 1.0


KINDS = ("memory", "sqlite", "redis")


@pytest.fixture(params=KINDS)
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


def _sibling(queue: QueueAdapter) -> QueueAdapter:
    """Another adapter on the same store, as another process would open it (memory: itself)."""
    if isinstance(queue, SqliteQueue):
        return SqliteQueue(queue.path)
    if isinstance(queue, RedisQueue):
        return RedisQueue(queue.url, prefix=queue.prefix)
    return queue


async def test_enqueue_once_adds_one_message_per_key_across_adapters(queue: QueueAdapter,
                                                                    ) -> None:
    adapters = [queue, _sibling(queue), _sibling(queue)]
    taken: list[str | None] = []

    async def claim(adapter: QueueAdapter, key: str) -> None:
        taken.append(await adapter.enqueue_once(key, 60, Q, event(int(key[-1]))))

    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                for n in range(5):
                    for adapter in adapters:  # every "instance" tries every tick
                        tg.start_soon(claim, adapter, f"cron:Tick:{n}")
    finally:
        for adapter in adapters[1:]:
            if adapter is not queue:
                await adapter.aclose()
    assert len([t for t in taken if t is not None]) == 5
    assert taken.count(None) == 10
    assert await queue.depth(Q) == 5
    got = sorted([(await receive_when_ready(queue)).event.data["n"] for _ in range(5)])
    assert got == [0, 1, 2, 3, 4]
    assert await queue.enqueue_once("cron:Tick:0", 60, Q, event(0)) is None  # still taken


async def test_an_enqueue_once_key_is_free_again_after_its_time_to_live(queue: QueueAdapter,
                                                                        ) -> None:
    assert await queue.enqueue_once("k", 0.05, Q, event(1)) is not None
    with anyio.fail_after(BOUND_S):
        while await queue.enqueue_once("k", 0.05, Q, event(2)) is None:  # bounded by fail_after
            await anyio.sleep(0.02)
    assert await queue.depth(Q) == 2


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
    # The delay leaves a loaded machine ample time to look before it ends (0.05 s did not).
    await queue.enqueue(Q, event(), delay_s=DELAY_S)
    assert await queue.receive(Q, 30) is None
    assert (await queue.counts(Q)).delayed == 1
    message = await receive_when_ready(queue)
    assert message.attempt == 1
    assert message.enqueued_at_ms + DELAY_S * 1000 <= now_ms()


async def test_receive_many_leases_up_to_the_count_oldest_first(queue: QueueAdapter) -> None:
    for n in range(5):
        await queue.enqueue(Q, event(n))
    await queue.enqueue(Q, event(5), delay_s=60)  # not visible: never among them
    first = await queue.receive_many(Q, 30, 3)
    if len(first) == 1:  # the default (memory): one per call; still oldest first
        first += await queue.receive_many(Q, 30, 1) + await queue.receive_many(Q, 30, 1)
    assert [m.event.data["n"] for m in first] == [0, 1, 2]
    assert len({m.receipt for m in first}) == 3 and all(m.attempt == 1 for m in first)
    rest = await queue.receive_many(Q, 30, 10)
    while len(rest) < 2:
        more = await queue.receive_many(Q, 30, 10)
        assert more, "a visible message was not received"
        rest += more
    assert [m.event.data["n"] for m in rest] == [3, 4]
    assert await queue.receive_many(Q, 30, 10) == []
    counts = await queue.counts(Q)
    assert (counts.in_flight, counts.delayed, counts.ready) == (5, 1, 0)
    for m in first + rest:
        assert await queue.ack(m) is True


async def test_receive_many_takes_one_message_per_fifo_group(queue: QueueAdapter) -> None:
    for n in range(3):
        await queue.enqueue(Q, event(n, "a"), group_id="a")
        await queue.enqueue(Q, event(10 + n, "b"), group_id="b")
    taken: list[QueueMessage] = []
    for _ in range(3):
        taken += await queue.receive_many(Q, 30, 10)
    assert sorted(m.event.data["n"] for m in taken) == [0, 10]  # the heads only
    for m in taken:
        assert await queue.ack(m) is True
    taken = []
    for _ in range(3):
        taken += await queue.receive_many(Q, 30, 10)
    assert sorted(m.event.data["n"] for m in taken) == [1, 11]


async def test_nack_counts_the_attempt_and_delays_the_message(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event())
    first = await receive_when_ready(queue)
    assert await queue.nack(first, delay_s=DELAY_S) is True
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


async def test_enqueue_leased_gives_back_the_leased_ones_as_received(queue: QueueAdapter,
                                                                     ) -> None:
    """What publish hands to a consumer of its own process: leased on the way in, or (an
    adapter that cannot) None and visible as any enqueued message."""
    other = queue_name("order.created", "audit")
    leased, visible = await queue.enqueue_leased(
        [Enqueue(queue=Q, event=event(1)), Enqueue(queue=other, event=event(2))], [30, None])
    assert visible is None
    assert (await receive_when_ready(queue, name=other)).event.data == {"n": 2}
    if isinstance(queue, (SqliteQueue, RedisQueue)):
        assert leased is not None  # SQLite and Redis lease on enqueue
    if leased is None:
        return  # this adapter left it visible: the plain enqueue contract above holds for it
    assert (leased.queue, leased.attempt, leased.event.data) == (Q, 1, {"n": 1})
    assert leased.receipt
    assert await queue.counts(Q) == QueueCounts(in_flight=1)
    assert await queue.receive(Q, 30) is None  # taken: nobody else gets it
    assert await queue.ack(leased) is True
    assert await queue.counts(Q) == QueueCounts()
    # Not settled before its lease ran out (a crash): delivered again, the late ack refused.
    [crashed] = await queue.enqueue_leased([Enqueue(queue=Q, event=event(3))], [0.05])
    assert crashed is not None
    again = await receive_when_ready(queue)
    assert (again.id, again.attempt) == (crashed.id, 2)
    assert await queue.ack(crashed) is False
    assert await queue.ack(again) is True
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


async def test_a_delayed_message_in_a_group_waits_for_its_turn_and_its_time(
    queue: QueueAdapter,
) -> None:
    await queue.enqueue(Q, event(0, "h"), group_id="h")
    await queue.enqueue(Q, event(1, "h"), group_id="h", delay_s=60)
    await queue.enqueue(Q, event(2, "h"), group_id="h")
    assert await queue.counts(Q) == QueueCounts(ready=2, delayed=1)  # as each message stands
    head = await queue.receive(Q, 30)
    assert head is not None and head.event.data == {"n": 0}
    assert await queue.ack(head)
    assert await queue.receive(Q, 30) is None  # 1 is not due, and 2 may not overtake it

    await queue.enqueue(Q, event(3, "g"), group_id="g")
    await queue.enqueue(Q, event(4, "g"), group_id="g", delay_s=0.05)
    first = await receive_when_ready(queue)
    assert first.event.data == {"n": 3}
    assert await queue.ack(first)
    second = await receive_when_ready(queue)
    assert (second.event.data, second.attempt) == ({"n": 4}, 1)
    assert second.enqueued_at_ms + 50 <= now_ms()


async def test_an_expired_fifo_head_comes_back_before_the_rest_of_its_group(
    queue: QueueAdapter,
) -> None:
    await queue.enqueue(Q, event(0, "g"), group_id="g")
    await queue.enqueue(Q, event(1, "g"), group_id="g")
    crashed = await receive_when_ready(queue, visibility_timeout_s=0.05)
    again = await receive_when_ready(queue)  # never message 1 while 0 is unfinished
    assert (again.id, again.attempt, again.event.data) == (crashed.id, 2, {"n": 0})
    assert await queue.receive(Q, 30) is None
    assert await queue.ack(again)
    assert (await receive_when_ready(queue)).event.data == {"n": 1}


async def test_an_empty_group_id_is_a_group_like_any_other(queue: QueueAdapter) -> None:
    await queue.enqueue(Q, event(0, ""), group_id="")
    await queue.enqueue(Q, event(1, ""), group_id="")
    head = await receive_when_ready(queue)
    assert (head.event.data, head.group_id) == ({"n": 0}, "")
    assert await queue.receive(Q, 30) is None  # one in flight in group ""
    letter = await queue.dead_letter(head, ErrorInfo(message="boom"))
    assert letter is not None and letter.group_id == ""
    assert [d.group_id for d in await queue.dead_letters(Q)] == [""]
    assert (await receive_when_ready(queue)).event.data == {"n": 1}


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


# --- dead-letter tooling (motia_core/events/dlq.py), on every adapter -------------------------

SHIPPED = "order.shipped.audit"


async def bury(queue: QueueAdapter, name: str, sent: Event, group: str | None = None) -> str:
    """Dead-letter ``sent`` in queue ``name`` after one failed delivery; returns its id."""
    await queue.enqueue(name, sent, group_id=group)
    message = await receive_when_ready(queue, name=name)
    error = ErrorInfo(message=f"boom {sent.data}", name="ValueError", stack="Traceback: boom")
    letter = await queue.dead_letter(message, error)
    assert letter is not None
    return letter.id


async def test_dlq_lists_and_shows_every_queues_dead_letters(queue: QueueAdapter) -> None:
    first = await bury(queue, Q, event(1), group="g")
    second = await bury(queue, Q, event(2))
    shipped = Event(topic="order.shipped", data={"n": 3}, trace_id="TRACE-3")
    third = await bury(queue, SHIPPED, shipped)
    assert await queue.dead_letter_queues() == [Q, SHIPPED]

    rows = await dlq.list_dead_letters(queue)
    assert [row["id"] for row in rows] == [first, second, third]  # by queue, oldest first
    row = rows[2]
    assert {k: row[k] for k in ("queue", "topic", "step", "attempts", "error", "traceId",
                                "eventId")} == {
        "queue": SHIPPED, "topic": "order.shipped", "step": "audit", "attempts": 1,
        "error": {"name": "ValueError", "message": "boom {'n': 3}"}, "traceId": "TRACE-3",
        "eventId": shipped.id}
    assert row["failedAt"].endswith("Z") and row["failedAtMs"] <= now_ms()
    assert [r["id"] for r in await dlq.list_dead_letters(queue, Q)] == [first, second]
    assert await dlq.list_dead_letters(queue, "nobody.listens") == []
    assert msgspec.json.decode(msgspec.json.encode(rows)) == rows  # plain JSON

    shown = await dlq.show(queue, None, first)
    assert (shown["data"], shown["groupId"], shown["step"]) == ({"n": 1}, "g", "notify")
    assert shown["error"]["stack"] == "Traceback: boom"
    assert shown == await dlq.show(queue, Q, first)
    with pytest.raises(dlq.DeadLetterNotFound, match=r"no dead letter 'nope' in any queue.*"
                                                     r"motia dlq list"):
        await dlq.show(queue, None, "nope")
    with pytest.raises(dlq.DeadLetterNotFound, match=rf"{third!r} in queue {Q!r}"):
        await dlq.show(queue, Q, third)  # it exists, but in another queue


async def test_dlq_replay_redelivers_under_the_original_trace(queue: QueueAdapter) -> None:
    sent = event(5, group="g")
    letter_id = await bury(queue, Q, sent, group="g")
    replayed = await dlq.replay(queue, None, letter_id)
    assert (replayed["replayed"], replayed["id"], replayed["traceId"]) == (
        True, letter_id, sent.trace_id)
    assert await dlq.list_dead_letters(queue) == []
    again = await receive_when_ready(queue)
    assert (again.event, again.attempt, again.group_id) == (sent, 1, "g")
    with pytest.raises(dlq.DeadLetterNotFound, match=repr(letter_id)):
        await dlq.replay(queue, Q, letter_id)  # already replayed


async def test_dlq_purge_one_queue_or_all(queue: QueueAdapter) -> None:
    await bury(queue, Q, event(1))
    await bury(queue, Q, event(2))
    await bury(queue, SHIPPED, Event(topic="order.shipped", trace_id="T"))
    assert await dlq.purge(queue, "nobody.listens") == {"purged": 0,
                                                         "queues": {"nobody.listens": 0}}
    assert await dlq.purge(queue, SHIPPED) == {"purged": 1, "queues": {SHIPPED: 1}}
    await bury(queue, SHIPPED, Event(topic="order.shipped", trace_id="T"))
    assert await dlq.purge(queue, None) == {"purged": 3, "queues": {Q: 2, SHIPPED: 1}}
    assert await queue.dead_letter_queues() == []
    assert await dlq.purge(queue, None) == {"purged": 0, "queues": {}}


# --- SQLite only: durability, sharing a file, file errors ------------------------------------

LEASE_HOLDER = """
import sys
import anyio
import anyio.abc
from motia_core.events import SqliteQueue

async def main() -> None:
    queue = SqliteQueue(sys.argv[1])
    message = await queue.receive(sys.argv[2], 900)
    print(message.id if message else "none", flush=True)
    sys.stdin.readline()  # hold the lease until killed

anyio.run(main)
"""


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / ".motia" / SQLITE_FILENAME


async def test_sqlite_keeps_everything_across_reopening(sqlite_path: Path) -> None:
    first = SqliteQueue(sqlite_path)
    sent = event(0)
    await first.enqueue(Q, sent)
    # Committed when enqueue returns: another connection sees it while this one is still open.
    with sqlite3.connect(sqlite_path) as other:
        assert other.execute("SELECT COUNT(*) FROM messages").fetchone() == (1,)
    await first.enqueue(Q, event(1, "g"), group_id="g", delay_s=60)
    letter_id = await bury(first, SHIPPED, Event(topic="order.shipped", trace_id="T"))
    letters = await first.dead_letters(SHIPPED)
    await first.aclose()
    with pytest.raises(QueueClosed, match="is closed"):
        await first.enqueue(Q, sent)
    await first.aclose()  # idempotent

    second = SqliteQueue(sqlite_path)
    try:
        assert await second.counts(Q) == QueueCounts(ready=1, delayed=1)
        assert await second.dead_letters(SHIPPED) == letters
        assert [letter.id for letter in letters] == [letter_id]
        message = await second.receive(Q, 30)
        assert message is not None and (message.event, message.attempt) == (sent, 1)
    finally:
        await second.aclose()


async def test_an_undecodable_message_goes_to_the_dead_letters_with_its_reason(
    sqlite_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A row that cannot be decoded (a corrupt file, an event an incompatible version wrote) is
    a poison message: it must not come back every visibility timeout and block its group."""
    queue = SqliteQueue(sqlite_path)
    try:
        poison_id = await queue.enqueue(Q, event(0, "g"), group_id="g")
        behind = event(1, "g")
        await queue.enqueue(Q, behind, group_id="g")
        with sqlite3.connect(sqlite_path) as other:
            other.execute("UPDATE messages SET event = ? WHERE id = ?",
                          ('{"topic": 42, "traceId": "T"}', poison_id))
        with caplog.at_level("ERROR", logger="motia.events"):
            message = await queue.receive(Q, 30)
        assert message is not None and message.event == behind  # the group moves on
        [letter] = await queue.dead_letters(Q)
        assert (letter.id, letter.group_id, letter.attempts) == (poison_id, "g", 1)
        assert letter.error.name == "UndecodableEvent"
        assert "Expected `str`, got `int` - at `$.topic`" in letter.error.message
        assert '{"topic": 42, "traceId": "T"}' in str(letter.event.data)  # kept as it was stored
        assert [getattr(r, "action", None) for r in caplog.records] == ["event_undecodable"]
        assert await queue.counts(Q) == QueueCounts(in_flight=1, dead_letters=1)
    finally:
        await queue.aclose()


async def test_receive_and_wait_do_not_walk_the_delayed_messages(sqlite_path: Path) -> None:
    """Both run on the event loop: their work must not grow with the messages not yet due (100k
    delayed ones cost tens of milliseconds a call). Counted in SQLite VM steps, not timed;
    bench/queue_receive.py has the times."""
    queue = SqliteQueue(sqlite_path)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    async def cost() -> tuple[int, int]:
        nonlocal steps
        sent = await queue.enqueue(Q, event())
        steps = 0
        message = await queue.receive(Q, 30)
        receive_steps = steps
        assert message is not None and message.id == sent
        assert await queue.ack(message)
        steps = 0
        await queue.wait(Q, 0)
        return receive_steps, steps

    try:
        await queue._db.run(lambda conn: conn.set_progress_handler(count, 100))
        alone = await cost()
        await queue.enqueue_many([Enqueue(queue=Q, event=event(n), delay_s=3600)
                                  for n in range(20_000)])  # ahead of the next one, in seq
        behind_delayed = await cost()
        assert behind_delayed[0] <= 2 * alone[0] + 5, (alone, behind_delayed)
        assert behind_delayed[1] <= 2 * alone[1] + 5, (alone, behind_delayed)
    finally:
        await queue.aclose()


async def test_two_connections_never_lease_the_same_message(sqlite_path: Path) -> None:
    a, b = SqliteQueue(sqlite_path), SqliteQueue(sqlite_path)
    ids = await a.enqueue_many([Enqueue(queue=Q, event=event(n)) for n in range(200)])
    received: list[str] = []

    async def drain(queue: QueueAdapter) -> None:
        while (message := await queue.receive(Q, 30)) is not None:
            received.append(message.id)

    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                for adapter in (a, b, a, b):
                    tg.start_soon(drain, adapter)
        assert sorted(received) == sorted(ids)  # each exactly once
    finally:
        await a.aclose()
        await b.aclose()


async def test_wait_sees_what_another_process_enqueues(sqlite_path: Path) -> None:
    """Only polling can wake this waiter: the writer is another connection."""
    waiter, writer = SqliteQueue(sqlite_path), SqliteQueue(sqlite_path)
    woke = anyio.Event()

    async def wait() -> None:
        await waiter.wait(Q, 60)  # far beyond the bound below: only a poll can wake it
        woke.set()

    try:
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                await anyio.wait_all_tasks_blocked()
                assert not woke.is_set()
                await writer.enqueue(Q, event())
                await woke.wait()
        assert await waiter.receive(Q, 30) is not None
    finally:
        await waiter.aclose()
        await writer.aclose()


async def read_line(stream: anyio.abc.ByteReceiveStream) -> str:
    data = b""
    with anyio.fail_after(BOUND_S):
        while not data.endswith(b"\n"):
            data += await stream.receive()
    return data.decode().strip()


async def test_a_dead_processes_leases_come_back_when_the_file_is_opened(
    sqlite_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A killed core's messages are delivered again at restart, not after a 900 s lease."""
    setup = SqliteQueue(sqlite_path)
    sent_id = await setup.enqueue(Q, event())
    await setup.aclose()
    process = await anyio.open_process([sys.executable, "-c", LEASE_HOLDER, str(sqlite_path), Q],
                                       stderr=subprocess.DEVNULL)
    async with process:
        assert process.stdout is not None
        assert await read_line(process.stdout) == sent_id
        alive = SqliteQueue(sqlite_path)
        try:
            assert await alive.receive(Q, 30) is None  # its holder lives: the lease holds
        finally:
            await alive.aclose()
        process.kill()
        await process.wait()

    restarted = SqliteQueue(sqlite_path)
    try:
        with caplog.at_level("INFO", logger="motia.events"):
            await restarted.open()
        assert [getattr(r, "action", None) for r in caplog.records] == ["event_reclaim"]
        message = await restarted.receive(Q, 30)
        assert message is not None and (message.id, message.attempt) == (sent_id, 2)
    finally:
        await restarted.aclose()


async def test_unusable_files_are_refused_with_their_path(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database, " * 100)
    folder = tmp_path / "folder.sqlite3"
    folder.mkdir()
    cases = [(newer, "schema version 99.*upgrade motia-core"),
             (garbage, "not a usable motia event queue database"),
             (folder, "cannot open the event queue store")]
    for path, match in cases:
        queue = SqliteQueue(path)
        with pytest.raises(QueueError, match=match) as caught:
            await queue.open()
        assert str(path) in str(caught.value)
        await queue.aclose()


async def test_open_queue_picks_the_adapter_by_kind(tmp_path: Path) -> None:
    sqlite_queue = open_queue(" SQLite ", tmp_path)
    assert isinstance(sqlite_queue, SqliteQueue)
    assert sqlite_queue.path == tmp_path / SQLITE_FILENAME
    assert not sqlite_queue.path.exists()  # nothing touched before first use
    assert isinstance(open_queue("memory", tmp_path), MemoryQueue)
    with pytest.raises(UnknownQueueAdapter, match=r"'redis' queue adapter needs the server's "
                                                  r"URL: pass --redis-url"):
        open_queue("redis", tmp_path)
    redis_queue = open_queue("Redis", tmp_path, redis_url="redis://127.0.0.1:9", redis_prefix="p:")
    assert isinstance(redis_queue, RedisQueue)
    assert (redis_queue.url, redis_queue.prefix) == ("redis://127.0.0.1:9", "p:")
    await redis_queue.aclose()  # never connected: nothing touched before first use
    with pytest.raises(ValueError, match="unknown queue adapter 'kafka'; valid kinds are "
                                         "'sqlite', 'memory', 'redis'"):
        open_queue("kafka", tmp_path)


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

