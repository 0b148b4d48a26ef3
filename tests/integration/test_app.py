"""The steps runtime end to end: real Python runner, real HTTP server, real client (the harness)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from motia_core.observability import w3c_trace_id
from motia_core.runtime.app import StartupFailed
from motia_core.testing import MotiaTestApp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"
APP = FIXTURES / "app"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_api_step_gets_params_query_and_its_headers_come_back() -> None:
    async with MotiaTestApp(APP) as app:
        response = await app.get("/hello/ada?tag=a&tag=b&x=1")
        assert response.status == 200
        assert response.headers["x-greeter"] == "python"
        body = response.json
        assert body["greeting"] == "hello ada"
        assert body["query"] == {"tag": ["a", "b"], "x": "1"}
        assert body["traceId"] == response.trace_id


async def test_every_bad_request_gets_its_status_and_a_json_body() -> None:
    async with MotiaTestApp(APP, max_body_bytes=1000) as app:
        missing = await app.post("/items", json={"price": -1})
        assert missing.status == 400
        assert {e["path"] for e in missing.json["errors"]} == {"/name", "/price"}

        malformed = await app.post("/items", data=b"{not json",
                                   headers={"content-type": "application/json"})
        assert malformed.status == 400 and malformed.json["error"] == "Invalid JSON body"

        too_big = await app.post("/items", json={"name": "x" * 2000, "price": 1})
        assert too_big.status == 413 and "error" in too_big.json

        unknown = await app.get("/no/such/route")
        assert unknown.status == 404 and unknown.json["error"] == "Not found"

        ok = await app.post("/items", json={"name": "pen", "price": 2})
        assert ok.status == 201 and ok.json == {"name": "pen", "price": 2}


async def test_a_handler_error_is_500_without_the_stack_and_logged_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    async with MotiaTestApp(APP) as app:
        response = await app.get("/boom")
        assert response.status == 500
        assert response.json == {"error": "Internal server error"}
        assert "secret" not in response.text
        assert response.trace_id
        # The failed span's W3C context comes back too (the trace id mapped, issue 18).
        assert response.headers["traceparent"].split("-")[1] == w3c_trace_id(response.trace_id)
        nothing = await app.get("/nothing")
        assert nothing.status == 500 and nothing.json == {"error": "Internal server error"}
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "secret detail" in logged and "boom_step.py" in logged


async def test_broken_steps_are_reported_and_the_others_keep_working() -> None:
    async with MotiaTestApp(APP) as app:
        errors = app.app.project.errors  # type: ignore[union-attr]
        assert {Path(f).name for f in errors} == {"broken_step.py", "bad_method_step.py"}
        bad = errors[str(APP / "steps" / "bad_method_step.py")][0]
        assert bad.field == "config.method" and "GET" in str(bad)
        assert (await app.get("/hello/x")).status == 200
        assert (await app.get("/broken")).status == 404


async def test_motia_start_refuses_a_project_with_broken_steps() -> None:
    with pytest.raises(StartupFailed, match=r"broken_step\.py") as info:
        async with MotiaTestApp(APP, strict=True):
            pass
    assert "bad_method_step.py" in str(info.value)


async def test_emit_permission_and_one_delivery_per_subscriber(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with MotiaTestApp(APP) as app:
        response = await app.post("/emitter", json={"n": 7})
        assert response.status == 202
        await app.settle()
        assert [e.topic for e in app.events] == ["counted"]
        assert await app.state.get("counts", response.trace_id) == {"n": 7}
    assert any("forbidden" in r.getMessage() and "not defined in the step config"
               in r.getMessage() for r in caplog.records)


async def test_a_failing_event_step_is_retried_then_dead_lettered() -> None:
    async with MotiaTestApp(APP) as app:
        await app.emit("flaky", {"x": 1})
        await app.settle()
        assert await app.state.get("flaky", "attempts") == 3  # maxRetries 2: 3 attempts
        letters = await app.dead_letters("flaky", "Flaky")
        assert len(letters) == 1
        assert "flaky failure #3" in letters[0].error.message


async def test_invalid_event_input_warns_by_default_and_is_refused_when_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with MotiaTestApp(APP) as app:
        trace_id = await app.emit("counted", {"n": "seven"})
        await app.settle()
        assert await app.state.get("counts", trace_id) == {"n": "seven"}
    assert any("does not match the input schema" in r.getMessage() and "/n" in r.getMessage()
               for r in caplog.records)

    async with MotiaTestApp(APP, strict_event_input=True) as app:
        trace_id = await app.emit("counted", {"n": "seven"})
        await app.settle()
        assert await app.state.get("counts", trace_id) is None
        assert len(await app.dead_letters("counted", "Counter")) == 1


async def test_traceparent_continues_an_outside_trace_across_the_chain() -> None:
    outside = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with MotiaTestApp(APP) as app:
        response = await app.post(
            "/emitter", json={"n": 1},
            headers={"traceparent": f"00-{outside}-00f067aa0ba902b7-01"})
        await app.settle()
        assert response.trace_id == outside
        assert await app.state.get("counts", outside) == {"n": 1}
        found = await app.app.traces.get_trace(outside)
        assert found is not None
        _, spans = found
        assert sorted(s.name for s in spans) == ["Counter", "Emitter"]
        emitter = next(s for s in spans if s.name == "Emitter")
        counter = next(s for s in spans if s.name == "Counter")
        assert counter.parent_id == emitter.id
        assert any(getattr(e, "topic", None) == "forbidden" and not e.success  # type: ignore[attr-defined]
                   for e in emitter.events)


async def test_post_emit_and_health() -> None:
    async with MotiaTestApp(APP) as app:
        response = await app.post("/emit", json={"topic": "counted", "data": {"n": 2}})
        assert response.status == 200
        assert response.json == {"success": True, "emitted": {"topic": "counted",
                                                              "data": {"n": 2}},
                                 "subscribers": 1}
        await app.settle()
        assert await app.state.get("counts", response.trace_id) == {"n": 2}
        health = (await app.get("/__motia/health")).json
        assert health["runners"]["python"][0]["state"] == "ready"


async def test_the_seed_python_template_runs_unmodified() -> None:
    async with MotiaTestApp(FIXTURES / "seed-python") as app:
        assert not app.app.project.errors  # type: ignore[union-attr]
        response = await app.post("/default", json={"hello": "world"})
        assert response.status == 200
        assert response.json == {"message": "test-state topic emitted"}
        await app.settle()
        stored = await app.state.get(response.trace_id, "test")
        assert stored == {"message": "welcome to motia", "data": {"hello": "world"}}
        found = await app.app.traces.get_trace(response.trace_id)
        assert found is not None
        logs = [e.message for s in found[1] for e in s.events  # type: ignore[union-attr]
                if getattr(e, "message", None)]
        assert "[Test motia python] state value is as expected 🏁" in logs


async def test_a_cron_step_ticks_with_a_new_trace_each_time() -> None:
    async with MotiaTestApp(FIXTURES / "cron") as app:
        first = await app.wait_for_topic("ticked", timeout_s=5)
        app.events.clear()
        second = await app.wait_for_topic("ticked", timeout_s=5)
        assert first.trace_id != second.trace_id
        assert first.data == {"traceId": first.trace_id}


async def test_dead_letters_over_the_internal_http_api() -> None:
    async with MotiaTestApp(APP) as app:
        await app.emit("flaky", {"x": 1})
        await app.settle()
        [letter] = (await app.get("/__motia/dlq")).json
        assert letter["queue"] == "flaky.Flaky" and letter["attempts"] == 3
        shown = (await app.get(f"/__motia/dlq/{letter['id']}")).json
        assert shown["data"] == {"x": 1} and "flaky failure #3" in shown["error"]["message"]
        assert (await app.get("/__motia/dlq/nope")).status == 404

        replayed = await app.post(f"/__motia/dlq/{letter['id']}/replay")
        assert replayed.status == 200 and replayed.json["replayed"] is True
        await app.settle()
        assert await app.state.get("flaky", "attempts") == 6  # three more, then dead again
        purged = (await app.post("/__motia/dlq/purge")).json
        assert purged["purged"] == 1 and (await app.get("/__motia/dlq")).json == []


async def test_a_failed_cron_tick_is_retried_through_its_queue_under_its_trace() -> None:
    async with MotiaTestApp(FIXTURES / "cron-retry", runners="python") as app:
        with anyio.fail_after(20):
            while not (done := await app.state.get_group("done")):
                await anyio.sleep(0.1)
        # Retried (attempt 2) under the tick's own trace, which names its scheduled second.
        assert done[0] == {"attempts": 2}
        [trace_id] = [item.key for item in await app.state.items("done")][:1]
        assert trace_id.endswith("000")
