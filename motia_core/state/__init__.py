"""Step state: ``(group, key) -> JSON value``, behind one narrow adapter interface.

``open_state("sqlite", project / ".motia")`` is the default store; ``"memory"`` is for tests and
throwaway runs; ``"redis"`` (with ``redis_url=``) is shared by several motia-core instances.
base.py says what every adapter guarantees (key order, null, copies, errors).

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
from motia_core.storage.redis import DEFAULT_PREFIX

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
STATE_KINDS = ("sqlite", "memory", "redis")
# The SQLite store's file name inside the project's .motia/ directory.
SQLITE_FILENAME = "state.sqlite3"


class UnknownStateAdapter(StateError, ValueError):
    """The configured state adapter kind does not exist."""


def open_state(kind: str, motia_dir: Path, *, redis_url: str | None = None,
               redis_prefix: str = DEFAULT_PREFIX) -> StateAdapter:
    """A state store of ``kind`` ("sqlite", "memory" or "redis", any case).

    SQLite keeps its file in the project's ``.motia/`` (``motia_dir``); Redis needs
    ``redis_url`` and keeps its keys under ``redis_prefix``. Nothing is touched (on disk or on
    the network) until ``await state.open()``, ``async with state`` or the first operation;
    close it with ``await state.aclose()``.
    """
    name = kind.strip().lower()
    if name == "sqlite":
        return SqliteState(Path(motia_dir) / SQLITE_FILENAME)
    if name == "memory":
        return MemoryState()
    if name == "redis":
        if not redis_url:
            raise UnknownStateAdapter(
                "the 'redis' state adapter needs the server's URL: pass --redis-url "
                "redis://127.0.0.1:6379, set MOTIA_REDIS_URL, or set url under [redis] in "
                "motia.toml"
            )
        from motia_core.state.redis import RedisState  # redis-py only when asked for

        return RedisState(redis_url, prefix=redis_prefix)
    valid = ", ".join(repr(k) for k in STATE_KINDS)
    raise UnknownStateAdapter(f"unknown state adapter {kind!r}; valid kinds are {valid}")
