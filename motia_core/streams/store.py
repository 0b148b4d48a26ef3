"""Stream items kept in a state adapter of their own, and the listeners told of every change.

A stream item lives under ``(stream, group, id)``. It is stored in a state adapter (so it gets
the same durability as state: SQLite by default) whose group is the stream name and group id
joined by a character that cannot appear in either by accident. Every change and every ``send``
goes to the listeners, which is where a WebSocket hub subscribes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motia_core.state import StateAdapter

__all__ = ("StreamListener", "StreamStore")

# (stream, group, id or None, kind, payload): kind is "create" | "update" | "delete" | "event".
StreamListener = Callable[[str, str, "str | None", str, Any], None]

_SEP = "\x1f"  # ASCII unit separator: never in a stream name or a group id a person types


def _group(stream: str, group: str) -> str:
    return f"stream{_SEP}{stream}{_SEP}{group}"


def _with_id(data: Any, item_id: str) -> Any:
    # Motia returns items with their id; a non-object item is returned as stored.
    return {**data, "id": item_id} if isinstance(data, dict) else data


class StreamStore:
    def __init__(self, storage: StateAdapter) -> None:
        self.storage = storage
        self.listeners: list[StreamListener] = []

    def _notify(self, stream: str, group: str, item_id: str | None, kind: str,
                payload: Any) -> None:
        for listener in self.listeners:
            listener(stream, group, item_id, kind, payload)

    async def get(self, stream: str, group: str, item_id: str) -> Any:
        value = await self.storage.get(_group(stream, group), item_id)
        return None if value is None else _with_id(value, item_id)

    async def set(self, stream: str, group: str, item_id: str, data: Any) -> Any:
        key = _group(stream, group)
        existed = await self.storage.get(key, item_id) is not None
        item = _with_id(data, item_id)
        await self.storage.set(key, item_id, item)
        self._notify(stream, group, item_id, "update" if existed else "create", item)
        return item

    async def delete(self, stream: str, group: str, item_id: str) -> Any:
        removed = await self.storage.delete(_group(stream, group), item_id)
        if removed is not None:
            self._notify(stream, group, item_id, "delete", removed)
        return removed

    async def get_group(self, stream: str, group: str) -> list[Any]:
        return await self.storage.get_group(_group(stream, group))

    async def send(self, stream: str, group: str, item_id: str | None, event_type: str,
                   data: Any) -> None:
        """An ephemeral event to the channel's subscribers; nothing is stored."""
        self._notify(stream, group, item_id, "event", {"type": event_type, "data": data})
