"""The observability store's interface: what is kept of traces and logs, and how it is queried.

A backend holds finished and running traces (a summary row plus every span with its events) and
log records, and answers the Workbench API's queries. It is written in batches by the
:class:`~motia_core.observability.recorder.Recorder`, never from the invoke path, so ``write``
may take milliseconds. Every backend (memory, SQLite, a Redis one later) keeps these rules, which
the contract suite in ``tests/unit/test_observability_store.py`` pins:

* ``write`` upserts. A trace keeps the ``name`` of its first write and the earliest
  ``start_ms``; a span is replaced whole by a later write of the same id. After each write the
  trace's summary (status, end, span count, steps, languages, first error) is derived from *all*
  its stored spans, so a span written after its trace left the recorder's memory still counts.
  A trace without spans keeps the status and end it was written with.
* Lists are newest first: traces by ``(start_ms, id)``, logs by ``id`` (monotonic). A cursor is
  opaque to clients; a page is full (``limit`` items) whenever a next cursor is given.
* ``prune`` keeps the newest ``max_traces`` traces and ``max_logs`` logs and drops those older
  than ``retention_hours``; a trace goes with its spans.
"""

from __future__ import annotations

import abc
import base64
import binascii
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from motia_core.observability.traces import Span, Status, Trace, truncate_message

__all__ = (
    "DEFAULT_MAX_LOGS",
    "DEFAULT_MAX_TRACES",
    "DEFAULT_RETENTION_HOURS",
    "LEVEL_RANK",
    "InvalidCursor",
    "LogEntry",
    "LogQuery",
    "ObservabilityBackend",
    "Page",
    "Retention",
    "SpanFacts",
    "TraceQuery",
    "TraceSummary",
    "decode_cursor",
    "encode_cursor",
    "log_entry",
    "summarize",
)

DEFAULT_MAX_TRACES = 10_000
DEFAULT_MAX_LOGS = 100_000
DEFAULT_RETENTION_HOURS = 168.0  # a week
# Minimum-level filtering compares these ranks.
LEVEL_RANK: Mapping[str, int] = {"debug": 10, "info": 20, "warn": 30, "error": 40}
# The keys of a log dict (logs.record_to_dict) that are columns rather than fields.
_LOG_COLUMNS = frozenset({"time", "level", "msg", "traceId", "spanId", "step", "runner"})

T = TypeVar("T")


class TraceSummary(Trace, kw_only=True):
    """A trace as lists show it: the :class:`Trace` plus what its spans say."""

    steps: list[str] = msgspec.field(default_factory=list)
    languages: list[str] = msgspec.field(default_factory=list)
    error_message: str | None = None


class LogEntry(msgspec.Struct, rename="camel", kw_only=True):
    """One log record as kept: ``id`` grows with every record, across restarts."""

    id: int
    time: int
    level: str
    message: str
    trace_id: str | None = None
    span_id: str | None = None
    step: str | None = None
    runner: str | None = None
    fields: dict[str, Any] = msgspec.field(default_factory=dict)


def log_entry(entry_id: int, record: Mapping[str, Any]) -> LogEntry:
    """A :class:`LogEntry` from a ``record_to_dict(..., iso_time=False)`` dict."""
    return LogEntry(
        id=entry_id, time=int(record["time"]), level=str(record["level"]),
        message=truncate_message(str(record["msg"])), trace_id=record.get("traceId"),
        span_id=record.get("spanId"), step=record.get("step"), runner=record.get("runner"),
        fields={k: v for k, v in record.items() if k not in _LOG_COLUMNS})


class SpanFacts(NamedTuple):
    """What a trace's summary needs of a span (a backend may keep these as columns)."""

    id: str
    name: str
    kind: str
    language: str | None
    status: str
    start_ms: int
    end_ms: int | None
    error_message: str | None

    @classmethod
    def of(cls, span: Span) -> SpanFacts:
        error = (span.error.message if span.error else "failed") if span.status == "failed" \
            else None
        return cls(span.id, span.name, span.kind, span.language, span.status, span.start_ms,
                   span.end_ms, error)


_START_ORDER = operator.itemgetter(5, 0)  # a SpanFacts' (start_ms, id)


