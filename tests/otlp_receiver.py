"""A real OTLP/HTTP trace receiver on 127.0.0.1, for the export test and bench/otel_export.py.

It answers ``POST /v1/traces`` as a collector does: the body is an ``ExportTraceServiceRequest``
(protobuf, gzip or not), decoded with the official ``opentelemetry-proto`` package, answered
with an empty ``ExportTraceServiceResponse``. Spans are kept as :class:`ReceivedSpan` (hex ids,
plain attributes), or only counted (``keep=False``, for the bench).

``python -m tests.otlp_receiver --port N`` runs one as its own process (the bench's, so its CPU
is not the core's); ``GET /count`` answers ``{"spans": n, "requests": n}`` there.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ("OtlpReceiver", "ReceivedEvent", "ReceivedSpan")

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER",
         5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass
class ReceivedEvent:
    name: str
    attributes: dict[str, Any]
    time_ns: int


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    attributes: dict[str, Any]
    events: list[ReceivedEvent]
    status: str
    status_message: str
    start_ns: int
    end_ns: int
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


class OtlpReceiver:
    """Collects what exporters send; ``await wait_for(predicate)`` waits for a condition."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.spans: list[ReceivedSpan] = []
        self.count = 0
        self.requests = 0
        self.bad: list[str] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> OtlpReceiver:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_get("/count", self._count)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool],
                       timeout_s: float = 30) -> None:
        """Until ``predicate(spans)`` holds (checked on every batch), or TimeoutError."""
        with anyio.fail_after(timeout_s):
            while not predicate(self.spans):
                self._changed.clear()
                await self._changed.wait()

    async def _count(self, _request: web.Request) -> web.Response:
        return web.json_response({"spans": self.count, "requests": self.requests})

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        if request.content_type != "application/x-protobuf":
            self.bad.append(f"content type {request.content_type!r}")
            return web.Response(status=415)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        self.requests += 1
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.count += 1
                    if self.keep:
                        self.spans.append(self._span(span, resource, scope_spans.scope.name))
        self._changed.set()
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    @staticmethod
    def _span(span: Any, resource: dict[str, Any], scope: str) -> ReceivedSpan:
        return ReceivedSpan(
            name=span.name, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
            parent_id=span.parent_span_id.hex() or None, kind=KINDS.get(span.kind, "?"),
            attributes=_attributes(span.attributes),
            events=[ReceivedEvent(e.name, _attributes(e.attributes), e.time_unix_nano)
                    for e in span.events],
            status=STATUS.get(span.status.code, "?"), status_message=span.status.message,
            start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
            resource=resource, scope=scope)


async def _serve(port: int) -> None:
    receiver = await OtlpReceiver(keep=False).start(port)
    print(f"listening on {receiver.url}", flush=True)
    await asyncio.Event().wait()  # until the process is terminated


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(_serve(parser.parse_args().port))
