"""Several instances on one Redis queue: what the contract suite (one adapter) cannot show.

Each "instance" is a ``RedisQueue`` of its own (its own connections and consumer name) on the
same key prefix, as separate motia-core processes would be; one test uses a real process that
is killed while it holds a lease.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
import redis.asyncio

from motia_core.events import (
    Enqueue,
    Event,
    EventBus,
    QueueCounts,
    QueueError,
    QueueMessage,
    RetryPolicy,
    SubscriptionSettings,
)
from motia_core.events import _redis_lua as lua
from motia_core.events import redis as redis_queue
from motia_core.events.redis import RedisQueue

pytestmark = pytest.mark.anyio

Q = "order.created.notify"
BOUND_S = 10.0  # generous bound on every wait: a hang fails, a slow machine does not


def event(n: int, group: str | None = None) -> Event:
    return Event(topic="order.created", data={"n": n}, trace_id="T", message_group_id=group)


@asynccontextmanager
async def instances(url: str, prefix: str, count: int = 2) -> AsyncIterator[list[RedisQueue]]:
    async with AsyncExitStack() as stack:
        queues = []
        for i in range(count):
            queue = RedisQueue(url, prefix=prefix, consumer=f"instance-{i}")
            stack.push_async_callback(queue.aclose)
            queues.append(queue)
        yield queues


async def receive_when_ready(queue: RedisQueue, visibility_timeout_s: float = 30.0,
                             ) -> QueueMessage:
    with anyio.fail_after(BOUND_S):
        while True:
            message = await queue.receive(Q, visibility_timeout_s)
            if message is not None:
                return message
            await queue.wait(Q, BOUND_S)


async def test_each_message_is_delivered_once_across_instances(redis_url: str,
                                                               redis_prefix: str) -> None:
    async with instances(redis_url, redis_prefix) as (a, b):
        ids = await a.enqueue_many([Enqueue(queue=Q, event=event(n)) for n in range(200)])
        received: dict[str, list[str]] = {"a": [], "b": []}

        async def drain(name: str, queue: RedisQueue) -> None:
            while (message := await queue.receive(Q, 30)) is not None:
                received[name].append(message.id)
                assert await queue.ack(message)

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(drain, "a", a)
                tg.start_soon(drain, "b", b)
        assert sorted(received["a"] + received["b"]) == sorted(ids)
        assert received["a"] and received["b"]  # both took part
        assert await b.counts(Q) == QueueCounts()


async def test_a_lease_of_an_instance_that_stops_is_taken_over_after_its_timeout(
    redis_url: str, redis_prefix: str,
) -> None:
    async with instances(redis_url, redis_prefix) as (a, b):
        sent_id = await b.enqueue(Q, event(1))
        held = await receive_when_ready(a, visibility_timeout_s=1.5)
        await a.aclose()  # stops without an ack
        assert await b.receive(Q, 30) is None  # still leased
        recovered = await receive_when_ready(b)  # b's wait wakes when a's lease runs out
        assert (recovered.id, recovered.attempt) == (sent_id, 2)
        assert await b.ack(held) is False  # the stopped instance's outcome no longer counts
        assert await pending_consumers(redis_url, redis_prefix) == {"instance-1": 1}
        assert await b.ack(recovered) is True
        assert await b.counts(Q) == QueueCounts()


async def test_a_server_that_lost_the_function_library_gets_it_again(
    redis_url: str, redis_prefix: str,
) -> None:
    """A restarted or flushed server has no library: the calls that miss it load it and run."""
    async with instances(redis_url, redis_prefix, 1) as (queue,):
        first = await queue.enqueue(Q, event(1))
        await drop_library(redis_url)
        # Two calls in one pipeline, both missing the library.
        async with anyio.create_task_group() as tg:
            tg.start_soon(queue.enqueue, Q, event(2))
            tg.start_soon(queue.counts, Q)
        message = await queue.receive(Q, 30)
        assert message is not None and message.id == first
        await drop_library(redis_url)
        assert await queue.ack(message)
        assert await queue.counts(Q) == QueueCounts(ready=1)


async def test_one_failing_operation_does_not_fail_the_others_sent_with_it(
    redis_url: str, redis_prefix: str,
) -> None:
    """The calls of one turn of the loop go in one FCALL; each still succeeds or fails alone."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        await client.set(f"{redis_prefix}ready:broken", "not a list")
    finally:
        await client.aclose()
    async with instances(redis_url, redis_prefix, 1) as (queue,):
        outcomes: dict[str, object] = {}

        async def attempt(name: str, call: Any) -> None:
            try:
                outcomes[name] = await call
            except QueueError as exc:
                outcomes[name] = exc

        async with anyio.create_task_group() as tg:
            tg.start_soon(attempt, "before", queue.enqueue(Q, event(1)))
            tg.start_soon(attempt, "broken", queue.receive("broken", 30))
            tg.start_soon(attempt, "after", queue.enqueue(Q, event(2)))
        assert isinstance(outcomes["broken"], QueueError)
        assert "WRONGTYPE" in str(outcomes["broken"])
        assert isinstance(outcomes["before"], str) and isinstance(outcomes["after"], str)
        assert await queue.counts(Q) == QueueCounts(ready=2)


