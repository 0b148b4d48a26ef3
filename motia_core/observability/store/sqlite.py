"""Traces and logs in a SQLite file under the project's ``.motia/``: the default backend.

Spans are stored whole, as their JSON (the wire shape the API serves), beside the few columns
queries need; a trace's summary row is re-derived from its stored spans on each batch that
touches it (see ``base.py``). Writes run as one transaction per batch on the event loop through
``_sqlite.Database`` (a WAL append, no fsync); reads that walk rows run on its read-only
connection in a worker thread, so a Workbench page never holds up invocations.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from motia_core.observability.store.base import (
    LEVEL_RANK,
    LogEntry,
    LogQuery,
    ObservabilityBackend,
    Page,
    Retention,
    SpanFacts,
    TraceQuery,
    TraceSummary,
    decode_cursor,
    encode_cursor,
    summarize,
)
from motia_core.observability.traces import Span, Trace
from motia_core.storage.sqlite import Database, write_transaction

__all__ = ("FILE_NAME", "ObservabilityStoreError", "SqliteBackend")

FILE_NAME = "observability.sqlite3"

# _MIGRATIONS[n] takes a file from schema version n to n + 1. Append only.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE traces ("
        " id TEXT PRIMARY KEY, name TEXT NOT NULL, start_ms INTEGER NOT NULL,"
        " end_ms INTEGER, status TEXT NOT NULL, root_span_id TEXT,"
        " span_count INTEGER NOT NULL, dropped_spans INTEGER NOT NULL,"
        " steps TEXT NOT NULL, languages TEXT NOT NULL, error_message TEXT,"
        " trace BLOB NOT NULL)",
        "CREATE INDEX traces_newest ON traces (start_ms DESC, id DESC)",
        # Beside the whole span, the facts a trace's summary is derived from (base.SpanFacts),
        # so re-deriving it never decodes spans.
        "CREATE TABLE spans ("
        " id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,"
        " language TEXT, status TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER,"
        " error_message TEXT, span BLOB NOT NULL)",
        "CREATE INDEX spans_of_trace ON spans (trace_id, start_ms)",
        "CREATE TABLE logs ("
        " id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, level INTEGER NOT NULL,"
        " trace_id TEXT, step TEXT, message TEXT NOT NULL, entry BLOB NOT NULL)",
        "CREATE INDEX logs_of_trace ON logs (trace_id, id)",
        "CREATE INDEX logs_by_time ON logs (time_ms)",
    ),
)

_TRACE_COLUMNS = ("id, name, start_ms, end_ms, status, root_span_id, span_count, dropped_spans,"
                  " steps, languages, error_message")
# Upserts update in place (REPLACE would delete and re-insert, re-indexing every row).
_UPSERT_TRACE = (
    f"INSERT INTO traces ({_TRACE_COLUMNS}, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, start_ms = excluded.start_ms,"
    " end_ms = excluded.end_ms, status = excluded.status, root_span_id = excluded.root_span_id,"
    " span_count = excluded.span_count, dropped_spans = excluded.dropped_spans,"
    " steps = excluded.steps, languages = excluded.languages,"
    " error_message = excluded.error_message, trace = excluded.trace")
_FACTS = "id, name, kind, language, status, start_ms, end_ms, error_message"
_UPSERT_SPAN = (
    f"INSERT INTO spans (trace_id, {_FACTS}, span) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET status = excluded.status, end_ms = excluded.end_ms,"
    " error_message = excluded.error_message, span = excluded.span")
_INSERT_LOG = ("INSERT INTO logs (id, time_ms, level, trace_id, step, message, entry)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")

_encode = msgspec.json.Encoder(enc_hook=str).encode  # a user's odd log field becomes its str()
_trace_decoder = msgspec.json.Decoder(Trace)
_span_decoder = msgspec.json.Decoder(Span)
_entry_decoder = msgspec.json.Decoder(LogEntry)
_list_decoder = msgspec.json.Decoder(list[str])


class ObservabilityStoreError(Exception):
    """The trace and log store failed; the message names the file and what to do."""


class _Closed(ObservabilityStoreError):
    """The store was used after ``aclose()``."""


def _chunks(ids: Sequence[str]) -> Iterator[tuple[str, Sequence[str]]]:
    """``(placeholders, ids)`` in pieces SQLite's variable limit accepts."""
    for at in range(0, len(ids), 500):
        chunk = ids[at:at + 500]
        yield ", ".join("?" * len(chunk)), chunk


