"""Observability: trace and span ids, the trace store, structured logs.

Services record into a :class:`TraceStore` and log through stdlib ``logging`` with the tags of
STYLE.md rule 11; the CLI calls :func:`configure_logging` once. Nothing here imports the rest of
the package, so every room may depend on it.
"""

from motia_core.observability.ids import (
    TraceParent,
    format_traceparent,
    new_span_id,
    new_trace_id,
    now_ms,
    parse_traceparent,
    w3c_trace_id,
)
from motia_core.observability.logs import (
    LogSink,
    StepLogger,
    configure_logging,
    log_record,
)
from motia_core.observability.recorder import Recorder
from motia_core.observability.store import (
    LogEntry,
    LogQuery,
    ObservabilityBackend,
    Retention,
    TraceQuery,
    TraceSummary,
    open_backend,
)
from motia_core.observability.traces import (
    EmitTraceEvent,
    LogTraceEvent,
    MemoryTraceStore,
    Span,
    SpanError,
    StateTraceEvent,
    StreamTraceEvent,
    Trace,
    TraceChange,
    TraceEvent,
    TraceListener,
    TraceStore,
)

__all__ = (
    "EmitTraceEvent",
    "LogEntry",
    "LogQuery",
    "LogSink",
    "LogTraceEvent",
    "MemoryTraceStore",
    "ObservabilityBackend",
    "Recorder",
    "Retention",
    "Span",
    "SpanError",
    "StateTraceEvent",
    "StepLogger",
    "StreamTraceEvent",
    "Trace",
    "TraceChange",
    "TraceEvent",
    "TraceListener",
    "TraceParent",
    "TraceQuery",
    "TraceStore",
    "TraceSummary",
    "configure_logging",
    "format_traceparent",
    "log_record",
    "new_span_id",
    "new_trace_id",
    "now_ms",
    "open_backend",
    "parse_traceparent",
    "w3c_trace_id",
)
