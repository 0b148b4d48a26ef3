"""OpenTelemetry export: the recorder's spans, sent over OTLP/HTTP (protobuf) with the official SDK.

Off by default. :func:`otel_config` turns it on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, or ``[otel] enabled = true`` / ``[otel] endpoint``
in ``motia.toml`` (``OTEL_SDK_DISABLED=true`` or ``[otel] enabled = false`` keep it off). Only
then does :class:`OtelExporter` import the SDK (``pip install 'motia-core[otel]'``): with export
off, nothing here imports ``opentelemetry`` and the invoke path is what it was.

The core records every span itself (``traces.py``); the exporter is a trace-store listener that
turns each span, when it ends, into an SDK ``ReadableSpan`` with *the same ids* (so the
``traceparent`` an api response carries, and the spans user code makes under the runners' OTel
bridge, line up with what is exported) and hands it to a ``BatchSpanProcessor``, whose thread
does the encoding and the HTTP. What is exported:

* one span per step invocation, named after the step: kind ``SERVER`` for an api step (it is the
  span of the HTTP request: ``http.request.method``, ``http.route``), ``CONSUMER`` for an event
  step, ``INTERNAL`` for cron; attributes ``motia.step.name``, ``motia.step.type``,
  ``motia.step.language``, ``motia.runner``, ``motia.flows``, ``motia.topic`` (event steps),
  ``motia.cron`` and ``motia.trace_id`` (the id steps see as ``traceId``);
* one ``PRODUCER`` span per accepted emit (``emit <topic>``, child of the emitting step's span);
* state, stream, emit and log operations as span events, in order, at their time;
* a failed invocation: status ``ERROR`` with the message, and an ``exception`` event with its
  type, message and stack.

The W3C trace id of a Motia trace id is ``ids.w3c_trace_id`` (reversible for Motia ids), so the
exported trace is the one the ``traceparent`` headers name.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from motia_core.config import Settings
from motia_core.observability.ids import w3c_trace_id
from motia_core.observability.traces import (
    EmitTraceEvent,
    LogTraceEvent,
    Span,
    StateTraceEvent,
    StreamTraceEvent,
    TraceChange,
    TraceEvent,
)

__all__ = ("DEFAULT_SERVICE_NAME", "OtelConfig", "OtelExporter", "otel_config")

log = logging.getLogger("motia.otel")

DEFAULT_SERVICE_NAME = "motia"
_NS_PER_MS = 1_000_000
_HEX16 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class OtelConfig:
    """Where and as whom to export. ``traces_endpoint`` None: the SDK reads the ``OTEL_*``
    variables itself (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else ``OTEL_EXPORTER_OTLP_ENDPOINT``
    plus ``/v1/traces``, headers, timeout, compression); ``service_name`` None: the SDK's
    resource detection (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) decides."""

    traces_endpoint: str | None = None
    service_name: str | None = DEFAULT_SERVICE_NAME


def otel_config(settings: Settings, environ: Mapping[str, str] = os.environ) -> OtelConfig | None:
    """Whether to export, and how; ``None`` when export is off (the default)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or settings.otel is False:
        return None
    from_env = bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if not (from_env or settings.otel or settings.otel_endpoint):
        return None
    endpoint = None
    if not from_env and settings.otel_endpoint:
        endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"
    named = bool(environ.get("OTEL_SERVICE_NAME")) or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", "")
    service = None if named else (settings.otel_service_name or DEFAULT_SERVICE_NAME)
    return OtelConfig(traces_endpoint=endpoint, service_name=service)