def _stored_traces(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Trace]:
    """The stored rows of ``ids`` (as written, before derivation)."""
    found: dict[str, Trace] = {}
    for marks, chunk in _chunks(ids):
        for trace_id, blob in conn.execute(
                f"SELECT id, trace FROM traces WHERE id IN ({marks})", chunk):
            found[trace_id] = _trace_decoder.decode(blob)
    return found


def _stored_facts(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list[SpanFacts]]:
    found: dict[str, list[SpanFacts]] = {}
    for marks, chunk in _chunks(ids):
        for row in conn.execute(
                f"SELECT trace_id, {_FACTS} FROM spans WHERE trace_id IN ({marks})", chunk):
            found.setdefault(row[0], []).append(SpanFacts(*row[1:]))
    return found


def _merge(trace: Trace, stored: Trace | None) -> Trace:
    """``trace`` with what the stored row keeps from earlier writes (see base.py)."""
    if stored is None:
        return trace
    return msgspec.structs.replace(trace, name=stored.name,
                                   start_ms=min(trace.start_ms, stored.start_ms),
                                   root_span_id=stored.root_span_id or trace.root_span_id,
                                   dropped_spans=max(trace.dropped_spans, stored.dropped_spans))


def _write(conn: sqlite3.Connection, traces: Sequence[Trace], spans: Sequence[Span],
           logs: Sequence[LogEntry]) -> None:
    with write_transaction(conn):
        touched = list(dict.fromkeys([*(t.id for t in traces), *(s.trace_id for s in spans)]))
        stored = _stored_traces(conn, touched)
        bases = {t.id: _merge(t, stored.get(t.id)) for t in traces}
        bases.update((i, stored[i]) for i in touched if i not in bases and i in stored)
        # Each span's facts, once: its row's columns, and its new trace's summary below.
        batch: dict[str, list[SpanFacts]] = {}
        span_rows = []
        for span in spans:
            if span.trace_id in bases:  # else its trace was pruned meanwhile
                facts = SpanFacts.of(span)
                batch.setdefault(span.trace_id, []).append(facts)
                span_rows.append((span.trace_id, *facts, _encode(span)))
        conn.executemany(_UPSERT_SPAN, span_rows)
        # A new trace's spans are all in this batch; a known one's are all in the file now.
        known = _stored_facts(conn, [i for i in bases if i in stored])
        rows = []
        for trace_id, base in bases.items():
            s = summarize(base, known.get(trace_id, []) if trace_id in stored
                          else batch.get(trace_id, []))
            rows.append((s.id, s.name, s.start_ms, s.end_ms, s.status, s.root_span_id,
                         s.span_count, s.dropped_spans, _encode(s.steps), _encode(s.languages),
                         s.error_message, _encode(base)))
        conn.executemany(_UPSERT_TRACE, rows)
        conn.executemany(_INSERT_LOG, [
            (e.id, e.time, LEVEL_RANK.get(e.level, 20), e.trace_id, e.step, e.message,
             _encode(e)) for e in _after_last(conn, logs)])


def _after_last(conn: sqlite3.Connection, logs: Sequence[LogEntry]) -> list[LogEntry]:
    """``logs`` with ids above every stored one: a record whose id another process (sharing
    the file) has already used, or passed, takes the next free id, as on Redis; within one
    process ids only grow, so its records keep theirs."""
    last = conn.execute("SELECT max(id) FROM logs").fetchone()[0] or 0
    out = []
    for entry in logs:
        if entry.id <= last:
            entry = msgspec.structs.replace(entry, id=last + 1)
        last = entry.id
        out.append(entry)
    return out


