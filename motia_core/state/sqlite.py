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

The change log (``keep_changes()``, for the stream items: streams/sqlite_fanout.py): every
``set``, ``delete`` and ``clear`` also appends one row per item changed to a ``changes`` table of
the same file, in the same transaction, so the log holds exactly what was committed and in the
order it was (the write lock orders the transactions of every process, and the row ids with
them). Each row names its writer (``origin``, one per ``SqliteState``), so a reader can skip its
own. ``log_changes`` appends rows that change no item (a stream's ephemeral events). The table is
created when first needed (``CREATE TABLE IF NOT EXISTS``, no schema version: an older motia-core
still opens the file) and keeps the last ``KEEP_CHANGES`` rows: each writer prunes it every
``PRUNE_EVERY`` rows it appended.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

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

__all__ = ("BUSY_TIMEOUT_S", "KEEP_CHANGES", "SCHEMA_VERSION", "SqliteState", "StateChange")

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

# The change log. AUTOINCREMENT: an id is never reused, even once pruning emptied the table, so
# a reader's "after id N" stays right.
_CHANGES_TABLE = (
    "CREATE TABLE IF NOT EXISTS changes ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, group_id TEXT NOT NULL,"
    " key TEXT, kind TEXT NOT NULL, value TEXT)"
)
_LOG = "INSERT INTO changes (origin, group_id, key, kind, value) VALUES (?, ?, ?, ?, ?)"
_PRUNE = "DELETE FROM changes WHERE id <= last_insert_rowid() - ?"
_CHANGES_AFTER = ("SELECT id, origin, group_id, key, kind, value FROM changes WHERE id > ?"
                  " ORDER BY id LIMIT ?")
_LAST_CHANGE = "SELECT seq FROM sqlite_sequence WHERE name = 'changes'"
_EXISTS = "SELECT 1 FROM state WHERE group_id = ? AND key = ?"
_GROUP_ROWS = "SELECT key, value FROM state WHERE group_id = ? ORDER BY key"
# Rows the change log keeps (a reader that falls further behind misses changes), and how many
# rows a writer appends between two prunings. A row holds the item as written: with items of
# 1 KB the log stays under 3 MB.
KEEP_CHANGES = 2_000
PRUNE_EVERY = 200


class StateChange(NamedTuple):
    """One row of the change log: ``kind`` is "create", "update", "delete" or what
    ``log_changes`` was given; ``value`` the value written (the removed one for "delete")."""

    id: int
    origin: str
    group: str
    key: str | None
    kind: str
    value: Any


class SqliteState(StateAdapter):
    """``(group, key) -> value`` in one table of a SQLite file; the parent directory is created."""

    def __init__(self, path: str | os.PathLike[str], *, full_sync: bool = False) -> None:
        self.path = Path(path)
        self.full_sync = full_sync
        # Set by keep_changes(): this store's name in the change log's rows.
        self.origin: str | None = None
        self._appended = 0  # change rows appended since the last pruning
        self._db = Database(self.path, name="state", error=StateError,
                            closed=self._closed_error, full_sync=full_sync,
                            migrations=_MIGRATIONS, holds="the state it holds",
                            after=self._opened)

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
        if self.origin is None:
            await self._run(self._execute, _SET, (group, key, data.decode()))
        else:
            await self._run(self._set_logged, (group, key, data.decode()))
        return copy

    async def delete(self, group: str, key: str) -> Any:
        args = (check_name("group", group), check_name("key", key))
        return await self._run(self._delete, args)

    async def get_group(self, group: str) -> list[Any]:
        rows = await self._db.read(self._fetch, _GET_GROUP, (check_name("group", group),))
        return [decode_value(value) for (value,) in rows]

    async def clear(self, group: str) -> None:
        if self.origin is None:
            await self._run(self._execute, _CLEAR, (check_name("group", group),))
        else:
            await self._run(self._clear_logged, check_name("group", group))

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

    # --- the change log (see the module docstring) -----------------------------------------------

    def keep_changes(self) -> None:
        """From now on every write appends to the file's change log; call before the first."""
        if self.origin is None:
            self.origin = uuid.uuid4().hex

    async def log_changes(self, changes: Sequence[tuple[str, str | None, str, Any]]) -> None:
        """Append ``(group, key, kind, value)`` rows that change no item, in one transaction."""
        if self.origin is None:
            raise RuntimeError("log_changes() needs keep_changes() first")
        rows = [(self.origin, group, key, kind, encode_value(group, key or "", value)[0].decode())
                for group, key, kind, value in changes]
        await self._run(self._append, rows)

    async def changes_after(self, after: int, limit: int) -> list[StateChange]:
        """Up to ``limit`` rows of the change log with ids above ``after``, oldest first."""
        rows = await self._db.read(self._fetch, _CHANGES_AFTER, (after, limit))
        return [StateChange(id, origin, group, key, kind,
                            None if value is None else decode_value(value))
                for id, origin, group, key, kind, value in rows]

    async def last_change(self) -> int:
        """The id of the last row ever appended to the change log (0 for none)."""
        rows = await self._db.read(self._fetch, _LAST_CHANGE, ())
        return int(rows[0][0]) if rows else 0

    async def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: it changes when another connection (another
        process) commits to the file; this store's own commits leave it alone."""
        rows = await self._db.read(self._fetch, "PRAGMA data_version", ())
        return int(rows[0][0])

    # --- on the connection (one call at a time; see _sqlite.Database) ----------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.run(fn, *args)

    @staticmethod
    def _get(conn: sqlite3.Connection, args: tuple[str, str]) -> Any:
        row = conn.execute(_GET, args).fetchone()
        return None if row is None else decode_value(row[0])

    def _delete(self, conn: sqlite3.Connection, args: tuple[str, str]) -> Any:
        # Read and delete in one write transaction: another process may be writing the same key.
        with write_transaction(conn):
            row = conn.execute(_GET, args).fetchone()
            if row is not None:
                conn.execute(_DELETE, args)
                if self.origin is not None:
                    self._log(conn, [(self.origin, *args, "delete", row[0])])
        return None if row is None else decode_value(row[0])

    @staticmethod
    def _execute(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> None:
        conn.execute(sql, args)

    def _opened(self, conn: sqlite3.Connection) -> None:
        if self.origin is not None:
            conn.execute(_CHANGES_TABLE)

    def _set_logged(self, conn: sqlite3.Connection, args: tuple[str, str, str]) -> None:
        with write_transaction(conn):
            existed = conn.execute(_EXISTS, args[:2]).fetchone() is not None
            conn.execute(_SET, args)
            self._log(conn, [(self.origin, args[0], args[1], "update" if existed else "create",
                              args[2])])

    def _clear_logged(self, conn: sqlite3.Connection, group: str) -> None:
        with write_transaction(conn):
            rows = conn.execute(_GROUP_ROWS, (group,)).fetchall()
            conn.execute(_CLEAR, (group,))
            self._log(conn, [(self.origin, group, key, "delete", value) for key, value in rows])

    def _append(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        with write_transaction(conn):
            self._log(conn, rows)

    def _log(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        """Append change rows, inside the caller's write transaction; prune now and then."""
        if not rows:
            return
        conn.executemany(_LOG, rows)
        self._appended += len(rows)
        if self._appended >= PRUNE_EVERY:
            self._appended = 0
            conn.execute(_PRUNE, (KEEP_CHANGES,))

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, args: tuple[str, ...]) -> list[Any]:
        return conn.execute(sql, args).fetchall()

    def _closed_error(self) -> StateClosed:
        return StateClosed(f"the state store {str(self.path)!r} is closed; open a new SqliteState")
