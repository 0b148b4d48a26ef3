"""The OpenTelemetry bridge: user spans made inside a handler become children of the step's span.

Only when the project uses ``opentelemetry-api`` (the runner depends on nothing): the test is
whether ``opentelemetry.context`` has been imported by then (by a step file, or by a library it
uses), one dictionary look-up per invocation, so a project without OpenTelemetry pays nothing. The
step's span is the core's, so the handler runs under a *non-recording* span with the step span's
ids (remote, sampled): a span the user starts with any tracer then has the step span as parent,
and the user's SDK exports it into the same trace. The global propagator is not used (the user may
have set B3 or another): the core always sends a W3C ``traceparent``, parsed here.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ("attach", "detach")

_modules = sys.modules
_api: Any = None  # None: not loaded yet; else the functions and types used below


def _load() -> Any:
    global _api
    from opentelemetry import context, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

    _api = (context.attach, context.detach, trace.set_span_in_context, NonRecordingSpan,
            SpanContext, TraceFlags, TraceState.from_header)
    return _api


def attach(traceparent: str | None, tracestate: str | None) -> Any:
    """Make the step's span current in this task's context; returns the token for
    :func:`detach`, or ``None`` when there is nothing to attach."""
    if traceparent is None or "opentelemetry.context" not in _modules:
        return None
    parts = traceparent.split("-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        api = _api if _api is not None else _load()
        attach_, _, in_context, span_type, context_type, flags, state_from = api
        trace_id, span_id, sampled = int(parts[1], 16), int(parts[2], 16), int(parts[3][:2], 16)
        state = state_from([tracestate]) if tracestate else None
        span = span_type(context_type(trace_id, span_id, True, flags(sampled & 1), state))
        return attach_(in_context(span))
    except Exception:  # a broken or odd OpenTelemetry install: the handler runs without it
        return None


def detach(token: Any) -> None:
    if token is not None:
        _api[1](token)