def _summary(row: Sequence[Any]) -> TraceSummary:
    return TraceSummary(id=row[0], name=row[1], start_ms=row[2], end_ms=row[3], status=row[4],
                        root_span_id=row[5], span_count=row[6], dropped_spans=row[7],
                        steps=_list_decoder.decode(row[8]),
                        languages=_list_decoder.decode(row[9]), error_message=row[10])


def _get_trace(conn: sqlite3.Connection, trace_id: str,
               ) -> tuple[TraceSummary, list[Span]] | None:
    row = conn.execute(f"SELECT {_TRACE_COLUMNS} FROM traces WHERE id = ?",
                       (trace_id,)).fetchone()
    if row is None:
        return None
    spans = [_span_decoder.decode(r[0]) for r in conn.execute(
        "SELECT span FROM spans WHERE trace_id = ? ORDER BY start_ms, id", (trace_id,))]
    return _summary(row), spans


def _traces(conn: sqlite3.Connection, query: TraceQuery, limit: int,
            after: tuple[Any, ...] | None) -> Page[TraceSummary]:
    where: list[str] = ["1"]
    args: list[Any] = []
    if after is not None:
        where.append("(start_ms, id) < (?, ?)")
        args += list(after)
    if query.status is not None:
        where.append("status = ?")
        args.append(query.status)
    if query.step is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(traces.steps) WHERE value = ?)")
        args.append(query.step)
    if query.since_ms is not None:
        where.append("start_ms >= ?")
        args.append(query.since_ms)
    if query.until_ms is not None:
        where.append("start_ms <= ?")
        args.append(query.until_ms)
    if query.text:
        where.append("instr(lower(id || ' ' || name || ' ' || steps || ' ' ||"
                     " coalesce(error_message, '')), lower(?)) > 0")
        args.append(query.text)
    sql = (f"SELECT {_TRACE_COLUMNS} FROM traces WHERE {' AND '.join(where)}"
           " ORDER BY start_ms DESC, id DESC LIMIT ?")
    items = [_summary(r) for r in conn.execute(sql, (*args, limit + 1))]
    if len(items) <= limit:
        return Page(items, None)
    last = items[limit - 1]
    return Page(items[:limit], encode_cursor(last.start_ms, last.id))


def _logs(conn: sqlite3.Connection, query: LogQuery, limit: int,
          before: int | None) -> Page[LogEntry]:
    where: list[str] = ["1"]
    args: list[Any] = []
    if before is not None:
        where.append("id < ?")
        args.append(before)
    if query.trace_id is not None:
        where.append("trace_id = ?")
        args.append(query.trace_id)
    if query.step is not None:
        where.append("step = ?")
        args.append(query.step)
    if query.level is not None:
        where.append("level >= ?")
        args.append(LEVEL_RANK[query.level])
    if query.since_ms is not None:
        where.append("time_ms >= ?")
        args.append(query.since_ms)
    if query.text:
        where.append("instr(lower(message), lower(?)) > 0")
        args.append(query.text)
    sql = f"SELECT entry FROM logs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
    items = [_entry_decoder.decode(r[0]) for r in conn.execute(sql, (*args, limit + 1))]
    if len(items) <= limit:
        return Page(items, None)
    return Page(items[:limit], encode_cursor(items[limit - 1].id))


# The most traces (with their spans) and logs one pruning step deletes: the store's calls run
# on the event loop, and past the limits at thousands of requests a second one pass deleted
# tens of thousands of traces at once, holding the loop for 0.16 s every prune interval (a
# Python GET's p99 under wrk 650-680 ms). Smaller steps hold it less but cost more, as each
# commits the pages it shares with the next (under wrk, 5 runs each: 2,000: p99 104 ms, CPU
# per request unchanged; 1,000: 77 ms, +4%; 500: 57 ms, +10%).
PRUNE_STEP = 2000


