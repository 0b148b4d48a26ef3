"""Stream fan-out over Redis pub/sub: a change stored on instance A reaches the clients of a hub
on instance B, in the order A stored it, and no instance hears its own changes twice."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from motia_core.state import MemoryState
from motia_core.streams import StreamHub, StreamStore, Subscription
from motia_core.streams.redis_fanout import RedisFanout
from tests.support import Peer

pytestmark = pytest.mark.anyio

BOUND_S = 10.0


async def test_a_change_on_one_instance_reaches_a_hub_on_another_in_order(
    redis_url: str, redis_prefix: str,
) -> None:
    count = 50
    a, b = RedisFanout(redis_url, prefix=redis_prefix), RedisFanout(redis_url, prefix=redis_prefix)
    store_a = StreamStore(MemoryState())
    store_a.listeners.append(a.on_change)
    heard_by_a: list[tuple[Any, ...]] = []
    a.listeners.append(lambda *change: heard_by_a.append(change))

    hub_b = StreamHub()
    b.listeners.append(hub_b.on_change)
    peer = Peer(expected=count + 2)  # create, updates, an ephemeral event, the delete
    client = hub_b.connect(peer.send, peer.close, send_now=peer.send_now)
    await hub_b.join(client, "sub", Subscription("progress", "job-1", "item"), None)

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(a.run)
            await tg.start(b.run)
            for step in range(count):
                await store_a.set("progress", "job-1", "item", {"step": step})
            await store_a.send("progress", "job-1", "item", "tick", {"n": 1})
            await store_a.delete("progress", "job-1", "item")
            await peer.done.wait()
            tg.cancel_scope.cancel()

    events = [frame["event"] for frame in peer.frames]
    assert [e["type"] for e in events] == ["create"] + ["update"] * (count - 1) + [
        "event", "delete"]
    assert [e["data"]["step"] for e in events[:count]] == list(range(count))
    assert events[count] == {"type": "event", "event": {"type": "tick", "data": {"n": 1}}}
    assert {(f["streamName"], f["groupId"], f["id"]) for f in peer.frames} == {
        ("progress", "job-1", "item")}
    assert heard_by_a == []  # its own changes are not handed back to it
    assert a.dropped == 0


async def test_a_write_returns_only_once_its_change_is_published(
    redis_url: str, redis_prefix: str,
) -> None:
    """An instance that stops (or is killed) the moment a stream write returns has already told
    the others: the write waits for the fan-out's publish, so the step that made the change and
    the acknowledgement of its event come after it."""
    a, b = RedisFanout(redis_url, prefix=redis_prefix), RedisFanout(redis_url, prefix=redis_prefix)
    store_a = StreamStore(MemoryState())
    store_a.listeners.append(a.on_change)
    store_a.wait_sent.append(a.wait_sent)
    heard: list[tuple[Any, ...]] = []
    b.listeners.append(lambda *change: heard.append(change))

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg_b:
            await tg_b.start(b.run)
            async with anyio.create_task_group() as tg_a:
                await tg_a.start(a.run)
                await store_a.set("progress", "job-1", "last", {"step": 1})
                tg_a.cancel_scope.cancel()  # instance A ends now, with whatever it still holds
            while not heard:  # bounded by fail_after
                await anyio.sleep(0.01)
            tg_b.cancel_scope.cancel()
    assert [change[:4] for change in heard] == [("progress", "job-1", "last", "create")]
