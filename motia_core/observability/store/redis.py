"""Traces and logs on a Redis server, shared by every instance that uses it (issue 17 item 6).

Several motia-core instances on one Redis each record what they run; a request handled on A and
the event it emitted handled on B write spans of one trace id, and any instance's API reads the
whole trace. So writes must merge without reading first: one Lua script per batch applies the
rules of ``base.py`` on the server, atomically:

* a trace is a hash ``<prefix>obs:t:<id>`` (``name`` of its first write, the earliest ``start``
  of the trace and its spans, ``root`` first given, ``dropped`` the largest, ``end`` and
  ``status`` as last written), indexed by start in the sorted set ``<prefix>obs:traces``;
* its spans are the hash ``<prefix>obs:s:<id>`` (span id -> the span's JSON, replaced whole); a
  span whose trace is not stored (pruned meanwhile) is dropped, as the other backends do;
* a log record's id is kept unless another instance used it already (ids are per process
  clocks): then it takes the next free one, so ids stay unique and growing across instances.
  Records are the hash ``<prefix>obs:log`` (id -> JSON) indexed by id and by time.

A trace's summary is derived when read, from all its spans (``summarize``), so a span written by
another instance always counts. Lists walk the index newest first and filter as they go.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import redis.asyncio
import redis.exceptions

from motia_core.observability.store.base import (
    LogEntry,
    LogQuery,
    ObservabilityBackend,
    Page,
    Retention,
    TraceQuery,
    TraceSummary,
    decode_cursor,
    encode_cursor,
    summarize,
)
from motia_core.observability.traces import Span, Trace
from motia_core.storage.redis import DEFAULT_PREFIX, connect, mapped_errors, redact
from motia_core.storage.resp import RespConnection

__all__ = ("RedisBackend", "RedisObservabilityError")

# Traces or log records read per round trip while a list walks its index.
_CHUNK = 200

# ARGV[1] prefix, ARGV[2] trace count, ARGV[3] span count, then 7 per trace (id, name, start,
# end or '', status, root or '', dropped), 4 per span (trace id, span id, start, JSON), 3 per
# log record (id, time, JSON without trusting its id).
_WRITE = """
local P = ARGV[1]
local traces, spans = tonumber(ARGV[2]), tonumber(ARGV[3])
local at = 4
local function lower_start(h, id, start)
  local current = tonumber(redis.call('HGET', h, 'start'))
  if current == nil or start < current then
    redis.call('HSET', h, 'start', start)
    redis.call('ZADD', P .. 'obs:traces', start, id)
  end
end
for _ = 1, traces do
  local id, name, start = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local h = P .. 'obs:t:' .. id
  redis.call('HSETNX', h, 'name', name)
  redis.call('HSET', h, 'end', ARGV[at + 3], 'status', ARGV[at + 4])
  if ARGV[at + 5] ~= '' then redis.call('HSETNX', h, 'root', ARGV[at + 5]) end
  local dropped = tonumber(ARGV[at + 6])
  if dropped > tonumber(redis.call('HGET', h, 'dropped') or '0') then
    redis.call('HSET', h, 'dropped', dropped)
  end
  lower_start(h, id, start)
  at = at + 7
end
for _ = 1, spans do
  local trace_id = ARGV[at]
  local h = P .. 'obs:t:' .. trace_id
  if redis.call('EXISTS', h) == 1 then
    redis.call('HSET', P .. 'obs:s:' .. trace_id, ARGV[at + 1], ARGV[at + 3])
    lower_start(h, trace_id, tonumber(ARGV[at + 2]))
  end
  at = at + 4
end
local last = tonumber(redis.call('GET', P .. 'obs:log_id') or '0')
while at <= #ARGV do
  local id = tonumber(ARGV[at])
  if redis.call('HEXISTS', P .. 'obs:log', ARGV[at]) == 1 or id <= last then
    id = math.max(id, last + 1)
  end
  if id > last then last = id end
  local key = string.format('%d', id)
  redis.call('HSET', P .. 'obs:log', key, ARGV[at + 2])
  redis.call('ZADD', P .. 'obs:logs', id, key)
  redis.call('ZADD', P .. 'obs:log_time', tonumber(ARGV[at + 1]), key)
  at = at + 3
