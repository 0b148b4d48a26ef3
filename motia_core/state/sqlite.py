"""State in a SQLite file under the project's ``.motia/``: the default, with nothing to install.

Durable: every write is committed in WAL mode before its call returns (writes of one turn of the
loop share a commit: storage/sqlite.py), so a value whose ``set`` has
returned survives the process being killed, and any other connection (a second ``SqliteState``,
``motia state get`` from a terminal) sees it. With the default ``synchronous=NORMAL`` a power cut
may lose the last commits; ``full_sync=True`` fsyncs every commit to close that window too.

One connection (a ``_sqlite.Database``), opened on first use: calls run on the event loop, and in a
worker thread only when another process holds the file locked, or with ``full_sync``. The same
SQL strings are reused so sqlite3's statement cache keeps them prepared. The file carries a schema
version (``PRAGMA user_version``) and ``_MIGRATIONS`` brings older files up to date on open.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from motia_core.state.base import (
    StateAdapter,
    StateClosed,
    StateError,
    StateItem,
    check_name,
    decode_value,
    encode_value,
    value_type,
)
from motia_core.storage.sqlite import BUSY_TIMEOUT_S, Database, write_transaction

__all__ = ("BUSY_TIMEOUT_S", "SCHEMA_VERSION", "SqliteState")

T = TypeVar("T")


# _MIGRATIONS[n] takes a file from schema version n to n + 1, in one transaction. Append only.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Group and key are separate columns: no delimiter, so no prefix confusion. The primary
        # key's b-tree gives get, get_group and keys their key order without sorting.
        "CREATE TABLE state ("
        " group_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY (group_id, key)) WITHOUT ROWID",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_GET = "SELECT value FROM state WHERE group_id = ? AND key = ?"
_SET = (
    "INSERT INTO state (group_id, key, value) VALUES (?, ?, ?)"
    " ON CONFLICT (group_id, key) DO UPDATE SET value = excluded.value"
)
_DELETE = "DELETE FROM state WHERE group_id = ? AND key = ?"
_GET_GROUP = "SELECT value FROM state WHERE group_id = ? ORDER BY key"
_CLEAR = "DELETE FROM state WHERE group_id = ?"
_KEYS = "SELECT key FROM state WHERE group_id = ? ORDER BY key"
_GROUPS = "SELECT DISTINCT group_id FROM state ORDER BY group_id"
_ITEMS = "SELECT group_id, key, value FROM state ORDER BY group_id, key"
_GROUP_ITEMS = "SELECT group_id, key, value FROM state WHERE group_id = ? ORDER BY key"


class SqliteState(StateAdapter):
    """``(group, key) -> value`` in one table of a SQLite file; the parent directory is created."""

    def __init__(self, path: str | os.PathLike[str], *, full_sync: bool = False) -> None:
        self.path = Path(path)
        self.full_sync = full_sync
        self._db = Database(self.path, name="state", error=StateError,
                            closed=self._closed_error, full_sync=full_sync,
                            migrations=_MIGRATIONS, holds="the state it holds")

    def __repr__(self) -> str:
        return f"SqliteState({str(self.path)!r})"

    # --- the interface --------------------------------------------------------------------------

    async def open(self) -> None:
        await self._run(lambda conn: None)

    async def get(self, group: str, key: str) -> Any:
        args = (check_name("group", group), check_name("key", key))
        return await self._db.read(self._get, args)

    async def set(self, group: str, key: str, value: Any) -> Any:
        check_name("group", group)
        check_name("key", key)
        data, copy = encode_value(group, key, value)
        await self._run(self._execute, _SET, (group, key, data.decode()))
        return copy

    async def delete(self, group: str, key: str) -> Any:
        args = (check_name("group", group), check_name("key", key))
        return await self._run(self._delete, args)

    async def get_group(self, group: str) -> list[Any]:
        rows = await self._db.read(self._fetch, _GET_GROUP, (check_name("group", group),))
        return [decode_value(value) for (value,) in rows]

    async def clear(self, group: str) -> None:
        await self._run(self._execute, _CLEAR, (check_name("group", group),))

    async def keys(self, group: str) -> list[str]:
        rows = await self._db.read(self._fetch, _KEYS, (check_name("group", group),))
        return [key for (key,) in rows]

    async def groups(self) -> list[str]:
        rows = await self._db.scan(self._fetch, _GROUPS, ())
        return [group for (group,) in rows]

    async def items(self, group: str | None = None) -> list[StateItem]:
        if group is None:
            rows = await self._db.scan(self._fetch, _ITEMS, ())
        else:
            rows = await self._db.scan(self._fetch, _GROUP_ITEMS, (check_name("group", group),))
        result = []
        for group_id, key, text in rows:
            value = decode_value(text)
            result.append(StateItem(group_id=group_id, key=key, type=value_type(value),
                                    value=value))
        return result

    async def aclose(self) -> None:
        await self._db.aclose()  # calls queued behind us now fail with StateClosed

    # --- on the connection (one call at a time; see _sqlite.Database) ----------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.run(fn, *args)

    @staticmethod
    def _get(conn: sqlite3.Connection, args: tuple[str, str]) -> Any:
        row = conn.execute(_GET, args).fetchone()
        return None if row is None else decode_value(row[0])

    @staticmethod
    def _delete(conn: sqlite3.Connection, args: tuple[str, str]) -> Any:
        # Read and delete in one write transaction: another process may be writing the same key.
        with write_transaction(conn):
            row = conn.execute(_GET, args).fetchone()
            if row is not None:
                conn.execute(_DELETE, args)
        return None if row is None else decode_value(row[0])

    @staticmethod
    def _execute(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> None:
        conn.execute(sql, args)

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> list[Any]:
        return conn.execute(sql, args).fetchall()

    def _closed_error(self) -> StateClosed:
        return StateClosed(f"the state store {str(self.path)!r} is closed; open a new SqliteState")
