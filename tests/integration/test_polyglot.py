"""TypeScript and Python steps in one project, through the real app and harness.

Real Node and Python runners, a real HTTP server and client (motia_core.testing.MotiaTestApp).
Fixture projects are copied to a temporary directory and given node_modules/zod (see
test_node_runner.node_project): tests/fixtures/projects/polyglot mixes a TypeScript api step, a
Python event step and a TypeScript event step; tests/fixtures/projects/node-default is the
original's `default` TypeScript template, unmodified.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from motia_core.testing import MotiaTestApp
from tests.integration.test_node_runner import node_project, require_node_runner

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
RUNNERS = ("node", "python")

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture
def polyglot(tmp_path: Path) -> Path:
    require_node_runner()
    return node_project(tmp_path / "polyglot", FIXTURES / "polyglot")


def expected_order(order_id: str, item: str, quantity: int) -> dict[str, Any]:
    """What src/lib/order.ts builds, as Python sees it."""
    return {
        "id": order_id, "item": item, "quantity": quantity, "price": 12.5,
        "maxSafe": 9007199254740991, "tiny": -0.001, "huge": 1e21, "zero": 0,
        "unicode": 'Grüße, 日本, emoji 🚀, quote " and backslash \\', "nothing": None,
        "flags": [True, False],
        "nested": {"tags": ["a", "ü"], "empty": {}, "list": [],
                   "deeper": {"n": -7, "none": None}},
    }


async def test_one_trace_and_identical_state_across_typescript_and_python(
        polyglot: Path) -> None:
    async with MotiaTestApp(polyglot, runners=RUNNERS) as app:
        assert not app.app.project.errors  # type: ignore[union-attr]
        response = await app.post("/orders", json={"item": "book", "quantity": 2})
        assert response.status == 201, response.text
        order_id, trace_id = response.json["id"], response.json["traceId"]
        assert trace_id == response.trace_id
        await app.settle()

        assert [(e.topic, e.trace_id) for e in app.events] == [
            ("order.created", trace_id), ("order.enriched", trace_id)]

        original = expected_order(order_id, "book", 2)
        assert await app.state.get("orders", order_id) == original
        enriched = await app.state.get("enriched", order_id)
        assert enriched == {"fromTypeScript": original, "python": {
            "total": 25.0, "note": "añadido en Python ✓", "none": None, "ratio": 0.1,
            "big": 9007199254740991}}
        finished = await app.state.get("finished", order_id)
        assert finished == {"seenInTypeScript": enriched, "roundTripIntact": True}

        found = await app.app.traces.get_trace(trace_id)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        assert set(spans) == {"CreateOrder", "EnrichOrder", "FinishOrder"}
        assert spans["EnrichOrder"].parent_id == spans["CreateOrder"].id
        assert spans["FinishOrder"].parent_id == spans["EnrichOrder"].id
        logs = {e.message for s in found[1] for e in s.events  # type: ignore[union-attr]
                if getattr(e, "message", None)}
        assert {"order created in TypeScript", "order read in Python",
                "order finished in TypeScript"} <= logs


async def test_zod_body_schema_is_enforced_by_the_runner_with_zod_semantics(
        polyglot: Path) -> None:
    async with MotiaTestApp(polyglot, runners=RUNNERS) as app:
        bad = await app.post("/orders", json={"item": "", "quantity": 1.5})
        assert bad.status == 400
        assert bad.json["error"] == "Request body validation failed"
        assert {e["path"] for e in bad.json["errors"]} == {"/item", "/quantity"}
        # Unknown keys are stripped by zod, not refused (JSON Schema would refuse them).
        extra = await app.post("/orders", json={"item": "pen", "quantity": 1, "gift": True})
        assert extra.status == 201
        await app.settle()
        assert app.events[0].topic == "order.created"


async def test_a_throwing_typescript_handler_is_500_for_api_and_retried_for_events(
        polyglot: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    async with MotiaTestApp(polyglot, runners=RUNNERS) as app:
        boom = await app.get("/boom")
        assert boom.status == 500
        assert boom.json == {"error": "Internal server error"}
        assert "secret" not in boom.text

        await app.emit("flaky", {})
        await app.settle()
        assert await app.state.get("flaky", "attempts") == 3
        assert await app.state.get("flaky", "done") is True
        assert await app.dead_letters("flaky", "Flaky") == []
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "secret detail from TypeScript" in logged and "boom.step.ts" in logged
    assert "flaky failure #2" in logged


async def test_a_runner_killed_mid_invocation_is_restarted_and_the_event_redelivered(
        polyglot: Path) -> None:
    async with MotiaTestApp(polyglot, runners=RUNNERS) as app:
        await app.emit("crash", {})
        await app.settle()
        first_pid = await app.state.get("crash", "firstPid")
        done = await app.state.get("crash", "done")
        assert isinstance(first_pid, int) and done is not None
        assert done["pid"] != first_pid
        assert await app.dead_letters("crash", "Crash") == []
        # The new runner serves everything else as before.
        response = await app.post("/orders", json={"item": "lamp", "quantity": 1})
        assert response.status == 201
        await app.settle()
        finished = await app.state.get("finished", response.json["id"])
        assert finished["roundTripIntact"] is True


async def test_the_original_default_typescript_template_runs_unmodified(tmp_path: Path) -> None:
    require_node_runner()
    root = node_project(tmp_path / "default", FIXTURES / "node-default", zod="v3")
    async with MotiaTestApp(root, runners=RUNNERS) as app:
        project = app.app.project
        assert project is not None and not project.errors
        assert sorted(s.name for s in project.steps) == [
            "ApiTrigger", "CheckStateChange", "Flow Starter", "SetStateChange"]
        response = await app.post("/default", json={"message": "hello"})
        assert response.status == 200
        trace_id = response.trace_id
        assert trace_id is not None
        assert response.json == {"traceId": trace_id, "message": "test-state topic emitted"}
        await app.settle()
        assert await app.state.get(trace_id, "test") == "Welcome to motia!"
        found = await app.app.traces.get_trace(trace_id)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        assert set(spans) == {"ApiTrigger", "SetStateChange", "CheckStateChange"}
        logs = [e.message for s in found[1] for e in s.events  # type: ignore[union-attr]
                if getattr(e, "message", None)]
        assert "The provided value matches the state value 🏁" in logs
        assert "The provided value for the state key does not match" not in logs

        missing = await app.post("/default", json={})
        assert missing.status == 400 and missing.json["errors"][0]["path"] == "/message"
