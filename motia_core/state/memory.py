"""State kept in the process: the reference adapter, for tests and throwaway runs.

A real implementation of the contract (it passes the same suite as SQLite), shipped in the library
so users can test their steps against it. Values are held as JSON text, which gives the copy
semantics for free and makes the memory adapter reject and accept exactly what SQLite does.
Two helpers exist for tests: ``operations`` (what steps did, in order: the latest
``OPERATION_LOG_SIZE``, so a long-running ``--state memory`` server does not grow without end) and
``reset()``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal, NamedTuple

from motia_core.state.base import (
    StateAdapter,
    StateClosed,
    StateItem,
    check_name,
    decode_value,
    encode_value,
    value_type,
)

__all__ = ("OPERATION_LOG_SIZE", "MemoryState", "OperationName", "StateOperation")

# How many operations ``MemoryState.operations`` keeps (the oldest are dropped beyond it).
OPERATION_LOG_SIZE = 10_000

# The names traces use for state operations (MOTIA_CONTRACT 8.2), so a test can compare the two.
OperationName = Literal["get", "set", "delete", "getGroup", "clear"]


class StateOperation(NamedTuple):
    """One data operation, as logged by ``MemoryState.operations``; ``key`` is None for group ops.

    A plain tuple underneath: ``("set", "orders", "42")`` compares equal to it.
    """

    op: OperationName
    group: str
    key: str | None


class MemoryState(StateAdapter):
    """``(group, key) -> value`` in a dict of dicts; nothing survives the process."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[str, bytes]] = {}
        self._closed = False
        # Every get/set/delete/getGroup/clear that passed validation, oldest first (the latest
        # OPERATION_LOG_SIZE). Admin reads (keys, groups, items) are not logged: they are not
        # something a step does.
        self.operations: deque[StateOperation] = deque(maxlen=OPERATION_LOG_SIZE)

    def reset(self) -> None:
        """Forget every value and the operation log, e.g. between two tests sharing a store."""
        self._groups.clear()
        self.operations.clear()

    def _log(self, op: OperationName, group: str, key: str | None = None) -> None:
        self._check_open()
        self.operations.append(StateOperation(op, group, key))

    async def get(self, group: str, key: str) -> Any:
        check_name("group", group)
        check_name("key", key)
        self._log("get", group, key)
        data = self._groups.get(group, {}).get(key)
        return None if data is None else decode_value(data)

    async def set(self, group: str, key: str, value: Any) -> Any:
        check_name("group", group)
        check_name("key", key)
        data, copy = encode_value(group, key, value)
        self._log("set", group, key)
        self._groups.setdefault(group, {})[key] = data
        return copy

    async def delete(self, group: str, key: str) -> Any:
        check_name("group", group)
        check_name("key", key)
        self._log("delete", group, key)
        entries = self._groups.get(group)
        if entries is None or key not in entries:
            return None
        data = entries.pop(key)
        if not entries:
            del self._groups[group]
        return decode_value(data)

    async def get_group(self, group: str) -> list[Any]:
        check_name("group", group)
        self._log("getGroup", group)
        entries = self._groups.get(group, {})
        return [decode_value(entries[key]) for key in sorted(entries)]

    async def clear(self, group: str) -> None:
        check_name("group", group)
        self._log("clear", group)
        self._groups.pop(group, None)

    async def keys(self, group: str) -> list[str]:
        check_name("group", group)
        self._check_open()
        return sorted(self._groups.get(group, {}))

    async def groups(self) -> list[str]:
        self._check_open()
        return sorted(self._groups)

    async def items(self, group: str | None = None) -> list[StateItem]:
        self._check_open()
        if group is None:
            names = sorted(self._groups)
        else:
            names = [check_name("group", group)]
        result = []
        for name in names:
            entries = self._groups.get(name, {})
            for key in sorted(entries):
                value = decode_value(entries[key])
                result.append(StateItem(group_id=name, key=key, type=value_type(value),
                                        value=value))
        return result

    async def aclose(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StateClosed("the memory state store is closed; open a new MemoryState")
