"""Stream items kept in a state adapter of their own, and the listeners told of every change.

A stream item lives under ``(stream, group, id)``. It is stored in a state adapter (so it gets
the same durability as state: SQLite by default) whose group is the stream name and group id
joined by a character that cannot appear in either by accident. Every change and every ``send``
goes to the listeners, which is where the WebSocket hub subscribes.

The semantics are the original's stream wrapper (MOTIA_CONTRACT 6.2), with one fix the issue
asks for: ``delete`` tells the listeners only when something was deleted (a ``delete`` frame with
``data: null`` crashes the group client). Items go back to steps with their ``id`` and the
``__motia`` marker the Workbench uses to live-subscribe to an item an API returned; the stored
item and what listeners receive never carry the marker.

Writes to one item are serialised, so "did it exist?" and the write are one step (two racing
``set``s of a new id give one ``create`` and one ``update``), and listeners hear the changes of
an item in the order they were stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from motia_core.state import StateAdapter

__all__ = ("MARKER_KEY", "StreamListener", "StreamStore", "is_falsy", "split_group",
           "storage_group", "with_marker", "without_marker")

log = logging.getLogger("motia.streams")

# (stream, group, id or None, kind, payload): kind is "create" | "update" | "delete" | "event".
StreamListener = Callable[[str, str, "str | None", str, Any], None]

MARKER_KEY = "__motia"
_SEP = "\x1f"  # ASCII unit separator: never in a stream name or a group id a person types


def storage_group(stream: str, group: str) -> str:
    """The state group that holds a stream group's items."""
    return f"stream{_SEP}{stream}{_SEP}{group}"


def split_group(name: str) -> tuple[str, str] | None:
    """``(stream, group)`` back from :func:`storage_group`'s name; None for another group."""
    prefix, _, rest = name.partition(_SEP)
    stream, sep, group = rest.partition(_SEP)
    return (stream, group) if prefix == "stream" and sep else None



def is_falsy(data: Any) -> bool:
    """JavaScript's falsiness, which the original's ``if (!data) return null`` applies.

    ``{}`` and ``[]`` are truthy in JavaScript (they are stored); ``None``, ``False``, ``0`` and
    ``""`` are not.
    """
    return data is None or data is False or data == "" or (
        isinstance(data, (int, float)) and not isinstance(data, bool) and data == 0)


def with_marker(item: Any, stream: str, group: str, item_id: str) -> Any:
    """The item as steps see it: with ``__motia: {type, streamName, groupId, id}``.

    Only objects can carry the marker; any other item is returned as stored.
    """
    if not isinstance(item, dict):
        return item
    marker = {"type": "state-stream", "streamName": stream, "groupId": group, "id": item_id}
    return {**item, MARKER_KEY: marker}


def without_marker(item: Any) -> Any:
    """The item as sockets and storage see it (the original's join handlers strip it too)."""
    if isinstance(item, dict) and MARKER_KEY in item:
        return {k: v for k, v in item.items() if k != MARKER_KEY}
    return item


def _stored(data: Any, item_id: str) -> Any:
    # Motia stores `{...data, id}`: the id given to set wins over one inside data. A non-object
    # item is stored as given. An item read back from a step still has the marker: drop it.
    return {**without_marker(data), "id": item_id} if isinstance(data, dict) else data


class _ItemLocks:
    """One lock per item being written, forgotten when its last writer leaves."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str, str], tuple[anyio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: tuple[str, str, str]) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (anyio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class StreamStore:
    """Every stream's items, over one state adapter; ``listeners`` hear every change."""

    def __init__(self, storage: StateAdapter) -> None:
        self.storage = storage
        self.listeners: list[StreamListener] = []
        # Awaited after the listeners heard a change and before the write returns: what must be
        # done with the change before the writer goes on (the Redis fan-out's publish).
        self.wait_sent: list[Callable[[], Awaitable[None]]] = []
        self._locks = _ItemLocks()

    async def _sent(self) -> None:
        for wait in self.wait_sent:
            await wait()

    def _notify(self, stream: str, group: str, item_id: str | None, kind: str,
                payload: Any) -> None:
        for listener in tuple(self.listeners):
            try:
                listener(stream, group, item_id, kind, payload)
            except Exception:  # a listener's bug must not fail the step that wrote the item
                log.exception("stream listener %r failed on %s %s/%s/%s", listener, kind,
                              stream, group, item_id, extra={"action": "streams.listener_error"})

    async def get(self, stream: str, group: str, item_id: str) -> Any:
        """The item with its marker, or None."""
        value = await self.storage.get(storage_group(stream, group), item_id)
        return None if value is None else with_marker(value, stream, group, item_id)

    async def set(self, stream: str, group: str, item_id: str, data: Any) -> Any:
        """Store ``{...data, id}`` and return it with its marker; None (nothing stored, nothing
        pushed) when ``data`` is falsy. Listeners hear ``create`` or ``update`` with the item."""
        if is_falsy(data):
            return None
        key = storage_group(stream, group)
        async with self._locks.hold((stream, group, item_id)):
            existed = await self.storage.get(key, item_id) is not None
            item = await self.storage.set(key, item_id, _stored(data, item_id))
            self._notify(stream, group, item_id, "update" if existed else "create", item)
        await self._sent()
        return with_marker(item, stream, group, item_id)

    async def delete(self, stream: str, group: str, item_id: str) -> Any:
        """Remove the item and return it with its marker, or None when there was none (and then
        listeners hear nothing)."""
        async with self._locks.hold((stream, group, item_id)):
            removed = await self.storage.delete(storage_group(stream, group), item_id)
            if removed is not None:
                self._notify(stream, group, item_id, "delete", removed)
        await self._sent()
        return None if removed is None else with_marker(removed, stream, group, item_id)

    async def get_group(self, stream: str, group: str) -> list[Any]:
        """Every item of the group in id order, each with its marker."""
        items = await self.storage.get_group(storage_group(stream, group))
        return [with_marker(item, stream, group, item["id"])
                if isinstance(item, dict) and isinstance(item.get("id"), str) else item
                for item in items]

    async def groups(self) -> list[tuple[str, str, int]]:
        """``(stream, group, item count)`` for every group holding items, for the Workbench."""
        found = []
        for name in await self.storage.groups():
            split = split_group(name)
            if split is not None:
                found.append((*split, len(await self.storage.keys(name))))
        return found

    async def items(self, stream: str, group: str) -> list[tuple[str, Any]]:
        """``(id, item)`` for every item of the group in id order, without markers."""
        return [(item.key, without_marker(item.value))
                for item in await self.storage.items(storage_group(stream, group))]

    async def send(self, stream: str, group: str, item_id: str | None, event_type: str,
                   data: Any) -> None:
        """An ephemeral event to the channel's subscribers; nothing is stored."""
        self._notify(stream, group, item_id, "event", {"type": event_type, "data": data})
        await self._sent()
