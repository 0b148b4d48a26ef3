"""The stream store's semantics (MOTIA_CONTRACT 6.2) and the hub's rooms, ordering and bounds.

The store runs over the real in-memory state adapter; the hub is driven with in-process clients
(a ``send`` that records frames, or one that never returns, standing in for a socket whose peer
reads nothing). Sockets for real are in tests/integration/test_streams_ws.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest

from motia_core.state import MemoryState
from motia_core.streams.hub import CLOSE_TOO_SLOW, StreamClient, StreamHub, Subscription
from motia_core.streams.store import StreamStore, is_falsy, without_marker

pytestmark = pytest.mark.anyio

Change = tuple[str, str, "str | None", str, Any]


def marker(stream: str, group: str, item_id: str) -> dict[str, str]:
    return {"type": "state-stream", "streamName": stream, "groupId": group, "id": item_id}


@pytest.fixture
def store() -> tuple[StreamStore, list[Change]]:
    store = StreamStore(MemoryState())
    changes: list[Change] = []
    store.listeners.append(lambda *change: changes.append(change))
    return store, changes


# --- the store ---------------------------------------------------------------------------------


async def test_set_creates_then_updates_and_returns_the_item_with_id_and_marker(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, changes = store
    created = await streams.set("todo", "inbox", "t1", {"title": "milk", "id": "ignored"})
    assert created == {"title": "milk", "id": "t1", "__motia": marker("todo", "inbox", "t1")}
    updated = await streams.set("todo", "inbox", "t1", {"title": "oat milk"})
    assert updated["title"] == "oat milk"
    assert changes == [
        ("todo", "inbox", "t1", "create", {"title": "milk", "id": "t1"}),
        ("todo", "inbox", "t1", "update", {"title": "oat milk", "id": "t1"}),
    ]
    assert await streams.get("todo", "inbox", "t1") == updated
    assert await streams.get_group("todo", "inbox") == [updated]
    assert await streams.get("todo", "other", "t1") is None


@pytest.mark.parametrize("data", [None, False, 0, 0.0, ""])
async def test_set_with_falsy_data_returns_null_and_stores_nothing(
    store: tuple[StreamStore, list[Change]], data: Any,
) -> None:
    streams, changes = store
    assert is_falsy(data)
    assert await streams.set("todo", "inbox", "t1", data) is None
    assert await streams.get("todo", "inbox", "t1") is None
    assert changes == []


@pytest.mark.parametrize("data", [{}, [], "x", 1, True])
async def test_javascript_truthy_data_is_stored(
    store: tuple[StreamStore, list[Change]], data: Any,
) -> None:
    streams, changes = store
    assert not is_falsy(data)
    assert await streams.set("todo", "inbox", "t1", data) is not None
    assert [kind for *_, kind, _payload in changes] == ["create"]


async def test_delete_pushes_only_when_something_was_deleted(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, changes = store
    assert await streams.delete("todo", "inbox", "nope") is None
    assert changes == []
    await streams.set("todo", "inbox", "t1", {"done": False})
    removed = await streams.delete("todo", "inbox", "t1")
    assert removed == {"done": False, "id": "t1", "__motia": marker("todo", "inbox", "t1")}
    assert changes[-1] == ("todo", "inbox", "t1", "delete", {"done": False, "id": "t1"})
    assert await streams.delete("todo", "inbox", "t1") is None
    assert len(changes) == 2


async def test_an_item_read_back_with_its_marker_is_stored_without_it(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, changes = store
    item = await streams.set("todo", "inbox", "t1", {"n": 1})
    item["n"] = 2
    await streams.set("todo", "inbox", "t1", item)
    assert changes[-1][-1] == {"n": 2, "id": "t1"}
    assert without_marker(await streams.get("todo", "inbox", "t1")) == {"n": 2, "id": "t1"}


async def test_racing_sets_of_a_new_item_give_one_create(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, changes = store
    async with anyio.create_task_group() as tg:
        for n in range(20):
            tg.start_soon(streams.set, "todo", "inbox", "t1", {"n": n})
    kinds = [kind for *_, kind, _payload in changes]
    assert kinds == ["create"] + ["update"] * 19
    # Listeners heard the writes in the order they were stored: the last one is what is stored.
    assert without_marker(await streams.get("todo", "inbox", "t1")) == changes[-1][-1]


async def test_send_reaches_listeners_and_stores_nothing(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, changes = store
    await streams.send("todo", "inbox", None, "ping", {"at": 1})
    assert changes == [("todo", "inbox", None, "event", {"type": "ping", "data": {"at": 1}})]
    assert await streams.get_group("todo", "inbox") == []


async def test_a_failing_listener_does_not_fail_the_write(
    store: tuple[StreamStore, list[Change]], caplog: pytest.LogCaptureFixture,
) -> None:
    streams, changes = store

    def broken(*_change: Any) -> None:
        raise RuntimeError("listener bug")

    streams.listeners.insert(0, broken)
    assert await streams.set("todo", "inbox", "t1", {"n": 1}) is not None
    assert len(changes) == 1
    assert "listener bug" in caplog.text


# --- the hub -----------------------------------------------------------------------------------


class Peer:
    """An in-process client: records frames; ``stalled`` never returns from a send."""

    def __init__(self, stalled: bool = False) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None
        self.stalled = stalled
        self.arrived = anyio.Event()
        self.closed = anyio.Event()

    async def send(self, frame: bytes) -> None:
        if self.stalled:
            await anyio.sleep_forever()
        self.frames.append(json.loads(frame))
        self.arrived.set()
        self.arrived = anyio.Event()

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)
        self.closed.set()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        with anyio.fail_after(5):
            while len(self.frames) < count:
                await self.arrived.wait()
        return self.frames


Connect = Callable[..., Awaitable[tuple[Peer, StreamClient]]]


@asynccontextmanager
async def running(hub: StreamHub) -> AsyncIterator[Connect]:
    clients: list[StreamClient] = []
    async with anyio.create_task_group() as tg:

        async def connect(stalled: bool = False) -> tuple[Peer, StreamClient]:
            peer = Peer(stalled)
            client = hub.connect(peer.send, peer.close)
            clients.append(client)
            tg.start_soon(client.run)
            return peer, client

        try:
            yield connect
        finally:
            for client in clients:
                client.stop()


def frozen_clock() -> int:
    return 1_000


GROUP = Subscription("todo", "inbox")
ITEM = Subscription("todo", "inbox", "t1")


async def test_timestamps_strictly_increase_even_when_the_clock_does_not() -> None:
    hub = StreamHub(clock=frozen_clock)
    assert [hub.next_timestamp() for _ in range(3)] == [1_000, 1_001, 1_002]


async def test_rooms_per_group_and_per_item_and_one_frame_per_client() -> None:
    hub = StreamHub(clock=frozen_clock)
    async with running(hub) as connect:
        (group_peer, group_client), (item_peer, item_client), (both_peer, both_client) = [
            await connect() for _ in range(3)]
        await hub.join(group_client, "g", GROUP, None)
        await hub.join(item_client, "i", ITEM, None)
        await hub.join(both_client, "g", GROUP, None)
        await hub.join(both_client, "i", ITEM, None)
        assert hub.publish(ITEM, {"type": "update", "data": {"id": "t1"}}) == 3
        assert hub.publish(GROUP, {"type": "event", "event": {"type": "ping", "data": 1}}) == 2
        # Same item id in another group: a different item room, nobody here.
        assert hub.publish(Subscription("todo", "other", "t1"), {"type": "create"}) == 0
        await group_peer.wait_for(2)
        await both_peer.wait_for(2)
        await item_peer.wait_for(1)
    assert group_peer.frames == both_peer.frames
    assert item_peer.frames == [group_peer.frames[0]]
    first, second = group_peer.frames
    assert first == {"timestamp": first["timestamp"], "streamName": "todo", "groupId": "inbox",
                     "id": "t1", "event": {"type": "update", "data": {"id": "t1"}}}
    assert "id" not in second
    assert second["timestamp"] == first["timestamp"] + 1  # the clock is frozen


async def test_leave_stops_delivery_and_empty_rooms_are_deleted() -> None:
    hub = StreamHub()
    async with running(hub) as connect:
        peer, client = await connect()
        await hub.join(client, "a", GROUP, None)
        await hub.join(client, "b", GROUP, None)  # two subscriptions, one room
        assert hub.room_count == 1
        assert hub.leave(client, "a")
        assert hub.publish(GROUP, {"type": "create", "data": {"id": "x"}}) == 1
        assert hub.leave(client, "b")
        assert not hub.leave(client, "b")
        assert hub.room_count == 0
        assert hub.publish(GROUP, {"type": "create", "data": {"id": "y"}}) == 0
        await peer.wait_for(1)
        await hub.join(client, "c", ITEM, None)
        hub.disconnect(client)
        assert hub.room_count == 0
        assert hub.clients == set()
    assert [f["event"]["data"]["id"] for f in peer.frames] == ["x"]


async def test_a_change_during_the_sync_read_follows_the_sync_and_is_not_lost() -> None:
    hub = StreamHub(clock=frozen_clock)
    async with running(hub) as connect:
        peer, client = await connect()
        reading = anyio.Event()
        go_on = anyio.Event()

        async def snapshot() -> Any:
            reading.set()
            await go_on.wait()
            return [{"id": "a"}]

        async with anyio.create_task_group() as tg:
            tg.start_soon(hub.join, client, "g", GROUP, snapshot)
            await reading.wait()
            assert hub.publish(GROUP, {"type": "create", "data": {"id": "b"}}) == 1
            go_on.set()
        frames = await peer.wait_for(2)
    assert [f["event"]["type"] for f in frames] == ["sync", "create"]
    assert frames[0]["event"]["data"] == [{"id": "a"}]
    assert frames[0]["timestamp"] < frames[1]["timestamp"]


async def test_no_sync_frame_when_the_snapshot_reads_none() -> None:
    hub = StreamHub()
    async with running(hub) as connect:
        peer, client = await connect()

        async def missing() -> Any:
            return None

        await hub.join(client, "i", ITEM, missing)
        hub.publish(ITEM, {"type": "create", "data": {"id": "t1"}})
        frames = await peer.wait_for(1)
    assert [f["event"]["type"] for f in frames] == ["create"]


async def test_a_client_that_cannot_keep_up_is_closed_and_the_others_get_everything() -> None:
    hub = StreamHub(max_queued_frames=8, max_queued_bytes=1 << 20)
    async with running(hub) as connect:
        slow_peer, slow = await connect(stalled=True)
        fast_peer, fast = await connect()
        await hub.join(slow, "s", GROUP, None)
        await hub.join(fast, "f", GROUP, None)
        for n in range(20):
            hub.publish(GROUP, {"type": "event", "event": {"type": "tick", "data": n}})
            await fast_peer.wait_for(n + 1)
        with anyio.fail_after(5):
            await slow_peer.closed.wait()
    assert hub.dropped_slow == 1
    assert slow_peer.closed_with is not None
    code, reason = slow_peer.closed_with
    assert code == CLOSE_TOO_SLOW
    assert "too slow" in reason and len(reason.encode()) <= 123
    assert [f["event"]["event"]["data"] for f in fast_peer.frames] == list(range(20))
    assert slow not in hub.clients


async def test_direct_writes_never_overtake_queued_frames() -> None:
    hub = StreamHub()
    written: list[int] = []
    room = True
    release = anyio.Event()

    def send_now(frame: bytes) -> bool:
        if room:
            written.append(json.loads(frame)["event"]["n"])
        return room

    async def send(frame: bytes) -> None:  # the pump's path: waits for the socket to drain
        await release.wait()
        written.append(json.loads(frame)["event"]["n"])

    async def close(_code: int, _reason: str) -> None:
        raise AssertionError("not closed")

    client = hub.connect(send, close, send_now=send_now)
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.run)
        await hub.join(client, "g", GROUP, None)
        hub.publish(GROUP, {"n": 1})  # room: written at once
        room = False
        hub.publish(GROUP, {"n": 2})  # no room: queued for the pump, which waits
        room = True
        hub.publish(GROUP, {"n": 3})  # room again, but 2 is still waiting: queued behind it
        assert written == [1]
        release.set()
        with anyio.fail_after(5):
            while len(written) < 3:
                await anyio.wait_all_tasks_blocked()
        client.stop()
    assert written == [1, 2, 3]


async def test_the_byte_bound_counts_too() -> None:
    hub = StreamHub(max_queued_frames=1000, max_queued_bytes=4096)
    async with running(hub) as connect:
        peer, client = await connect(stalled=True)
        await hub.join(client, "s", GROUP, None)
        for _ in range(10):
            hub.publish(GROUP, {"type": "event", "event": {"type": "blob", "data": "x" * 1000}})
        with anyio.fail_after(5):
            await peer.closed.wait()
    assert hub.dropped_slow == 1


async def test_store_changes_reach_the_hub_as_frames(
    store: tuple[StreamStore, list[Change]],
) -> None:
    streams, _changes = store
    hub = StreamHub()
    streams.listeners.append(hub.on_change)
    async with running(hub) as connect:
        peer, client = await connect()
        await hub.join(client, "g", GROUP, None)
        await streams.set("todo", "inbox", "t1", {"n": 1})
        await streams.set("todo", "inbox", "t1", {"n": 2})
        await streams.send("todo", "inbox", "t1", "note", "hi")
        await streams.delete("todo", "inbox", "t1")
        await streams.delete("todo", "inbox", "t1")  # nothing deleted: no frame
        await streams.send("todo", "inbox", None, "done", None)
        frames = await peer.wait_for(5)
    assert [f["event"] for f in frames] == [
        {"type": "create", "data": {"n": 1, "id": "t1"}},
        {"type": "update", "data": {"n": 2, "id": "t1"}},
        {"type": "event", "event": {"type": "note", "data": "hi"}},
        {"type": "delete", "data": {"n": 2, "id": "t1"}},
        {"type": "event", "event": {"type": "done", "data": None}},
    ]
    stamps = [f["timestamp"] for f in frames]
    assert stamps == sorted(set(stamps))
    assert all("__motia" not in json.dumps(f) for f in frames)


async def test_close_all_closes_every_client_with_going_away() -> None:
    hub = StreamHub()
    async with running(hub) as connect:
        peers = [await connect() for _ in range(3)]
        hub.close_all()
        with anyio.fail_after(5):
            for peer, _client in peers:
                await peer.closed.wait()
    assert {peer.closed_with for peer, _ in peers} == {(1001, "server shutting down")}


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        StreamHub(max_queued_frames=0)
