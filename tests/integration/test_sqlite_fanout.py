"""Stream fan-out through the SQLite stream file's change log: a change stored by process A
reaches the clients of process B's hub, in the order A stored it, and no process hears its own
changes twice. Two ``SqliteState``s on one file stand for the two processes (each its own
connection, so SQLite tells them apart exactly as it tells processes apart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from motia_core.state import sqlite as state_sqlite
from motia_core.state.sqlite import KEEP_CHANGES, PRUNE_EVERY, SqliteState
from motia_core.streams import StreamHub, StreamStore, Subscription
from motia_core.streams.sqlite_fanout import SqliteFanout
from tests.support import Peer

pytestmark = pytest.mark.anyio

BOUND_S = 10.0


def _process(path: Path) -> tuple[StreamStore, StreamHub, SqliteFanout]:
    """What the app wires for streams on SQLite, in one "process"."""
    storage = SqliteState(path)
    hub = StreamHub()
    fanout = SqliteFanout(storage, active=lambda: hub.room_count > 0)
    store = StreamStore(storage)
    store.listeners.append(hub.on_change)
    store.listeners.append(fanout.on_change)
    store.wait_sent.append(fanout.wait_sent)
    fanout.listeners.append(hub.on_change)
    return store, hub, fanout


async def test_a_change_in_one_process_reaches_a_hub_in_another_in_order(
    tmp_path: Path,
) -> None:
    count = 50
    path = tmp_path / "streams.sqlite3"
    store_a, hub_a, fanout_a = _process(path)
    store_b, hub_b, fanout_b = _process(path)
    peer_b = Peer(expected=count + 2)  # create, updates, an ephemeral event, the delete
    peer_a = Peer(expected=count + 2)  # A's own subscriber hears each change once
    for hub, peer in ((hub_a, peer_a), (hub_b, peer_b)):
        client = hub.connect(peer.send, peer.close, send_now=peer.send_now)
        await hub.join(client, "sub", Subscription("progress", "job-1", "item"), None)

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            await tg.start(fanout_a.run)
            await tg.start(fanout_b.run)
            for step in range(count):
                await store_a.set("progress", "job-1", "item", {"step": step})
            await store_a.send("progress", "job-1", "item", "tick", {"n": 1})
            await store_a.delete("progress", "job-1", "item")
            await peer_b.done.wait()
            await fanout_a.follow()  # A reads its own rows now: they must not reach peer_a
            tg.cancel_scope.cancel()
    for store in (store_a, store_b):
        await store.storage.aclose()

    for peer in (peer_a, peer_b):
        events = [frame["event"] for frame in peer.frames]
        assert [e["type"] for e in events] == ["create"] + ["update"] * (count - 1) + [
            "event", "delete"]
        assert [e["data"]["step"] for e in events[:count]] == list(range(count))
        assert events[count] == {"type": "event", "event": {"type": "tick", "data": {"n": 1}}}
        assert events[-1]["data"] == {"step": count - 1, "id": "item"}
        assert {(f["streamName"], f["groupId"], f["id"]) for f in peer.frames} == {
            ("progress", "job-1", "item")}
    assert fanout_a.last == fanout_b.last > 0


async def test_the_log_row_is_committed_with_the_item_and_the_log_is_pruned(
    tmp_path: Path,
) -> None:
    """A write that returned is in the log (a process killed right after cannot take its change
    with it), another connection reads it at once, and the log keeps its last rows only."""
    path = tmp_path / "streams.sqlite3"
    writer, reader = SqliteState(path), SqliteState(path)
    writer.keep_changes()
    reader.keep_changes()
    try:
        await writer.set("g", "k", {"v": 1})
        await writer.set("g", "k", {"v": 2})
        assert await writer.delete("g", "k") == {"v": 2}
        await writer.set("g", "k2", 1)
        await writer.clear("g")
        rows = await reader.changes_after(0, 10)
        assert [(r.key, r.kind, r.value) for r in rows] == [
            ("k", "create", {"v": 1}), ("k", "update", {"v": 2}), ("k", "delete", {"v": 2}),
            ("k2", "create", 1), ("k2", "delete", 1)]
        assert {r.origin for r in rows} == {writer.origin} != {reader.origin}
        total = KEEP_CHANGES + 2 * PRUNE_EVERY
        for n in range(total // 100):  # bounded: a few thousand rows, 100 a call
            await writer.log_changes([("g", None, "event", n)] * 100)
        last = await reader.last_change()
        assert last == 5 + total
        kept = await reader.changes_after(0, total)
        assert KEEP_CHANGES <= len(kept) < KEEP_CHANGES + PRUNE_EVERY
        assert kept[-1].id == last and kept[0].id == last - len(kept) + 1
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_a_follower_without_subscribers_only_keeps_its_place(tmp_path: Path) -> None:
    path = tmp_path / "streams.sqlite3"
    store_a, _hub_a, _fanout_a = _process(path)
    heard: list[tuple[Any, ...]] = []
    storage_b = SqliteState(path)
    listening = False
    fanout_b = SqliteFanout(storage_b, active=lambda: listening)
    fanout_b.listeners.append(lambda *change: heard.append(change))
    try:
        await store_a.storage.open()
        await storage_b.open()
        await fanout_b.follow()
        await store_a.set("s", "g", "old", {"n": 1})
        await fanout_b.follow()
        assert heard == [] and fanout_b.last > 0
        listening = True
        await store_a.set("s", "g", "new", {"n": 2})
        await fanout_b.follow()
        assert [change[:4] for change in heard] == [("s", "g", "new", "create")]
    finally:
        await store_a.storage.aclose()
        await storage_b.aclose()


async def test_a_follower_too_far_behind_says_how_many_changes_it_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(state_sqlite, "KEEP_CHANGES", 10)
    monkeypatch.setattr(state_sqlite, "PRUNE_EVERY", 5)
    path = tmp_path / "streams.sqlite3"
    store_a, _hub_a, _fanout_a = _process(path)
    storage_b = SqliteState(path)
    fanout_b = SqliteFanout(storage_b)
    heard: list[tuple[Any, ...]] = []
    fanout_b.listeners.append(lambda *change: heard.append(change))
    try:
        await store_a.storage.open()
        await storage_b.open()
        await fanout_b.follow()
        for n in range(30):
            await store_a.set("s", "g", "item", {"n": n})
        await fanout_b.follow()
    finally:
        await store_a.storage.aclose()
        await storage_b.aclose()
    steps = [change[4]["n"] for change in heard]
    assert steps == list(range(30 - len(steps), 30)) and 10 <= len(steps) < 15
    assert fanout_b.missed == 30 - len(steps)
    assert "were pruned from the log before this process read them" in caplog.text