async def test_a_server_older_than_7_is_refused_at_open_with_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def ping(url: str, what: str) -> str:
        return "6.2.14"

    monkeypatch.setattr(redis_queue, "ping", ping)
    queue = RedisQueue("redis://127.0.0.1:6379", prefix="p:")
    with pytest.raises(QueueError, match=r"needs Redis 7\.0 or newer .* at redis://127\.0\.0\.1:"
                                         r"6379 runs Redis 6\.2\.14: upgrade it"):
        await queue.open()
    await queue.aclose()


async def drop_library(url: str) -> None:
    """What a restart (without persistence) or ``FUNCTION FLUSH`` does to the queue's library."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        await client.execute_command("FUNCTION", "DELETE", lua.LIBRARY_NAME)
    finally:
        await client.aclose()


async def pending_consumers(url: str, prefix: str) -> dict[str, int]:
    """Who holds messages of the queue: each lease names its consumer (``id|token|F|consumer``)."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        leases = await client.zrange(f"{prefix}leases:{Q}", 0, -1)
    finally:
        await client.aclose()
    held: dict[str, int] = defaultdict(int)
    for lease in leases:
        held[lease.decode().split("|", 3)[3]] += 1
    return dict(held)


LEASE_HOLDER = """
import sys
import anyio
from motia_core.events import QueueError
from motia_core.events import _redis_lua as lua
from motia_core.events import redis as redis_queue
from motia_core.events.redis import RedisQueue

async def main() -> None:
    queue = RedisQueue(sys.argv[1], prefix=sys.argv[2], consumer="doomed")
    message = await queue.receive(sys.argv[3], float(sys.argv[4]))
    print(message.id if message else "none", flush=True)
    sys.stdin.readline()  # hold the lease until killed

anyio.run(main)
"""


async def test_a_killed_process_loses_nothing(redis_url: str, redis_prefix: str) -> None:
    async with instances(redis_url, redis_prefix, 1) as (survivor,):
        sent_id = await survivor.enqueue(Q, event(1))
        argv = [sys.executable, "-c", LEASE_HOLDER, redis_url, redis_prefix, Q, "1.0"]
        process = await anyio.open_process(argv, stderr=subprocess.DEVNULL)
        async with process:
            assert process.stdout is not None
            with anyio.fail_after(BOUND_S):
                line = await process.stdout.receive()
            assert line.decode().strip() == sent_id
            assert await survivor.receive(Q, 30) is None  # leased by the living process
            assert await pending_consumers(redis_url, redis_prefix) == {"doomed": 1}
            process.kill()
            await process.wait()
        recovered = await receive_when_ready(survivor)
        assert (recovered.id, recovered.attempt) == (sent_id, 2)
        assert await pending_consumers(redis_url, redis_prefix) == {"instance-0": 1}
        assert await survivor.ack(recovered)


