"""The in-memory observability backend: the reference implementation, and what tests run on."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

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

__all__ = ("DiscardBackend", "MemoryBackend")

_span_decoder = msgspec.json.Decoder(Span)
_trace_decoder = msgspec.json.Decoder(Trace)


def _copy_span(span: Span) -> Span:
    # Spans come in live (the recorder's objects keep changing): keep a copy of this moment.
    return _span_decoder.decode(msgspec.json.encode(span))


class _Stored:
    __slots__ = ("spans", "summary", "trace")

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.spans: dict[str, Span] = {}
        self.summary = summarize(trace, ())


class MemoryBackend(ObservabilityBackend):
    """Everything in dicts; lost with the process. ``reset()`` forgets it all."""

    def __init__(self) -> None:
        self._traces: dict[str, _Stored] = {}
        self._logs: list[LogEntry] = []  # ascending id

    async def write(self, traces: Sequence[Trace], spans: Sequence[Span],
                    logs: Sequence[LogEntry]) -> None:
        touched: set[str] = set()
        for trace in traces:
            stored = self._traces.get(trace.id)
            copy = _trace_decoder.decode(msgspec.json.encode(trace))
            if stored is None:
                self._traces[trace.id] = _Stored(copy)
            else:
                copy.name = stored.trace.name
                copy.start_ms = min(copy.start_ms, stored.trace.start_ms)
                copy.root_span_id = stored.trace.root_span_id or copy.root_span_id
                copy.dropped_spans = max(copy.dropped_spans, stored.trace.dropped_spans)
                stored.trace = copy
            touched.add(trace.id)
        for span in spans:
            stored = self._traces.get(span.trace_id)
            if stored is None:  # its trace was pruned meanwhile: nothing to hang it on
                continue
            stored.spans[span.id] = _copy_span(span)
            touched.add(span.trace_id)
        for trace_id in touched:
            stored = self._traces[trace_id]
            stored.summary = summarize(stored.trace, stored.spans.values())
        self._logs.extend(logs)
        if logs and len(self._logs) > len(logs) and self._logs[-len(logs) - 1].id > logs[0].id:
            self._logs.sort(key=lambda entry: entry.id)

    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        stored = self._traces.get(trace_id)
        if stored is None:
            return None
        spans = sorted(stored.spans.values(), key=lambda s: (s.start_ms, s.id))
        return stored.summary, [_copy_span(s) for s in spans]

    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]:
        after = decode_cursor(cursor, int, str) if cursor else None
        ordered = sorted((s.summary for s in self._traces.values()),
                         key=lambda t: (t.start_ms, t.id), reverse=True)
        items: list[TraceSummary] = []
        for trace in ordered:
            if after is not None and (trace.start_ms, trace.id) >= after:
                continue
            if query.matches(trace):
                items.append(trace)
                if len(items) > limit:
                    break
        more = len(items) > limit
        items = items[:limit]
        last = items[-1] if more else None
        return Page(items, encode_cursor(last.start_ms, last.id) if last else None)

    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]:
        before = decode_cursor(cursor, int)[0] if cursor else None
        items: list[LogEntry] = []
        for entry in reversed(self._logs):
            if before is not None and entry.id >= before:
                continue
            if query.matches(entry):
                items.append(entry)
                if len(items) > limit:
                    break
        more = len(items) > limit
        items = items[:limit]
        return Page(items, encode_cursor(items[-1].id) if more else None)

    async def prune(self, retention: Retention, now_ms: int) -> int:
        cutoff = retention.cutoff_ms(now_ms)
        ordered = sorted(self._traces.values(),
                         key=lambda s: (s.summary.start_ms, s.trace.id), reverse=True)
        drop = [s.trace.id for i, s in enumerate(ordered)
                if i >= retention.max_traces or (cutoff is not None
                                                 and s.summary.start_ms < cutoff)]
        for trace_id in drop:
            del self._traces[trace_id]
        before = len(self._logs)
        keep = self._logs[-retention.max_logs:]
        if cutoff is not None:
            keep = [entry for entry in keep if entry.time >= cutoff]
        self._logs = keep
        return len(drop) + before - len(keep)

    def reset(self) -> None:
        self._traces.clear()
        self._logs.clear()

    async def aclose(self) -> None:
        return None


class DiscardBackend(ObservabilityBackend):
    """Keeps nothing (``observability = "off"``): traces live only in the recorder's memory
    window, as before traces were stored, and logs only go to the console."""

    async def write(self, traces: Sequence[Trace], spans: Sequence[Span],
                    logs: Sequence[LogEntry]) -> None:
        return None

    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        return None

    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]:
        return Page([], None)

    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]:
        return Page([], None)

    async def prune(self, retention: Retention, now_ms: int) -> int:
        return 0

    async def aclose(self) -> None:
        return None
