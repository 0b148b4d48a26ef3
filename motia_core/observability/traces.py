"""Traces: one per entry (HTTP request, cron tick, ``/emit``), one span per step invocation.

The shapes follow MOTIA_CONTRACT.md 8.2 (the original's trace group is our :class:`Trace`, its
per-step "trace" is our :class:`Span`), with W3C-style ids (see ``ids.py``). Recording sits on
the invoke path, so it is plain attribute updates on live objects: no copies, no JSON. Encoding
happens only when someone reads (``msgspec.json.encode(span)`` gives the camelCase wire shape).

Recording methods are synchronous so the hot path never awaits; reading methods are ``async`` so
a store that keeps traces in SQLite or Redis can implement the same interface. Listeners are
called synchronously on every change; they must be quick and never block (a WebSocket hub puts
the change on a memory stream with ``send_nowait`` and returns).

Span kinds in use: ``api``, ``event``, ``cron`` (an invocation of that step type) and ``emit``.
"""

from __future__ import annotations

import logging
import traceback
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any, Literal, NamedTuple, Protocol

import msgspec

from motia_core.observability.ids import new_span_id, now_ms

__all__ = (
    "DEFAULT_MAX_EVENTS_PER_SPAN",
    "DEFAULT_MAX_EVENTS_PER_TRACE",
    "DEFAULT_MAX_EVENTS_TOTAL",
    "MAX_LOG_MESSAGE_CHARS",
    "DEFAULT_MAX_SPANS_PER_TRACE",
    "DEFAULT_MAX_TRACES",
    "EmitTraceEvent",
    "LogTraceEvent",
    "MemoryTraceStore",
    "Span",
    "SpanError",
    "StateTraceEvent",
    "Status",
    "StreamTraceEvent",
    "Trace",
    "TraceAction",
    "TraceChange",
    "TraceEvent",
    "TraceListener",
    "TraceStore",
    "truncate_message",
)

DEFAULT_MAX_TRACES = 1000
# A step logging in a loop, or two steps emitting to each other forever, must not eat the memory:
# past these caps a span keeps counting what it dropped instead of storing it.
DEFAULT_MAX_EVENTS_PER_SPAN = 1000
DEFAULT_MAX_SPANS_PER_TRACE = 1000
# The caps above multiply (traces x spans x events); these bound the product: a trace's events
# across all its spans, and every event held in memory (past it, the oldest traces are evicted).
DEFAULT_MAX_EVENTS_PER_TRACE = 10_000
DEFAULT_MAX_EVENTS_TOTAL = 200_000
# A log message kept in a trace or the log store is cut here, with a marker saying how much.
MAX_LOG_MESSAGE_CHARS = 8192


def truncate_message(message: str, limit: int = MAX_LOG_MESSAGE_CHARS) -> str:
    """``message`` if it fits ``limit`` characters, else its start and a marker saying how many
    characters were cut."""
    if len(message) <= limit:
        return message
    return f"{message[:limit]}... [truncated {len(message) - limit} characters]"

log = logging.getLogger("motia.traces")

Status = Literal["running", "completed", "failed"]
TraceAction = Literal["trace_started", "span_started", "span_event", "span_ended"]


class _Record(msgspec.Struct, rename="camel", kw_only=True):
    """Base of every trace record: camelCase on the wire, like the rest of the protocol."""


class SpanError(_Record, omit_defaults=True, kw_only=True):
    message: str
    name: str | None = None
    stack: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> SpanError:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(message=str(exc), name=type(exc).__name__, stack=stack)


class _Event(_Record, tag_field="type", kw_only=True):
    """One thing a step did while it ran; ``type`` on the wire says which."""

    # Milliseconds since the epoch (ids.now_ms()).
    timestamp: int


class StateTraceEvent(_Event, tag="state", kw_only=True):
    # The value is not recorded: it may be large or private, and the trace is about what happened.
    operation: Literal["get", "getGroup", "set", "delete", "clear"]
    group: str
    key: str | None = None


class EmitTraceEvent(_Event, tag="emit", omit_defaults=True, kw_only=True):
    topic: str
    success: bool
    data: Any = None


class StreamTraceEvent(_Event, tag="stream", kw_only=True):
    operation: Literal["get", "set", "delete", "getGroup", "send"]
    stream_name: str
    group_id: str
    id: str | None = None
    # Consecutive sets of one item are one event: `calls` counts them, `max_timestamp` is the last.
    calls: int = 1
    max_timestamp: int | None = None


class LogTraceEvent(_Event, tag="log", omit_defaults=True, kw_only=True):
    level: str
    message: str
    metadata: dict[str, Any] | None = None


TraceEvent = StateTraceEvent | EmitTraceEvent | StreamTraceEvent | LogTraceEvent


