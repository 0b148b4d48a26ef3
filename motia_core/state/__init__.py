"""Step state: ``(group, key) -> JSON value``, behind one narrow adapter interface.

``open_state("sqlite", project / ".motia")`` is the default store; ``"memory"`` is for tests and
throwaway runs. base.py says what every adapter guarantees (key order, null, copies, errors).

    async with open_state("sqlite", motia_dir) as state:
        await state.set("orders", "42", {"status": "paid"})
        await state.get_group("orders")  # [{"status": "paid"}]
"""

from __future__ import annotations

from pathlib import Path

from motia_core.state.base import (
    InvalidStateValue,
    StateAdapter,
    StateClosed,
    StateError,
    StateItem,
    ValueType,
)
from motia_core.state.memory import MemoryState, StateOperation
from motia_core.state.sqlite import SqliteState

__all__ = (
    "SQLITE_FILENAME",
    "STATE_KINDS",
    "InvalidStateValue",
    "MemoryState",
    "SqliteState",
    "StateAdapter",
    "StateClosed",
    "StateError",
    "StateItem",
    "StateOperation",
    "UnknownStateAdapter",
    "ValueType",
    "open_state",
)

# The kinds open_state() knows, default first.
STATE_KINDS = ("sqlite", "memory")
# Kinds that exist in Motia but not here yet; named in the error so nobody thinks it is a typo.
# The Redis adapter (state/redis.py) lands with the Redis issue: add a branch in open_state() and
# move "redis" to STATE_KINDS; it will need a URL, so it will read one from a keyword argument.
_PLANNED_KINDS = ("redis",)
# The SQLite store's file name inside the project's .motia/ directory.
SQLITE_FILENAME = "state.sqlite3"


class UnknownStateAdapter(StateError, ValueError):
    """The configured state adapter kind does not exist."""


def open_state(kind: str, motia_dir: Path) -> StateAdapter:
    """A state store of ``kind`` ("sqlite" or "memory", any case) for the project's ``.motia/``.

    Nothing is touched on disk until ``await state.open()``, ``async with state`` or the first
    operation; close it with ``await state.aclose()``.
    """
    name = kind.strip().lower()
    if name == "sqlite":
        return SqliteState(Path(motia_dir) / SQLITE_FILENAME)
    if name == "memory":
        return MemoryState()
    valid = ", ".join(repr(k) for k in STATE_KINDS)
    if name in _PLANNED_KINDS:
        raise UnknownStateAdapter(
            f"the {name!r} state adapter is not available in this version of motia-core; "
            f"use one of {valid}"
        )
    raise UnknownStateAdapter(f"unknown state adapter {kind!r}; valid kinds are {valid}")