async def test_wait_wakes_on_another_instances_enqueue_and_retry(redis_url: str,
                                                                 redis_prefix: str) -> None:
    async with instances(redis_url, redis_prefix) as (a, b):
        woke = anyio.Event()

        async def waiter() -> None:
            await b.wait(Q, 60)  # beyond the bound: only a's enqueue can wake it in time
            woke.set()

        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter)
                await anyio.wait_all_tasks_blocked()
                await a.enqueue(Q, event(1))
                await woke.wait()
        first = await receive_when_ready(b)
        assert await b.nack(first, delay_s=0.05)
        retried = await receive_when_ready(a)  # retried by the other instance
        assert (retried.id, retried.attempt) == (first.id, 2)
        assert await a.ack(retried)


async def test_buses_on_two_instances_share_the_work_fifo_and_retries(
    redis_url: str, redis_prefix: str,
) -> None:
    """Two buses (two instances) consume one FIFO subscription: every event once, each group in
    order with one in flight cluster-wide, a failing event retried on either instance."""
    in_flight: dict[str, int] = defaultdict(int)
    most_in_flight: dict[str, int] = defaultdict(int)
    seen: dict[str, list[int]] = defaultdict(list)
    attempts: dict[int, list[int]] = defaultdict(list)

    async def deliver(sent: Event, attempt: int) -> None:
        group, n = sent.message_group_id or "", sent.data["n"]
        attempts[n].append(attempt)
        in_flight[group] += 1
        most_in_flight[group] = max(most_in_flight[group], in_flight[group])
        try:
            for _ in range(3):  # let the other instance run meanwhile
                await anyio.lowlevel.checkpoint()
            if n == 7 and attempt == 1:
                raise ValueError("fails once")
            seen[group].append(n)
        finally:
            in_flight[group] -= 1

    settings = SubscriptionSettings(fifo=True, concurrency=4,
                                    retry=RetryPolicy(max_retries=2, delay_s=0.01))
    async with instances(redis_url, redis_prefix) as queues:
        buses = [EventBus(queue, idle_wait_s=0.5) for queue in queues]
        for bus in buses:
            bus.subscribe("order.created", "notify", deliver, settings)
        with anyio.fail_after(BOUND_S):
            async with anyio.create_task_group() as tg:
                for bus in buses:
                    await tg.start(bus.run)
                for n in range(40):
                    await buses[n % 2].publish(event(n, group=f"g{n % 4}"))
                await buses[0].join()
                await buses[1].join()
                for bus in buses:
                    await bus.stop(grace_s=1.0)
    assert {g: ns for g, ns in seen.items()} == {
        f"g{k}": [n for n in range(40) if n % 4 == k] for k in range(4)}
    assert set(most_in_flight.values()) == {1}
    assert attempts[7] == [1, 2] and all(attempts[n] == [1] for n in range(40) if n != 7)


async def test_a_receive_that_found_fewer_than_wanted_stands_only_until_the_task_yields(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found 2 of 5: the receive right after, in the same step, says "none" without a call
    (nothing here ran since); once the task has yielded, a receive asks the server again."""
    async with instances(redis_url, redis_prefix) as (a, b):
        await b.enqueue_many([Enqueue(queue=Q, event=event(n)) for n in range(2)])
        sent: list[Any] = []
        real_send = a._send

        async def counting_send(batch: Any) -> None:
            sent.append(batch)
            await real_send(batch)

        monkeypatch.setattr(a, "_send", counting_send)
        assert len(await a.receive_many(Q, 30, 5)) == 2
        assert await a.receive_many(Q, 30, 5) == []
        assert len(sent) == 1
        third = await b.enqueue(Q, event(3))
        [message] = await a.receive_many(Q, 30, 5)
        assert message.id == third and len(sent) == 2