def summarize(trace: Trace, spans: Iterable[Span | SpanFacts]) -> TraceSummary:
    """The summary of ``trace`` derived from ``spans`` (every span it has, in any order)."""
    ordered = [s if isinstance(s, SpanFacts) else SpanFacts.of(s) for s in spans]
    if not ordered:
        return TraceSummary(id=trace.id, name=trace.name, start_ms=trace.start_ms,
                            end_ms=trace.end_ms, status=trace.status,
                            root_span_id=trace.root_span_id, span_count=0,
                            dropped_spans=trace.dropped_spans)
    ordered.sort(key=_START_ORDER)
    first = ordered[0]
    summary = TraceSummary(id=trace.id, name=trace.name, start_ms=min(trace.start_ms,
                                                                       first.start_ms),
                           root_span_id=trace.root_span_id or first.id,
                           span_count=len(ordered), dropped_spans=trace.dropped_spans)
    summary.steps = list(dict.fromkeys(s.name for s in ordered if s.kind != "emit"))
    summary.languages = list(dict.fromkeys(s.language for s in ordered if s.language))
    failed = [s for s in ordered if s.status == "failed"]
    running = any(s.status == "running" for s in ordered)
    summary.status = "failed" if failed else "running" if running else "completed"
    summary.end_ms = None if running else max(s.end_ms or s.start_ms for s in ordered)
    if failed:
        summary.error_message = failed[0].error_message
    return summary


@dataclass(frozen=True)
class TraceQuery:
    """Filters of ``GET /__motia/api/traces``; each one left None does not filter."""

    status: Status | None = None
    step: str | None = None
    text: str | None = None  # case-insensitive, in the id, name, step names or error
    since_ms: int | None = None  # started at or after
    until_ms: int | None = None  # started at or before

    def matches(self, trace: TraceSummary) -> bool:
        if self.status is not None and trace.status != self.status:
            return False
        if self.step is not None and self.step not in trace.steps:
            return False
        if self.since_ms is not None and trace.start_ms < self.since_ms:
            return False
        if self.until_ms is not None and trace.start_ms > self.until_ms:
            return False
        if self.text:
            haystack = " ".join([trace.id, trace.name, *trace.steps, trace.error_message or ""])
            return self.text.casefold() in haystack.casefold()
        return True


@dataclass(frozen=True)
class LogQuery:
    """Filters of ``GET /__motia/api/logs``; ``level`` is a minimum."""

    trace_id: str | None = None
    step: str | None = None
    level: str | None = None
    text: str | None = None  # case-insensitive, in the message
    since_ms: int | None = None

    def matches(self, entry: LogEntry) -> bool:
        if self.trace_id is not None and entry.trace_id != self.trace_id:
            return False
        if self.step is not None and entry.step != self.step:
            return False
        if self.level is not None and LEVEL_RANK.get(entry.level, 20) < LEVEL_RANK[self.level]:
            return False
        if self.since_ms is not None and entry.time < self.since_ms:
            return False
        return not self.text or self.text.casefold() in entry.message.casefold()


class Page(msgspec.Struct, Generic[T], rename="camel"):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(ValueError):
    """A ``cursor`` that no page of this list handed out."""


def encode_cursor(*parts: int | str) -> str:
    raw = msgspec.json.encode(list(parts))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """The parts :func:`encode_cursor` was given, checked against ``types``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        parts = None
    if (not isinstance(parts, list) or len(parts) != len(types)
            or not all(type(p) is t for p, t in zip(parts, types, strict=True))):
        raise InvalidCursor(f"cursor {cursor!r} is not one this list handed out; pass the "
                            "nextCursor of the previous page, or no cursor for the first page")
    return tuple(parts)


@dataclass(frozen=True)
class Retention:
    """How much is kept: counts, and an age in hours (0: no age limit)."""

    max_traces: int = DEFAULT_MAX_TRACES
    max_logs: int = DEFAULT_MAX_LOGS
    retention_hours: float = DEFAULT_RETENTION_HOURS

    def __post_init__(self) -> None:
        for name in ("max_traces", "max_logs"):
            if getattr(self, name) < 1:
                raise ValueError(f"[observability] {name} must be at least 1, "
                                 f"got {getattr(self, name)!r}")
        if self.retention_hours < 0:
            raise ValueError("[observability] retention_hours must be 0 (no limit) or more, "
                             f"got {self.retention_hours!r}")

    def cutoff_ms(self, now_ms: int) -> int | None:
        """Records older than this are dropped; None when age does not count."""
        if not self.retention_hours:
            return None
        return now_ms - int(self.retention_hours * 3_600_000)


class ObservabilityBackend(abc.ABC):
    """Where traces and logs are kept; see the module docstring for the rules."""

    @abc.abstractmethod
    async def write(self, traces: Sequence[Trace], spans: Sequence[Span],
                    logs: Sequence[LogEntry]) -> None:
        """Upsert one batch. A span's trace is in ``traces`` or was written before."""

    @abc.abstractmethod
    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        """The trace and its spans in start order, or None."""

    @abc.abstractmethod
    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]: ...

    @abc.abstractmethod
    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]: ...

    @abc.abstractmethod
    async def prune(self, retention: Retention, now_ms: int) -> int:
        """Drop what ``retention`` does not keep; returns how many traces and logs went."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