class Span(_Record, kw_only=True):
    """One step invocation. ``entry`` says what started it: ``"GET /pets/:id"`` for an api step,
    the topic for an event step, the cron expression for a cron step."""

    id: str
    trace_id: str
    parent_id: str | None = None
    name: str
    kind: str
    entry: str | None = None
    # The step's language and the runner process that ran it ("node#0"); None for a span no
    # runner serves (an emit) or one that failed before a runner was picked.
    language: str | None = None
    runner: str | None = None
    status: Status = "running"
    start_ms: int
    end_ms: int | None = None
    error: SpanError | None = None
    events: list[TraceEvent] = msgspec.field(default_factory=list)
    dropped_events: int = 0


class Trace(_Record, kw_only=True):
    """One entry and everything it caused; ``id`` is the trace id user code sees as ``traceId``.

    ``status``: failed as soon as any span failed (a retry that later succeeds does not undo the
    failure: the trace still shows it), otherwise running while any span runs, else completed.
    ``end_ms`` is set whenever no span is running.
    """

    id: str
    name: str
    start_ms: int
    end_ms: int | None = None
    status: Status = "running"
    root_span_id: str | None = None
    span_count: int = 0
    dropped_spans: int = 0


class TraceChange(NamedTuple):
    """What a listener receives. ``span`` is set except for ``trace_started``; ``event`` only for
    ``span_event`` (for a coalesced stream set it is the existing event, with ``calls`` bumped)."""

    action: TraceAction
    trace: Trace
    span: Span | None = None
    event: TraceEvent | None = None


TraceListener = Callable[[TraceChange], None]


class TraceStore(Protocol):
    """Where traces are recorded and read back. See the module docstring for sync vs async."""

    def start_trace(self, trace_id: str, name: str) -> Trace: ...

    def start_span(self, trace_id: str, parent_id: str | None, name: str, kind: str,
                   entry: str | None = None, *, span_id: str | None = None,
                   language: str | None = None, runner: str | None = None) -> Span: ...

    def add_event(self, span_id: str, event: TraceEvent) -> None: ...

    def end_span(self, span_id: str, error: SpanError | BaseException | None = None,
                 ) -> Span | None: ...

    async def get_trace(self, trace_id: str) -> tuple[Trace, list[Span]] | None: ...

    async def list_traces(self, limit: int = 50) -> Sequence[Trace]: ...

    def subscribe(self, listener: TraceListener) -> Callable[[], None]: ...


class _Entry:
    """A trace with its spans and the counters that make its status O(1) to keep current."""

    __slots__ = ("events", "failed", "running", "spans", "trace")

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.spans: list[Span] = []
        self.running = 0
        self.failed = 0
        self.events = 0  # across its spans


