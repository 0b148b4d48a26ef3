"""The recorder: a :class:`TraceStore` that keeps traces and logs on disk without slowing steps.

Recording stays what it was on the invoke path: attribute updates on live objects in a
:class:`MemoryTraceStore` (the newest traces, running ones included). Each change only notes the
trace and span as dirty (a dict store); log records are turned into :class:`LogEntry` objects and
queued. :meth:`Recorder.run`, a task the app owns, writes what is dirty to the backend in one
batch every ``flush_interval_s`` (sooner once ``flush_max`` records wait) and applies the
retention every ``prune_interval_s``. A trace still running waits up to ``hold_running_s`` for
the next batch, and so does one changed since the last batch, running or not: between the
hops of an event chain a trace has no running span (the api step answered, the event waits for
its consumer) and reads as completed, and writing it there wrote it twice or three times (1.65
writes per trace in ``make bench-compare``'s pipeline). So a short trace is written once, a
batch after its last change. Reads flush everything first, so a trace reads as it is now.

A batch that the backend refuses (a full disk) is logged and dropped: observability must never
stop the steps it observes. Past ``max_pending_logs`` queued records, new ones are counted and
dropped rather than held, for the same reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.abc

from motia_core.observability.ids import now_ms
from motia_core.observability.store.base import (
    LogEntry,
    LogQuery,
    ObservabilityBackend,
    Page,
    Retention,
    TraceQuery,
    TraceSummary,
    log_entry,
    summarize,
)
from motia_core.observability.traces import (
    MemoryTraceStore,
    Span,
    SpanError,
    Trace,
    TraceChange,
    TraceEvent,
    TraceListener,
)

__all__ = ("DEFAULT_FLUSH_INTERVAL_S", "DEFAULT_FLUSH_MAX", "LogEntryListener", "Recorder")

log = logging.getLogger("motia.observability")

DEFAULT_FLUSH_INTERVAL_S = 0.1
DEFAULT_FLUSH_MAX = 1000  # dirty spans plus queued logs that trigger a write before the interval
DEFAULT_PRUNE_INTERVAL_S = 10.0
DEFAULT_LIVE_TRACES = 1000
DEFAULT_MAX_PENDING_LOGS = 50_000
DEFAULT_HOLD_RUNNING_S = 1.0

LogEntryListener = Callable[[LogEntry], None]


class Recorder:
    """Records into memory, writes to ``backend`` in batches; see the module docstring."""

    def __init__(self, backend: ObservabilityBackend, *, retention: Retention | None = None,
                 live_traces: int = DEFAULT_LIVE_TRACES,
                 flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
                 flush_max: int = DEFAULT_FLUSH_MAX,
                 prune_interval_s: float = DEFAULT_PRUNE_INTERVAL_S,
                 max_pending_logs: int = DEFAULT_MAX_PENDING_LOGS,
                 hold_running_s: float = DEFAULT_HOLD_RUNNING_S,
                 clock: Callable[[], int] = now_ms) -> None:
        self.backend = backend
        self.retention = retention or Retention()
        self.live = MemoryTraceStore(max_traces=live_traces, clock=clock)
        self.flush_interval_s = flush_interval_s
        self.flush_max = flush_max
        self.prune_interval_s = prune_interval_s
        self.max_pending_logs = max_pending_logs
        self.dropped_logs = 0
        self.log_listeners: list[LogEntryListener] = []
        self._clock = clock
        self._traces: dict[str, Trace] = {}
        self._spans: dict[str, Span] = {}
        self._logs: list[LogEntry] = []
        self._last_log_id = 0
        self.hold_running_s = hold_running_s
        self._dirty_since: dict[str, float] = {}  # trace id -> when it was first left unwritten
        self._changed: set[str] = set()  # traces changed since the last batch
        self._wake_at = flush_max
        self._now = time.monotonic
        self._full = anyio.Event()
        self._lock = anyio.Lock()
        self._closed = False
        self.live.subscribe(self._on_change)

    # --- TraceStore: recording (sync, hot path) --------------------------------------------------

    def start_trace(self, trace_id: str, name: str) -> Trace:
        return self.live.start_trace(trace_id, name)

    def start_span(self, trace_id: str, parent_id: str | None, name: str, kind: str,
                   entry: str | None = None, *, span_id: str | None = None,
                   language: str | None = None, runner: str | None = None) -> Span:
        return self.live.start_span(trace_id, parent_id, name, kind, entry, span_id=span_id,
                                    language=language, runner=runner)

    def add_event(self, span_id: str, event: TraceEvent) -> None:
        self.live.add_event(span_id, event)

    def end_span(self, span_id: str, error: SpanError | BaseException | None = None,
                 ) -> Span | None:
        return self.live.end_span(span_id, error)

    def subscribe(self, listener: TraceListener) -> Callable[[], None]:
        return self.live.subscribe(listener)

    def _on_change(self, change: TraceChange) -> None:
        trace_id = change.trace.id
        self._traces[trace_id] = change.trace
        if trace_id not in self._dirty_since:
            self._dirty_since[trace_id] = self._now()
        self._changed.add(trace_id)
        span = change.span
        if span is not None and span.id not in self._spans:  # only a new one adds to the batch
            self._spans[span.id] = span
            self._wake_if_full()

    # --- logs ------------------------------------------------------------------------------------

    def on_log(self, record: Mapping[str, Any]) -> None:
        """A :class:`~motia_core.observability.logs.LogSink` listener: queue one record."""
        if len(self._logs) >= self.max_pending_logs:
            self.dropped_logs += 1
            return
        # Ids grow across restarts without asking the backend: the clock in microseconds, or
        # one more than the last when records come faster than that.
        entry_id = self._last_log_id = max(self._last_log_id + 1, self._clock() * 1000)
        entry = log_entry(entry_id, record)
        self._logs.append(entry)
        for listener in tuple(self.log_listeners):
            try:
                listener(entry)
            except Exception:  # a broken UI hub must not lose the record or fail the logger
                self.log_listeners.remove(listener)
        self._wake_if_full()

    def _wake_if_full(self) -> None:
        if len(self._spans) + len(self._logs) >= self._wake_at:
            self._full.set()

    # --- writing ---------------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Write batches until cancelled (the app's task group owns this task)."""
        task_status.started()
        next_prune = anyio.current_time()
        while True:
            with anyio.move_on_after(self.flush_interval_s):
                await self._full.wait()
            await self.flush(hold_running=True)
            if anyio.current_time() >= next_prune:
                next_prune = anyio.current_time() + self.prune_interval_s
                await self.prune()

    async def flush(self, *, hold_running: bool = False) -> None:
        """Write everything recorded so far (one batch); a failed batch is logged and dropped.

        ``hold_running``: a trace still running or changed since the last batch, first changed
        less than ``hold_running_s`` ago, waits for the next batch with its spans, so the burst
        of changes of a short trace is written once rather than once per batch it straddles
        (reads flush without holding).
        """
        async with self._lock:
            if self._full.is_set():
                self._full = anyio.Event()
            changed, self._changed = self._changed, set()
            traces, spans, logs = self._traces, self._spans, self._logs
            if not (traces or spans or logs) or self._closed:
                return
            held = self._held(traces, changed) if hold_running else set()
            self._traces = {i: t for i, t in traces.items() if i in held}
            self._spans = {i: s for i, s in spans.items() if s.trace_id in held}
            self._dirty_since = {i: t for i, t in self._dirty_since.items() if i in held}
            self._logs = []
            self._wake_at = len(self._spans) + self.flush_max  # held spans must not re-wake us
            traces = {i: t for i, t in traces.items() if i not in held}
            spans = {i: s for i, s in spans.items() if s.trace_id not in held}
            if not (traces or spans or logs):  # everything held
                return
            try:
                await self.backend.write(list(traces.values()), list(spans.values()), logs)
            except Exception as exc:
                log.warning("could not record %d traces and %d logs: %s", len(traces), len(logs),
                            exc, extra={"action": "observability_write_failed"})

    def _held(self, traces: Mapping[str, Trace], changed: set[str]) -> set[str]:
        cutoff = self._now() - self.hold_running_s
        since = self._dirty_since
        return {i for i, t in traces.items()
                if (t.status == "running" or i in changed) and since.get(i, cutoff) > cutoff}

    async def prune(self) -> None:
        async with self._lock:
            if self._closed:
                return
            try:
                await self.backend.prune(self.retention, self._clock())
            except Exception as exc:
                log.warning("could not apply the trace and log retention: %s", exc,
                            extra={"action": "observability_prune_failed"})

    async def aclose(self) -> None:
        """Write what is left, then close the backend."""
        with anyio.CancelScope(shield=True):
            await self.flush()
            async with self._lock:
                self._closed = True
                await self.backend.aclose()

    # --- reading ---------------------------------------------------------------------------------

    async def get_trace(self, trace_id: str) -> tuple[TraceSummary, list[Span]] | None:
        """The trace and its spans (with events) as of now, or None."""
        await self.flush()
        found = await self.backend.get_trace(trace_id)
        if found is None:  # not stored (recording off): the memory window may still have it
            live = self.live.snapshot(trace_id)
            return None if live is None else (summarize(*live), live[1])
        return found

    async def list_traces(self, limit: int = 50) -> list[TraceSummary]:
        """The newest ``limit`` traces, newest first."""
        if limit <= 0:
            return []
        return (await self.traces(TraceQuery(), limit)).items

    async def traces(self, query: TraceQuery, limit: int,
                     cursor: str | None = None) -> Page[TraceSummary]:
        await self.flush()
        return await self.backend.traces(query, limit, cursor)

    async def logs(self, query: LogQuery, limit: int,
                   cursor: str | None = None) -> Page[LogEntry]:
        await self.flush()
        return await self.backend.logs(query, limit, cursor)