end
redis.call('SET', P .. 'obs:log_id', string.format('%d', last))
return 1
"""
_WRITE_SHA = hashlib.sha1(_WRITE.encode()).hexdigest()

_encode = msgspec.json.Encoder(enc_hook=str).encode  # a user's odd log field becomes its str()
_span_decoder = msgspec.json.Decoder(Span)
_entry_decoder = msgspec.json.Decoder(LogEntry)


class RedisObservabilityError(Exception):
    """The Redis server of the trace and log store failed; the message names it."""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class RedisBackend(ObservabilityBackend):
    """Traces, spans and logs under ``prefix`` on the Redis server at ``url``."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._client: redis.asyncio.Redis | None = None
        # Writes go over storage/resp.py's lean connection: a batch is thousands of arguments,
        # which redis-py's encoder takes several times longer to pack.
        self._conn: RespConnection | None = None

    def __repr__(self) -> str:
        return f"RedisBackend({redact(self.url)!r}, prefix={self.prefix!r})"

    def _key(self, *parts: str) -> str:
        return self.prefix + "obs:" + ":".join(parts)

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[redis.asyncio.Redis]:
        if self._client is None:
            try:
                self._client = connect(self.url)
            except ValueError as exc:
                raise RedisObservabilityError(
                    f"{redact(self.url)} is not a Redis URL ({exc}); use e.g. "
                    "redis://127.0.0.1:6379/0") from exc
        async with mapped_errors("trace and log store", self.url, RedisObservabilityError):
            yield self._client

    # --- writing ---------------------------------------------------------------------------

    async def write(self, traces: Sequence[Trace], spans: Sequence[Span],
                    logs: Sequence[LogEntry]) -> None:
        if not (traces or spans or logs):
            return
        args: list[Any] = [self.prefix, len(traces), len(spans)]
        for t in traces:
            args += [t.id, t.name, t.start_ms, "" if t.end_ms is None else t.end_ms, t.status,
                     t.root_span_id or "", t.dropped_spans]
        for s in spans:
            args += [s.trace_id, s.id, s.start_ms, _encode(s)]
        for e in logs:
            args += [e.id, e.time, _encode(e)]
        async with self._errors():
            if self._conn is None:
                self._conn = RespConnection(self.url)
            try:
                await self._conn.call("EVALSHA", _WRITE_SHA, 0, *args)
            except redis.exceptions.ResponseError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                await self._conn.call("EVAL", _WRITE, 0, *args)  # a new or flushed server

    # --- reading ---------------------------------------------------------------------------

    async def _summaries(self, client: redis.asyncio.Redis, ids: Sequence[str],
                         ) -> list[tuple[TraceSummary, list[Span]] | None]:
        async with client.pipeline(transaction=False) as pipe:
            for trace_id in ids:
                pipe.hgetall(self._key("t", trace_id))
                pipe.hvals(self._key("s", trace_id))
            replies = await pipe.execute()
        found: list[tuple[TraceSummary, list[Span]] | None] = []
        for trace_id, fields, raw_spans in zip(ids, replies[::2], replies[1::2], strict=True):
            if not fields:
                found.append(None)
                continue
            f = {_text(k): _text(v) for k, v in fields.items()}
            end = f.get("end")
            base = Trace(id=trace_id, name=f.get("name") or trace_id,
                         start_ms=int(f.get("start") or 0),
                         end_ms=int(end) if end else None,
                         status=f.get("status") or "running",  # type: ignore[arg-type]
                         root_span_id=f.get("root") or None,
                         dropped_spans=int(f.get("dropped") or 0))
            spans = sorted((_span_decoder.decode(raw) for raw in raw_spans),
                           key=lambda s: (s.start_ms, s.id))
            found.append((summarize(base, spans), spans))
        return found

    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        async with self._errors() as client:
            [found] = await self._summaries(client, [trace_id])
        return found

    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]:
        after = decode_cursor(cursor, int, str) if cursor else None
        items: list[TraceSummary] = []
        async with self._errors() as client:
            top: str = "+inf" if after is None else str(after[0])
            offset = 0
            while len(items) <= limit:
                chunk: Any = await client.zrevrangebyscore(self._key("traces"), top, "-inf",
                                                      start=offset, num=_CHUNK, withscores=True)
                if not chunk:
                    break
                offset += len(chunk)
                ids = [trace_id for trace_id, score in
                       ((_text(m) or "", int(s)) for m, s in chunk)
                       if after is None or (score, trace_id) < after]
                for found in await self._summaries(client, ids):
                    if found is not None and query.matches(found[0]):
                        items.append(found[0])
                if len(chunk) < _CHUNK:
                    break
        if len(items) <= limit:
            return Page(items, None)
        last = items[limit - 1]
        return Page(items[:limit], encode_cursor(last.start_ms, last.id))

    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]:
        before = decode_cursor(cursor, int)[0] if cursor else None
        items: list[LogEntry] = []
        async with self._errors() as client:
            top = "+inf" if before is None else f"({before}"
            offset = 0
            while len(items) <= limit:
                keys: Any = await client.zrevrangebyscore(self._key("logs"), top, "-inf",
                                                     start=offset, num=_CHUNK)
                if not keys:
                    break
                offset += len(keys)
                for key, raw in zip(keys, await client.hmget(self._key("log"), keys),
                                    strict=True):
                    if raw is None:  # pruned meanwhile
                        continue
                    entry = _entry_decoder.decode(raw)
                    entry.id = int(_text(key) or 0)
                    if query.matches(entry):
                        items.append(entry)
                if len(keys) < _CHUNK:
                    break
        if len(items) <= limit:
            return Page(items, None)
        return Page(items[:limit], encode_cursor(items[limit - 1].id))

    # --- retention -------------------------------------------------------------------------

    async def prune(self, retention: Retention, now_ms: int) -> int:
        cutoff = retention.cutoff_ms(now_ms)
        async with self._errors() as client:
            doomed: set[Any] = set(await client.zrevrange(self._key("traces"),
                                                          retention.max_traces, -1))
            logs: set[Any] = set(await client.zrevrange(self._key("logs"), retention.max_logs,
                                                        -1))
            if cutoff is not None:
                doomed |= set(await client.zrangebyscore(self._key("traces"), "-inf",
                                                         f"({cutoff}"))
                logs |= set(await client.zrangebyscore(self._key("log_time"), "-inf",
                                                       f"({cutoff}"))
            async with client.pipeline(transaction=True) as pipe:
                for member in doomed:
                    trace_id = _text(member) or ""
                    pipe.delete(self._key("t", trace_id), self._key("s", trace_id))
                if doomed:
                    pipe.zrem(self._key("traces"), *doomed)
                if logs:
                    pipe.hdel(self._key("log"), *logs)
                    pipe.zrem(self._key("logs"), *logs)
                    pipe.zrem(self._key("log_time"), *logs)
                await pipe.execute()
        return len(doomed) + len(logs)

    async def aclose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