class OtelExporter:
    """A trace-store listener that exports every ended span (see the module docstring).

    ``span_exporter``: any SDK ``SpanExporter`` (default: OTLP over HTTP/protobuf, as
    configured); ``flows_of``: a step name's flows, for ``motia.flows``. Raises ``ImportError``
    with the install command when the SDK is missing.
    """

    def __init__(self, config: OtelConfig, *, span_exporter: Any = None,
                 flows_of: Callable[[str], Sequence[str]] | None = None) -> None:
        try:
            from opentelemetry import trace as api
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import Event, ReadableSpan
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        except ImportError as exc:
            raise ImportError(
                f"OpenTelemetry export is on (OTEL_EXPORTER_OTLP_ENDPOINT or [otel] in motia.toml) "
                f"but the SDK is not installed ({exc}); install it with "
                "pip install 'motia-core[otel]', or unset the variable to turn export off"
            ) from exc
        if span_exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            span_exporter = OTLPSpanExporter(endpoint=config.traces_endpoint)
        from motia_core import __version__

        self.config = config
        self._api = api
        self._event = Event
        self._readable = ReadableSpan
        self._ok = api.Status(api.StatusCode.OK)
        self._unset = api.Status(api.StatusCode.UNSET)
        self._flags = api.TraceFlags(api.TraceFlags.SAMPLED)
        self._kinds = {"api": api.SpanKind.SERVER, "event": api.SpanKind.CONSUMER,
                       "cron": api.SpanKind.INTERNAL}
        self._resource = Resource.create(
            {"service.name": config.service_name} if config.service_name else {})
        self._scope = InstrumentationScope("motia-core", __version__)
        self._flows_of = flows_of or (lambda _name: ())
        self._processor = BatchSpanProcessor(span_exporter)
        self.exported = 0

    # --- the listener (on the event loop: build the span, queue it, return) --------------------

    def on_change(self, change: TraceChange) -> None:
        if change.action != "span_ended" or change.span is None:
            return
        span = change.span
        if not _is_span_id(span.id):  # a span id someone else chose: nothing OTel can carry
            return
        trace_id = int(w3c_trace_id(span.trace_id), 16)
        self._end(self._step_span(span, trace_id, change.trace.root_span_id == span.id))
        for event in span.events:
            if isinstance(event, EmitTraceEvent) and event.success:
                self._end(self._emit_span(span, trace_id, event))

    def _end(self, readable: Any) -> None:
        self._processor.on_end(readable)
        self.exported += 1

    def _context(self, trace_id: int, span_id: str | int, remote: bool = False) -> Any:
        span = span_id if isinstance(span_id, int) else int(span_id, 16)
        return self._api.SpanContext(trace_id, span, remote, self._flags)

    def _step_span(self, span: Span, trace_id: int, root: bool) -> Any:
        api = self._api
        attributes = self._attributes(span)
        events = [self._span_event(e) for e in span.events]
        status = self._unset
        if span.error is not None:
            status = api.Status(api.StatusCode.ERROR, span.error.message)
            failure = {"exception.type": span.error.name or "Error",
                       "exception.message": span.error.message}
            if span.error.stack:
                failure["exception.stacktrace"] = span.error.stack
            events.append(self._event("exception", failure,
                                      (span.end_ms or span.start_ms) * _NS_PER_MS))
        elif span.status == "completed":
            status = self._ok
        parent = None
        if span.parent_id and _is_span_id(span.parent_id):
            # The first span of a trace continued from a traceparent hangs under a remote span.
            parent = self._context(trace_id, span.parent_id, remote=root)
        return self._readable(
            span.name, context=self._context(trace_id, span.id), parent=parent,
            resource=self._resource, attributes=attributes, events=events,
            kind=self._kinds.get(span.kind, api.SpanKind.INTERNAL), status=status,
            start_time=span.start_ms * _NS_PER_MS,
            end_time=(span.end_ms or span.start_ms) * _NS_PER_MS,
            instrumentation_scope=self._scope)

    def _attributes(self, span: Span) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "motia.step.name": span.name, "motia.step.type": span.kind,
            "motia.trace_id": span.trace_id,
        }
        if span.language:
            attributes["motia.step.language"] = span.language
        if span.runner:
            attributes["motia.runner"] = span.runner
        flows = self._flows_of(span.name)
        if flows:
            attributes["motia.flows"] = tuple(flows)
        if span.entry:
            if span.kind == "api":
                method, _, route = span.entry.partition(" ")
                attributes["http.request.method"] = method
                attributes["http.route"] = route
            elif span.kind == "event":
                attributes["motia.topic"] = span.entry
                attributes["messaging.destination.name"] = span.entry
            elif span.kind == "cron":
                attributes["motia.cron"] = span.entry
        if span.dropped_events:
            attributes["motia.dropped_events"] = span.dropped_events
        return attributes

    def _emit_span(self, span: Span, trace_id: int, event: EmitTraceEvent) -> Any:
        at = event.timestamp * _NS_PER_MS
        return self._readable(
            # Only exported, never a parent of anything: the SDK's own (non-crypto) ids will do.
            f"emit {event.topic}", context=self._context(trace_id, random.getrandbits(64) or 1),
            parent=self._context(trace_id, span.id), resource=self._resource,
            attributes={"motia.topic": event.topic, "messaging.destination.name": event.topic,
                        "messaging.operation.type": "send", "motia.step.name": span.name,
                        "motia.trace_id": span.trace_id},
            kind=self._api.SpanKind.PRODUCER, status=self._ok, start_time=at, end_time=at,
            instrumentation_scope=self._scope)

    def _span_event(self, event: TraceEvent) -> Any:
        at = event.timestamp * _NS_PER_MS
        attributes: dict[str, Any]
        if isinstance(event, StateTraceEvent):
            attributes = {"motia.state.group": event.group}
            if event.key is not None:
                attributes["motia.state.key"] = event.key
            return self._event(f"state.{event.operation}", attributes, at)
        if isinstance(event, StreamTraceEvent):
            attributes = {"motia.stream.name": event.stream_name,
                          "motia.stream.group_id": event.group_id}
            if event.id is not None:
                attributes["motia.stream.id"] = event.id
            if event.calls > 1:
                attributes["motia.stream.calls"] = event.calls
            return self._event(f"stream.{event.operation}", attributes, at)
        if isinstance(event, EmitTraceEvent):
            return self._event("emit", {"motia.topic": event.topic,
                                        "motia.emit.success": event.success}, at)
        assert isinstance(event, LogTraceEvent)
        return self._event("log", {"log.severity": event.level, "log.message": event.message},
                           at)

    # --- the end -------------------------------------------------------------------------------

    def force_flush(self, timeout_ms: int = 30_000) -> bool:
        """Export what is queued now (blocking: call it from a thread)."""
        return bool(self._processor.force_flush(timeout_ms))

    def shutdown(self) -> None:
        """Export what is queued, then stop the export thread (blocking: call it from a
        thread). A collector that is down costs at most the exporter's timeout."""
        try:
            self._processor.shutdown()  # type: ignore[no-untyped-call]
        except Exception as exc:  # observability must never fail the shutdown it observes
            log.warning("could not export the last spans: %s", exc,
                        extra={"action": "otel_shutdown_failed"})


def _is_span_id(value: str) -> bool:
    return len(value) == 16 and value != "0" * 16 and _HEX16.issuperset(value)
