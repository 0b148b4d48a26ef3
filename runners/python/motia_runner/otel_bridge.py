"""The OpenTelemetry bridge: user spans made inside a handler become children of the step's span.

Only when the project's Python has ``opentelemetry-api`` (the runner depends on nothing): the
first invocation that carries a ``traceparent`` tries the import once; without the package every
call here is a dictionary look-up that returns ``None``. The step's span itself is the core's, so
the handler runs under a *non-recording* span with the step span's ids (remote, sampled): a span
the user starts with any tracer then has the step span as its parent, and the user's SDK exports
it into the same trace. The global propagator is left alone (the user may have set B3 or another):
the W3C header is read with the W3C propagator itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ("attach", "detach")

_api: Any = None  # None: not tried yet; False: not installed; else (context, propagator)


def _load() -> Any:
    global _api
    try:
        from opentelemetry import context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except Exception:  # not installed, or broken: the handler runs as it would without it
        _api = False
    else:
        _api = (context, TraceContextTextMapPropagator())
    return _api


def attach(traceparent: str | None, tracestate: str | None) -> Any:
    """Make the step's span current in this task's context; returns the token for
    :func:`detach`, or ``None`` when there is nothing to attach."""
    if traceparent is None:
        return None
    api = _api if _api is not None else _load()
    if api is False:
        return None
    context, propagator = api
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return context.attach(propagator.extract(carrier))


def detach(token: Any) -> None:
    if token is not None:
        _api[0].detach(token)
