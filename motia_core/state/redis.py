"""State on a Redis server, shared by every motia-core instance pointed at it.

One hash per group (``<prefix>state:<group>``, field = key, value = the JSON text), and one set
of the groups that hold keys (``<prefix>state-index``), so listing groups needs no ``SCAN`` over
the whole server. Group and key are separate (hash name and field), so no delimiter can mix two
groups up; the prefix is fixed per store, so ``state:<group>`` names one group only.

The set and the hashes change together: ``set`` and ``delete`` run as Lua scripts (``delete``
reads, deletes, and drops the group from the index when it emptied) and ``clear`` as a
``MULTI`` transaction, so another instance never sees a group listed without keys or the
reverse. Key order (code
point order, which is UTF-8 byte order) is made by sorting: a hash keeps none.

Durability is the server's: what ``set`` returned is in Redis; whether it survives a Redis
restart depends on the server's ``appendonly``/``save`` settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio
import redis.exceptions

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
from motia_core.storage.redis import DEFAULT_PREFIX, connect, mapped_errors, ping, redact
from motia_core.storage.resp import RespConnection

__all__ = ("RedisState",)

# KEYS: the group's hash, the index; ARGV: the key, the value, the group. One command where a
# MULTI of HSET and SADD is four for the client to pack and parse.
_SET = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
"""
_SET_SHA = hashlib.sha1(_SET.encode()).hexdigest()

# KEYS: the group's hash, the index; ARGV: the key, the group. Returns the old value or nil.
_DELETE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
end
return old
"""


class RedisState(StateAdapter):
    """``(group, key) -> value`` in Redis hashes under ``prefix``; connects on first use."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._client: redis.asyncio.Redis | None = None
        self._conn: RespConnection | None = None  # for get and set (storage/resp.py)
        self._closed = False
        self._index = f"{prefix}state-index".encode()

    def __repr__(self) -> str:
        return f"RedisState({redact(self.url)!r}, prefix={self.prefix!r})"

    async def open(self) -> None:
        """Check the server answers now, so a wrong URL fails at startup with its name."""
        try:
            await ping(self._check_open(), "state store")
        except ConnectionError as exc:
            raise StateError(str(exc)) from exc

    async def get(self, group: str, key: str) -> Any:
        check_name("group", group)
        check_name("key", key)
        async with self._errors() as conn:
            data = await conn.call("HGET", self._hash(group), key.encode())
        return None if data is None else decode_value(data)

    async def set(self, group: str, key: str, value: Any) -> Any:
        check_name("group", group)
        check_name("key", key)
        data, copy = encode_value(group, key, value)
        args = (2, self._hash(group), self._index, key.encode(), data, group.encode())
        async with self._errors() as conn:
            try:
                await conn.call("EVALSHA", _SET_SHA, *args)
            except redis.exceptions.ResponseError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                await conn.call("EVAL", _SET, *args)  # a new, restarted or flushed server
        return copy

    async def delete(self, group: str, key: str) -> Any:
        check_name("group", group)
        check_name("key", key)
        async with self._client_errors() as client:
            old = await client.eval(_DELETE, 2, self._hash(group), self._index, key.encode(),
                                    group.encode())
        return None if old is None else decode_value(old)

    async def get_group(self, group: str) -> list[Any]:
        check_name("group", group)
        async with self._client_errors() as client:
            entries = await client.hgetall(self._hash(group))
        return [decode_value(entries[k]) for k in sorted(entries)]

    async def clear(self, group: str) -> None:
        check_name("group", group)
        async with self._client_errors() as client:
            async with client.pipeline(transaction=True) as tx:
                tx.delete(self._hash(group))
                tx.srem(self._index, group.encode())
                await tx.execute()

    async def keys(self, group: str) -> list[str]:
        check_name("group", group)
        async with self._client_errors() as client:
            keys = await client.hkeys(self._hash(group))
        return [_text(k) for k in sorted(keys)]

    async def groups(self) -> list[str]:
        async with self._client_errors() as client:
            names = await client.smembers(self._index)
        return [_text(name) for name in sorted(names)]

    async def items(self, group: str | None = None) -> list[StateItem]:
        names = await self.groups() if group is None else [check_name("group", group)]
        async with self._client_errors() as client:
            async with client.pipeline(transaction=False) as batch:
                for name in names:
                    batch.hgetall(self._hash(name))
                found: list[dict[bytes, bytes]] = await batch.execute()
        result = []
        for name, entries in zip(names, found, strict=True):
            for key in sorted(entries):
                value = decode_value(entries[key])
                result.append(StateItem(group_id=name, key=key.decode(), type=value_type(value),
                                        value=value))
        return result

    async def aclose(self) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- internals ---------------------------------------------------------------------------

    def _hash(self, group: str) -> bytes:
        return f"{self.prefix}state:{group}".encode()

    def _check_open(self) -> str:
        if self._closed:
            raise StateClosed(f"the state store at {redact(self.url)} is closed; open a new "
                              "RedisState")
        return self.url

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[RespConnection]:
        """The lean connection (made on first use), with its failures raised as StateError."""
        async with self._client_errors():
            if self._conn is None:
                self._conn = RespConnection(self.url)
            yield self._conn

    @asynccontextmanager
    async def _client_errors(self) -> AsyncIterator[redis.asyncio.Redis]:
        """The client (made on first use), with its failures raised as StateError."""
        self._check_open()
        if self._client is None:
            try:
                self._client = connect(self.url)
            except ValueError as exc:
                raise StateError(f"{redact(self.url)} is not a Redis URL ({exc}); use e.g. "
                                 "redis://127.0.0.1:6379/0") from exc
        async with mapped_errors("state store", self.url, StateError):
            yield self._client


def _text(name: bytes | str) -> str:
    """A name as the client returned it (bytes: this client does not decode) as text."""
    return name.decode() if isinstance(name, bytes) else name