def _over_limits(conn: sqlite3.Connection, retention: Retention) -> tuple[int, int]:
    """How many traces are over the count limit (a count walks the whole table: once per
    pass), and the newest log id over it (0: none)."""
    count: int = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
    row = conn.execute("SELECT id FROM logs ORDER BY id DESC LIMIT 1 OFFSET ?",
                       (retention.max_logs,)).fetchone()
    return max(0, count - retention.max_traces), 0 if row is None else row[0]


def _prune(conn: sqlite3.Connection, retention: Retention, now_ms: int, step: int,
           excess: int, last_log: int) -> tuple[int, int]:
    """One bounded step of the retention, oldest first: ``(traces, logs)`` deleted, each at
    most ``step``: of the ``excess`` oldest traces, of the logs up to ``last_log``
    (:func:`_over_limits`), then of the expired; a step that deletes ``step`` of either
    leaves more for the next."""
    cutoff = retention.cutoff_ms(now_ms)
    with write_transaction(conn):
        doomed = [r[0] for r in conn.execute(
            "SELECT id FROM traces ORDER BY start_ms, id LIMIT ?", (min(excess, step),))]
        if cutoff is not None and len(doomed) < step:
            doomed += [r[0] for r in conn.execute(
                "SELECT id FROM traces WHERE start_ms < ? ORDER BY start_ms, id LIMIT ?",
                (cutoff, step))]
        ids = [(trace_id,) for trace_id in dict.fromkeys(doomed)][:step]
        conn.executemany("DELETE FROM spans WHERE trace_id = ?", ids)
        conn.executemany("DELETE FROM traces WHERE id = ?", ids)
        # The newest max_logs are kept: of the rest, the oldest step go; then the expired.
        logs = conn.execute(
            "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE id <= ? ORDER BY id"
            " LIMIT ?)", (last_log, step)).rowcount
        if cutoff is not None and logs < step:
            logs += conn.execute(
                "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE time_ms < ? LIMIT ?)",
                (cutoff, step - logs)).rowcount
    return len(ids), logs


class SqliteBackend(ObservabilityBackend):
    """Traces, spans and logs in one SQLite file; the parent directory is created."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db = Database(self.path, name="trace and log", error=ObservabilityStoreError,
                            closed=lambda: _Closed(f"the trace and log store {str(self.path)!r}"
                                                   " was used after it was closed"),
                            full_sync=False, migrations=_MIGRATIONS,
                            holds="the recorded traces and logs")

    def __repr__(self) -> str:
        return f"SqliteBackend({str(self.path)!r})"

    async def write(self, traces: Sequence[Trace], spans: Sequence[Span],
                    logs: Sequence[LogEntry]) -> None:
        if traces or spans or logs:
            await self._db.run(_write, traces, spans, logs)

    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        return await self._db.scan(_get_trace, trace_id)

    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]:
        after = decode_cursor(cursor, int, str) if cursor else None
        return await self._db.scan(_traces, query, limit, after)

    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]:
        before = decode_cursor(cursor, int)[0] if cursor else None
        return await self._db.scan(_logs, query, limit, before)

    async def prune(self, retention: Retention, now_ms: int) -> int:
        """In steps of ``PRUNE_STEP``, each its own call: the loop serves between them."""
        deleted = 0
        excess, last_log = await self._db.read(_over_limits, retention)
        while True:  # bounded: each step deletes, or it is the last
            traces, logs = await self._db.run(_prune, retention, now_ms, PRUNE_STEP, excess,
                                              last_log)
            deleted += traces + logs
            excess = max(0, excess - traces)
            if traces < PRUNE_STEP and logs < PRUNE_STEP:
                return deleted

    async def aclose(self) -> None:
        await self._db.aclose()
