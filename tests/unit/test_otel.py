"""The OpenTelemetry exporter: when it is on, and what a recorded span becomes.

The SDK's own in-memory exporter stands in for the network here (the OTLP path against a real
receiver is tests/e2e/test_otel_export.py); the spans come from a real MemoryTraceStore.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from motia_core.config import Settings, SettingsError
from motia_core.observability import (
    EmitTraceEvent,
    LogTraceEvent,
    MemoryTraceStore,
    SpanError,
    StateTraceEvent,
    StreamTraceEvent,
    w3c_trace_id,
)
from motia_core.observability.otel import OtelConfig, OtelExporter, otel_config

ROOT = Path("/nonexistent-project")


def settings(**values: object) -> Settings:
    return Settings(project_root=ROOT).with_overrides(values)


# --- when export is on -----------------------------------------------------------------------


def test_export_is_off_unless_an_endpoint_or_the_setting_says_so() -> None:
    assert otel_config(settings(), {}) is None
    assert otel_config(settings(), {"OTEL_SERVICE_NAME": "x"}) is None


def test_the_standard_variables_turn_it_on_and_the_sdk_reads_them() -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        config = otel_config(settings(otel_endpoint="http://ignored:4318"),
                             {name: "http://127.0.0.1:4318"})
        assert config == OtelConfig(traces_endpoint=None, service_name="motia")


def test_motia_toml_turns_it_on_with_its_endpoint_and_service_name(tmp_path: Path) -> None:
    (tmp_path / "motia.toml").write_text(
        '[otel]\nendpoint = "http://127.0.0.1:4318/"\nservice_name = "shop"\n')
    config = otel_config(Settings.load(tmp_path, environ={}), {})
    assert config == OtelConfig(traces_endpoint="http://127.0.0.1:4318/v1/traces",
                                service_name="shop")
    (tmp_path / "motia.toml").write_text("[otel]\nenabled = true\n")
    assert otel_config(Settings.load(tmp_path, environ={}), {}) == OtelConfig(None, "motia")


def test_off_wins_and_the_service_name_from_the_environment_is_the_sdks() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert otel_config(settings(otel=False), env) is None
    assert otel_config(settings(otel=True), {**env, "OTEL_SDK_DISABLED": "true"}) is None
    named = otel_config(settings(otel_service_name="shop"), {**env, "OTEL_SERVICE_NAME": "a"})
    assert named is not None and named.service_name is None  # the SDK's resource reads it
    attrs = {**env, "OTEL_RESOURCE_ATTRIBUTES": "service.name=b,team=x"}
    assert otel_config(settings(), attrs) == OtelConfig(None, None)


def test_a_bad_otel_setting_is_named(tmp_path: Path) -> None:
    (tmp_path / "motia.toml").write_text('[otel]\nenabled = "maybe"\n')
    with pytest.raises(SettingsError, match="'otel'"):
        Settings.load(tmp_path, environ={})


# --- what a span becomes ---------------------------------------------------------------------


@pytest.fixture
def exported() -> tuple[MemoryTraceStore, OtelExporter, InMemorySpanExporter]:
    store = MemoryTraceStore()
    memory = InMemorySpanExporter()
    exporter = OtelExporter(OtelConfig(service_name="unit"), span_exporter=memory,
                            flows_of=lambda name: ["orders"] if name == "CreateOrder" else [])
    store.subscribe(exporter.on_change)
    return store, exporter, memory


def test_an_api_span_with_its_events_and_emit(
        exported: tuple[MemoryTraceStore, OtelExporter, InMemorySpanExporter]) -> None:
    store, exporter, memory = exported
    api = store.start_span("K7M2Q-5123456", "00f067aa0ba902b7", "CreateOrder", "api",
                           "POST /orders", language="node", runner="node#0")
    store.add_event(api.id, StateTraceEvent(operation="set", group="orders", key="o1",
                                            timestamp=api.start_ms))
    store.add_event(api.id, StreamTraceEvent(operation="set", stream_name="s", group_id="g",
                                             id="i", timestamp=api.start_ms))
    store.add_event(api.id, StreamTraceEvent(operation="set", stream_name="s", group_id="g",
                                             id="i", timestamp=api.start_ms))
    store.add_event(api.id, EmitTraceEvent(topic="order.created", success=True,
                                           timestamp=api.start_ms))
    store.add_event(api.id, EmitTraceEvent(topic="refused", success=False,
                                           timestamp=api.start_ms))
    store.add_event(api.id, LogTraceEvent(level="info", message="hi", timestamp=api.start_ms))
    assert memory.get_finished_spans() == ()  # nothing before the span ends
    store.end_span(api.id)
    assert exporter.force_flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert set(spans) == {"CreateOrder", "emit order.created"}  # no span for a refused emit
    span = spans["CreateOrder"]
    trace_id = int(w3c_trace_id("K7M2Q-5123456"), 16)
    assert span.context.trace_id == trace_id and span.context.span_id == int(api.id, 16)
    assert span.parent is not None and span.parent.span_id == int("00f067aa0ba902b7", 16)
    assert span.parent.is_remote  # the first span of the trace hangs under the caller's
    assert span.kind is SpanKind.SERVER and span.status.status_code is StatusCode.OK
    assert dict(span.attributes or {}) == {
        "motia.step.name": "CreateOrder", "motia.step.type": "api", "motia.step.language": "node",
        "motia.runner": "node#0", "motia.flows": ("orders",), "motia.trace_id": "K7M2Q-5123456",
        "http.request.method": "POST", "http.route": "/orders"}
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("state.set", {"motia.state.group": "orders", "motia.state.key": "o1"}),
        ("stream.set", {"motia.stream.name": "s", "motia.stream.group_id": "g",
                        "motia.stream.id": "i", "motia.stream.calls": 2}),
        ("emit", {"motia.topic": "order.created", "motia.emit.success": True}),
        ("emit", {"motia.topic": "refused", "motia.emit.success": False}),
        ("log", {"log.severity": "info", "log.message": "hi"})]
    assert span.start_time == api.start_ms * 1_000_000
    assert span.resource.attributes["service.name"] == "unit"
    emit = spans["emit order.created"]
    assert emit.kind is SpanKind.PRODUCER and emit.parent is not None
    assert emit.parent.span_id == int(api.id, 16) and emit.context.trace_id == trace_id


def test_a_failed_event_span_has_status_error_and_an_exception_event(
        exported: tuple[MemoryTraceStore, OtelExporter, InMemorySpanExporter]) -> None:
    store, exporter, memory = exported
    first = store.start_span("T1", None, "A", "cron", "* * * * *", language="python")
    second = store.start_span("T1", first.id, "B", "event", "order.created", language="ruby")
    store.end_span(second.id, SpanError(message="boom", name="RuntimeError",
                                        stack="RuntimeError: boom\n  at b.rb:3"))
    store.end_span(first.id)
    assert exporter.force_flush()
    spans = {s.name: s for s in memory.get_finished_spans()}
    failed = spans["B"]
    assert failed.kind is SpanKind.CONSUMER
    assert failed.status.status_code is StatusCode.ERROR and failed.status.description == "boom"
    assert failed.parent is not None and not failed.parent.is_remote
    assert failed.parent.span_id == int(first.id, 16)
    (event,) = failed.events
    assert event.name == "exception" and dict(event.attributes or {}) == {
        "exception.type": "RuntimeError", "exception.message": "boom",
        "exception.stacktrace": "RuntimeError: boom\n  at b.rb:3"}
    assert failed.attributes is not None and failed.attributes["motia.topic"] == "order.created"
    assert spans["A"].kind is SpanKind.INTERNAL and spans["A"].parent is None
    assert spans["A"].attributes is not None and spans["A"].attributes["motia.cron"] == "* * * * *"
    exporter.shutdown()


def test_a_span_id_that_is_not_w3c_is_not_exported(
        exported: tuple[MemoryTraceStore, OtelExporter, InMemorySpanExporter]) -> None:
    store, exporter, memory = exported
    span = store.start_span("T2", None, "A", "event", "t", span_id="not-a-span-id")
    store.end_span(span.id)
    assert exporter.force_flush() and memory.get_finished_spans() == ()
    assert exporter.exported == 0
