"""W3C trace context through the HTTP server and every runner, and the OpenTelemetry bridge.

A real server and real Node, Python and Ruby runners (tests/fixtures/projects/otel-bridge): a
request carrying ``traceparent``/``tracestate`` continues its trace, the response names the api
step's span, every subscriber gets its own span's ``traceparent`` and the incoming ``tracestate``
on ``ctx``, and where the project has the OpenTelemetry API (Node: ``@opentelemetry/api`` from
tests/fixtures/otel_api; Python: the venv's) the step's span is the active one, so user spans
(made with the real Python SDK here) are its children.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from motia_core.observability import format_traceparent
from motia_core.testing import MotiaTestApp
from tests.conftest import FIXTURES, missing, require_runtime

PROJECT = FIXTURES / "projects" / "otel-bridge"
OTEL_API = FIXTURES / "otel_api" / "node_modules" / "@opentelemetry"
OUTSIDE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{OUTSIDE}-00f067aa0ba902b7-01"
STATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
SUBSCRIBERS = ("NodeSeen", "PySeen", "PySyncSeen", "RbSeen")

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    require_runtime("node")
    require_runtime("ruby")
    if not OTEL_API.is_dir():
        missing("the @opentelemetry/api test fixture", "make test-deps, or npm ci --prefix "
                "tests/fixtures/otel_api")
    dest = tmp_path / "otel-bridge"
    shutil.copytree(PROJECT, dest)
    (dest / "node_modules").mkdir()
    (dest / "node_modules" / "@opentelemetry").symlink_to(OTEL_API, target_is_directory=True)
    return dest


async def test_an_incoming_traceparent_reaches_every_runner_and_user_spans_are_children(
        project: Path) -> None:
    async with MotiaTestApp(project, runners=("node", "python", "ruby")) as app:
        assert not app.app.project.errors  # type: ignore[union-attr]
        response = await app.post("/traced", json={},
                                  headers={"traceparent": INCOMING, "tracestate": STATE})
        assert response.status == 200, response.text
        # The response names the api step's span, in the incoming trace.
        match = re.fullmatch(rf"00-{OUTSIDE}-([0-9a-f]{{16}})-01", response.headers["traceparent"])
        assert match is not None, response.headers
        api_span = match.group(1)
        body = response.json
        assert body["traceId"] == OUTSIDE == response.trace_id  # what steps see, unchanged
        assert body["traceparent"] == response.headers["traceparent"]
        assert body["tracestate"] == STATE
        # @opentelemetry/api sees the step's span as the active one.
        assert body["active"] == {"traceId": OUTSIDE, "spanId": api_span}

        await app.settle()
        found = await app.app.traces.get_trace(OUTSIDE)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        assert spans["Traced"].id == api_span
        assert spans["Traced"].parent_id == "00f067aa0ba902b7"
        for name in SUBSCRIBERS:
            span = spans[name]
            assert span.parent_id == api_span, name
            seen: Any = await app.state.get("seen", name)
            assert seen is not None, f"{name} did not run"
            assert seen["traceparent"] == format_traceparent(OUTSIDE, span.id), name
            assert seen["tracestate"] == STATE, name
            if "traceContext" in seen:
                assert seen["traceContext"] == {"traceparent": seen["traceparent"],
                                                "tracestate": STATE}, name
            if name == "NodeSeen":
                assert seen["active"] == {"traceId": OUTSIDE, "spanId": span.id}
            if name.startswith("Py"):  # the SDK's own span: a child of the step's span
                assert seen["current"] == {"traceId": OUTSIDE, "spanId": span.id}, name
                assert seen["child"] == {"traceId": OUTSIDE, "parentId": span.id}, name


async def test_without_an_incoming_traceparent_the_motia_trace_goes_out_as_w3c(
        project: Path) -> None:
    async with MotiaTestApp(project, runners=("node", "python", "ruby")) as app:
        response = await app.post("/traced", json={})
        assert response.status == 200, response.text
        trace_id = response.trace_id
        assert trace_id is not None and not re.fullmatch(r"[0-9a-f]{32}", trace_id)
        body = response.json
        assert body["traceId"] == trace_id and body["tracestate"] is None
        # The Motia id maps to a W3C one, reversibly (observability/ids.py).
        assert response.headers["traceparent"] == body["traceparent"] == format_traceparent(
            trace_id, body["active"]["spanId"])
        await app.settle()
        seen: Any = await app.state.get("seen", "RbSeen")
        assert seen["traceparent"].split("-")[1] == body["traceparent"].split("-")[1]
        assert seen["tracestate"] is None and seen["traceContext"] == {
            "traceparent": seen["traceparent"]}


async def test_post_emit_continues_an_incoming_traceparent(project: Path) -> None:
    async with MotiaTestApp(project, runners=("node", "python", "ruby")) as app:
        response = await app.post("/emit", json={"topic": "traced", "data": {}},
                                  headers={"traceparent": INCOMING, "tracestate": STATE})
        assert response.status == 200 and response.trace_id == OUTSIDE
        await app.settle()
        found = await app.app.traces.get_trace(OUTSIDE)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        for name in SUBSCRIBERS:
            assert spans[name].parent_id == "00f067aa0ba902b7", name
            seen: Any = await app.state.get("seen", name)
            assert seen["traceparent"] == format_traceparent(OUTSIDE, spans[name].id), name
            assert seen["tracestate"] == STATE, name