class MemoryTraceStore:
    """The reference :class:`TraceStore`: the newest ``max_traces`` traces, in memory.

    When a new trace pushes the oldest out, that trace's spans go with it; recording into a span
    of an evicted trace is then silently ignored (the invocation must not fail for it).
    """

    def __init__(self, *, max_traces: int = DEFAULT_MAX_TRACES,
                 max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE,
                 max_events_per_span: int = DEFAULT_MAX_EVENTS_PER_SPAN,
                 max_events_per_trace: int = DEFAULT_MAX_EVENTS_PER_TRACE,
                 max_events_total: int = DEFAULT_MAX_EVENTS_TOTAL,
                 clock: Callable[[], int] = now_ms) -> None:
        for name, value in (("max_traces", max_traces),
                            ("max_spans_per_trace", max_spans_per_trace),
                            ("max_events_per_span", max_events_per_span),
                            ("max_events_per_trace", max_events_per_trace),
                            ("max_events_total", max_events_total)):
            if value < 1:
                raise ValueError(f"MemoryTraceStore({name}={value!r}): must be at least 1")
        self.max_traces = max_traces
        self.max_spans_per_trace = max_spans_per_trace
        self.max_events_per_span = max_events_per_span
        self.max_events_per_trace = max_events_per_trace
        self.max_events_total = max_events_total
        self.events_held = 0  # events in every trace held
        self._clock = clock
        self._traces: OrderedDict[str, _Entry] = OrderedDict()
        self._spans: dict[str, tuple[Span, _Entry]] = {}
        # A tuple, replaced on (un)subscribe: each change iterates it without copying it.
        self._listeners: tuple[TraceListener, ...] = ()

    # --- recording (sync, hot path) ------------------------------------------------------------

    def start_trace(self, trace_id: str, name: str) -> Trace:
        """The trace ``trace_id``, created if new. Starting a known id returns it unchanged: a
        continued trace (``/emit`` with a trace id, a ``traceparent``) is the same trace."""
        entry = self._traces.get(trace_id)
        if entry is None:
            entry = self._new_trace(trace_id, name)
        return entry.trace

    def start_span(self, trace_id: str, parent_id: str | None, name: str, kind: str,
                   entry: str | None = None, *, span_id: str | None = None,
                   language: str | None = None, runner: str | None = None) -> Span:
        """A running span. An unknown (or evicted) trace is created on the way, named after the
        span: an event can outlive its trace in this store, or come from another instance."""
        record = self._traces.get(trace_id) or self._new_trace(trace_id, name)
        trace = record.trace
        span = Span(id=span_id or new_span_id(), trace_id=trace_id, parent_id=parent_id,
                    name=name, kind=kind, entry=entry, language=language, runner=runner,
                    start_ms=self._clock())
        if len(record.spans) >= self.max_spans_per_trace:
            trace.dropped_spans += 1
            return span  # not recorded: later calls with its id are ignored
        record.spans.append(span)
        self._spans[span.id] = (span, record)
        record.running += 1
        trace.span_count += 1
        trace.root_span_id = trace.root_span_id or span.id
        trace.end_ms = None
        trace.status = "failed" if record.failed else "running"
        self._notify(TraceChange("span_started", trace, span))
        return span

    def add_event(self, span_id: str, event: TraceEvent) -> None:
        """Record what a running step did. Consecutive sets of one stream item coalesce."""
        found = self._spans.get(span_id)
        if found is None:
            return
        span, record = found
        events = span.events
        if isinstance(event, StreamTraceEvent) and event.operation == "set" and events:
            last = events[-1]
            if (isinstance(last, StreamTraceEvent) and last.operation == "set"
                    and last.stream_name == event.stream_name
                    and last.group_id == event.group_id and last.id == event.id):
                last.calls += event.calls
                last.max_timestamp = event.max_timestamp or event.timestamp
                self._notify(TraceChange("span_event", record.trace, span, last))
                return
        if len(events) >= self.max_events_per_span or record.events >= self.max_events_per_trace:
            span.dropped_events += 1
            return
        if isinstance(event, LogTraceEvent) and len(event.message) > MAX_LOG_MESSAGE_CHARS:
            event.message = truncate_message(event.message)
        events.append(event)
        record.events += 1
        self.events_held += 1
        if self.events_held > self.max_events_total:
            self._evict_for_events(keep=record)
        self._notify(TraceChange("span_event", record.trace, span, event))

    def end_span(self, span_id: str, error: SpanError | BaseException | None = None,
                 ) -> Span | None:
        """Finish a span, failed when ``error`` is given. Ending it again changes nothing.
        Returns the span, or ``None`` when it is unknown (evicted, or past the span cap)."""
        found = self._spans.get(span_id)
        if found is None:
            return None
        span, record = found
        if span.status != "running":
            return span
        span.end_ms = self._clock()
        trace = record.trace
        record.running -= 1
        if error is not None:
            span.error = error if isinstance(error, SpanError) else SpanError.from_exception(error)
            span.status = "failed"
            record.failed += 1
        else:
            span.status = "completed"
        if record.running == 0:
            trace.end_ms = max(trace.end_ms or 0, span.end_ms)
        trace.status = ("failed" if record.failed
                        else "running" if record.running else "completed")
        self._notify(TraceChange("span_ended", trace, span))
        return span

    # --- reading ------------------------------------------------------------------------------

    async def get_trace(self, trace_id: str) -> tuple[Trace, list[Span]] | None:
        """The trace and its spans in start order (live objects: encode them, do not mutate)."""
        record = self._traces.get(trace_id)
        if record is None:
            return None
        return record.trace, list(record.spans)

    def snapshot(self, trace_id: str) -> tuple[Trace, list[Span]] | None:
        """:meth:`get_trace` without the ``await``, for listeners (which must not await)."""
        record = self._traces.get(trace_id)
        return None if record is None else (record.trace, list(record.spans))

    async def list_traces(self, limit: int = 50) -> list[Trace]:
        """The newest ``limit`` traces, newest first."""
        return [e.trace for e in islice(reversed(self._traces.values()), max(limit, 0))]

    # --- listeners and test helpers -----------------------------------------------------------

    def subscribe(self, listener: TraceListener) -> Callable[[], None]:
        """Call ``listener`` on every change from now on; returns the function that stops it."""
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                listeners = list(self._listeners)
                listeners.remove(listener)
                self._listeners = tuple(listeners)

        return unsubscribe

    def reset(self) -> None:
        """Forget every trace (listeners stay subscribed)."""
        self._traces.clear()
        self._spans.clear()
        self.events_held = 0

    def _new_trace(self, trace_id: str, name: str) -> _Entry:
        record = _Entry(Trace(id=trace_id, name=name, start_ms=self._clock()))
        self._traces[trace_id] = record
        while len(self._traces) > self.max_traces:
            self._evict_oldest()
        self._notify(TraceChange("trace_started", record.trace))
        return record

    def _evict_oldest(self) -> None:
        _, evicted = self._traces.popitem(last=False)
        self.events_held -= evicted.events
        for span in evicted.spans:
            self._spans.pop(span.id, None)

    def _evict_for_events(self, keep: _Entry) -> None:
        """Past the total event budget: the oldest traces go (never ``keep``, the one being
        recorded into: its own budget bounds it)."""
        while self.events_held > self.max_events_total and len(self._traces) > 1:
            oldest = next(iter(self._traces.values()))
            if oldest is keep:
                self._traces.move_to_end(keep.trace.id)
                continue
            self._evict_oldest()

    def _notify(self, change: TraceChange) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                # A broken listener (a UI hub) must never fail the step invocation it observes.
                log.exception("trace listener %r failed on %s", listener, change.action,
                              extra={"action": "listener_failed", "trace_id": change.trace.id})
