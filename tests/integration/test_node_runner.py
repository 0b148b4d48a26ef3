"""The Node runner (runners/node): what only it does (TypeScript, ESM and CommonJS, zod, console
capture, stray rejections), spawned for real and driven over stdio by the fake core of
tests/stdio_core.py. What every runner does is in test_runners.py.

The fixture project (tests/fixtures/projects/node-runner) is copied to a temporary directory and
given a ``node_modules/zod`` the way ``npm install zod`` would: a link to the zod 3 or zod 4
package installed as the runner's own (dev) dependency, so both majors are tested without
committing node_modules or installing anything per test (``tests/runners.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from motia_core.runners import RunnerRegistry
from motia_core.runners.spec import builtin_specs
from motia_core.runtime.app import StartupFailed
from motia_core.testing import MotiaTestApp, require_runtime
from tests.runners import NODE_FIXTURE, NODE_RUNNER, node_project, require_node_runner
from tests.runners import spawn_node as spawn

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_node_runner()
    return node_project(tmp_path_factory.mktemp("node") / "project")


def step(root: Path, name: str) -> str:
    return str(root / "steps" / name)


# --- handshake and lifecycle -------------------------------------------------------------------


async def test_bad_lines_are_answered_and_the_runner_goes_on(project: Path) -> None:
    async with spawn(project) as core:
        core._pending[None] = asyncio.get_running_loop().create_future()
        core.write_raw(b"{not json")
        parse_error = await asyncio.wait_for(core._pending[None], 10)
        assert parse_error["error"]["code"] == -32700

        core._pending["no-version"] = asyncio.get_running_loop().create_future()
        core.write_raw(b'{"id": "no-version", "method": "initialize"}')
        invalid = await asyncio.wait_for(core._pending["no-version"], 10)
        assert invalid["error"]["code"] == -32600


# --- loading -----------------------------------------------------------------------------------


async def test_load_reports_per_file_errors_and_loads_the_rest(project: Path) -> None:
    files = ["basic-api.step.ts", "broken.step.ts", "import-error.step.ts",
             "bad-config.step.ts", "no-config.step.ts", "noop.step.ts", "todo.stream.ts",
             "middleware.step.ts", "event.step.ts"]
    async with spawn(project) as core:
        loaded = {Path(f["file"]).name: f for f in await core.load(*(step(project, f)
                                                                     for f in files))}
        assert list(loaded) == files  # one entry per file, in order

        broken = loaded["broken.step.ts"]["error"]
        assert broken["code"] == -32003
        assert "steps/broken.step.ts" in broken["message"] and "SyntaxError" in broken["message"]
        assert "broken.step.ts:3:" in broken["data"]["stack"]

        missing_pkg = loaded["import-error.step.ts"]["error"]["message"]
        assert "definitely-not-installed-pkg" in missing_pkg
        assert "npm install definitely-not-installed-pkg" in missing_pkg

        assert "not JSON-serialisable" in loaded["bad-config.step.ts"]["error"]["message"]
        assert "config" in loaded["no-config.step.ts"]["error"]["message"]

        api = loaded["basic-api.step.ts"]
        assert api == {"file": step(project, "basic-api.step.ts"), "hasHandler": True, "config": {
            "type": "api", "name": "BasicApi", "path": "/things/:id", "method": "POST",
            "emits": [], "responseSchema": {"200": {"type": "object"}}}}
        assert loaded["noop.step.ts"] == {
            "file": step(project, "noop.step.ts"), "hasHandler": False,
            "config": {"type": "noop", "name": "Placeholder", "virtualEmits": ["x"],
                       "virtualSubscribes": []}}
        stream = loaded["todo.stream.ts"]
        assert stream["hasHandler"] is False
        assert "canAccess" not in stream["config"]
        assert stream["config"]["__motia_hasCanAccess"] is True
        assert stream["config"]["schema"]["properties"]["done"] == {"type": "boolean"}
        assert "middleware" not in loaded["middleware.step.ts"]["config"]

        # A failed file is not invocable; a good one still is.
        assert (await core.invoke(step(project, "broken.step.ts")))["error"]["code"] == -32002
        out = await core.output(step(project, "event.step.ts"), input={"n": 4})
        assert out == {"handled": 4}


async def test_js_esm_commonjs_default_exports_and_project_imports_load(project: Path) -> None:
    names = ["esm_step.js", "cjs_step.js", "default-export.step.ts", "services.step.ts",
             "motia-values.step.ts"]
    async with spawn(project) as core:
        loaded = await core.load(*(step(project, n) for n in names))
        assert [f.get("error") for f in loaded] == [None] * len(names), loaded
        assert [f["config"]["name"] for f in loaded] == [
            "EsmJs", "CommonJs", "DefaultExport", "Services", "MotiaValues"]
        esm = await core.output(step(project, "esm_step.js"), input={"n": 2})
        cjs = await core.output(step(project, "cjs_step.js"), input={"n": 2})
        default = await core.output(step(project, "default-export.step.ts"), input={"x": 1})
        services = await core.output(step(project, "services.step.ts"), input={"who": "ada"})
        values = await core.output(step(project, "motia-values.step.ts"), input={})
    assert esm == {"esm": True, "sep": "/", "doubled": 4}
    assert cjs == {"cjs": True, "tripled": 6, "traceId": "trace-1"}
    assert default == {"viaDefault": True, "input": {"x": 1}}
    assert services == {"greeting": "HELLO ADA!", "otherStepTopic": "thing.seen", "setting": 42}
    assert values == {"helper": "<motia placeholder someRuntimeHelper>"}
    stderr = "".join(core.stderr)
    assert "'motia' is not installed" in stderr and "someRuntimeHelper" in stderr
    assert "MODULE_TYPELESS_PACKAGE_JSON" not in stderr


async def test_each_file_is_imported_once_and_reload_swaps_atomically(tmp_path: Path) -> None:
    root = node_project(tmp_path / "project")
    counter = step(root, "counter.step.ts")
    async with spawn(root) as core:
        await core.load(counter)
        outputs = await asyncio.gather(*(core.output(counter, input={}) for _ in range(25)))
        assert outputs == [{"evaluations": 1, "version": 1}] * 25

        in_flight = core.invoke_start(counter, input={"sleep": 500})
        await core.wait_logged("sleeping", version=1)  # it runs the old version
        source = Path(counter).read_text().replace("version: 1", "version: 2")
        Path(counter).write_text(source)
        (reloaded,) = await core.load(counter)
        assert reloaded["config"]["version"] == 2
        # Evaluated afresh; the helper module it imports is shared, not re-run.
        assert await core.output(counter, input={}) == {"evaluations": 2, "version": 2}
        old = await asyncio.wait_for(in_flight, 10)
        assert old["result"]["output"] == {"evaluations": 1, "version": 1}  # the old code

        Path(counter).write_text("export const config = { type: 'event'\n")
        (failed,) = await core.load(counter)
        assert failed["error"]["code"] == -32003
        assert (await core.invoke(counter, input={}))["error"]["code"] == -32002
        Path(counter).write_text(source.replace("version: 2", "version: 3"))
        (fixed,) = await core.load(counter)
        assert fixed["config"]["version"] == 3
        assert await core.output(counter, input={}) == {"evaluations": 3, "version": 3}

        cjs = step(root, "cjs_step.js")
        await core.load(cjs)
        Path(cjs).write_text(Path(cjs).read_text().replace("input.n", "input.n + 100"))
        await core.load(cjs)
        assert (await core.output(cjs, input={"n": 1}))["tripled"] == 303


# --- invocation --------------------------------------------------------------------------------


async def test_api_event_and_cron_triggers_use_motia_call_conventions(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "basic-api.step.ts"), step(project, "event.step.ts"),
                        step(project, "cron.step.ts"))
        api = await core.output(step(project, "basic-api.step.ts"), "api",
                                {"body": {"a": 1}, "pathParams": {"id": "42"}, "headers": {}},
                                flows=["node"])
        event = await core.output(step(project, "event.step.ts"), "event", {"n": 3})
        cron = await core.output(step(project, "cron.step.ts"), "cron")
    assert api == {"status": 200, "body": {"id": "42", "echo": {"a": 1}, "traceId": "trace-1",
                                           "flows": ["node"]}}
    assert event == {"handled": 3}
    assert core.emitted[0]["topic"] == "thing.seen"
    assert core.emitted[0]["data"] == {"seen": 3}
    assert core.emitted[0]["messageGroupId"] == "g1"
    assert core.emitted[0]["invocationId"].startswith("inv-")
    assert cron == {"ticked": True}
    assert core.state["cron"]["last"] == {"trace": "trace-1"}


async def test_state_calls_carry_the_invocation_and_return_plain_values(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "state.step.ts"))
        out = await core.output(step(project, "state.step.ts"), input={"group": "g"},
                                inv_id="state-inv")
    value = {"nested": {"n": 1.5, "list": [1, "two", None]}}
    assert out == {"missing": None, "stored": value, "got": value,
                   "groupValues": [value, "numeric key"], "deleted": value,
                   "afterDelete": None, "afterClear": []}
    assert {m for m, _ in core.calls} == {"state.get", "state.set", "state.getGroup",
                                          "state.delete", "state.clear"}
    assert all(p["invocationId"] == "state-inv" for _, p in core.calls)
    assert ("state.set", {"group": "g", "key": "7", "value": "numeric key",
                          "invocationId": "state-inv"}) in core.calls


async def test_core_error_on_a_callback_rejects_with_the_matching_error(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "background.step.ts"))
        out = await core.output(step(project, "background.step.ts"), input={"n": 20})
        assert out == {"scheduled": 20}
        # Every unawaited call was served while the invocation was live (nothing stale).
        assert core.stale_callbacks == []
        assert core.state["bg"] == {f"k{i}": i for i in range(20)}
        assert core.streams[("my-stream", "grp")]["item"] == {"done": True, "id": "item"}
        failures = [log for log in core.logs if log["level"] == "error"]
        assert len(failures) == 1
        assert failures[0]["msg"] == "a ctx call that was not awaited failed"
        assert "InvalidParams: refused by the fake core" in failures[0]["fields"]["error"]


async def test_only_a_failed_call_nobody_looked_at_is_reported(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "late-catch.step.ts"))
        out = await core.output(step(project, "late-catch.step.ts"), input={})
        # Caught at once and caught a task later: the handler saw both failures, and a
        # rejection handled late is neither a stray error nor a warning on stderr.
        assert out == {"atOnce": "InvalidParams", "later": "InvalidParams"}
        failures = [log for log in core.logs if log["level"] == "error"]
        assert [log["msg"] for log in failures] == ["a ctx call that was not awaited failed"]
    assert "PromiseRejectionHandledWarning" not in "".join(core.stderr)


async def test_deadlines_of_any_length_and_order_fire_on_time(project: Path) -> None:
    """The runner keeps every deadline on one timer: a shorter deadline added after a longer
    one, and one behind a deadline that was cancelled, still fire when they are due."""
    slow = step(project, "slow.step.ts")
    loop = asyncio.get_running_loop()
    async with spawn(project) as core:
        await core.load(slow)
        began = loop.time()
        done: dict[str, float] = {}

        async def timed(tag: str, seconds: float, timeout_ms: int) -> dict[str, Any]:
            response = await core.invoke(slow, input={"seconds": seconds, "tag": tag},
                                         timeoutMs=timeout_ms)
            done[tag] = loop.time() - began
            return response

        # In this order: a shorter length after a longer one; "short" queued behind "quick",
        # which ends at once (the timer was set for quick's deadline, then short's is due).
        long, quick, short, behind = await asyncio.gather(
            timed("long", 30, 1500), timed("quick", 0.01, 300), timed("short", 30, 300),
            timed("behind", 30, 1000))
    assert quick["result"]["output"] == {"slept": 0.01}
    for response, limit in ((long, 1500), (short, 300), (behind, 1000)):
        assert response["error"]["code"] == -32004
        assert f"timeoutMs={limit}" in response["error"]["message"]
    assert 0.3 <= done["short"] < done["behind"] < done["long"]
    assert done["behind"] >= 1.0 and done["long"] >= 1.5


async def test_answers_larger_than_the_pipe_arrive_whole_and_in_order(project: Path) -> None:
    """The runner writes to the pipe itself and leaves to the stream what the pipe does not take
    at once: a partial write can end inside a multi-byte character."""
    returns = step(project, "returns.step.ts")
    async with spawn(project) as core:
        await core.load(returns)
        sizes = [("huge", 1_000_000), ("wide", 150_001), ("huge", 10), ("wide", 70_000)]
        outputs = await asyncio.gather(*(
            core.output(returns, input={"kind": kind, "size": size}) for kind, size in sizes))
    for (kind, size), out in zip(sizes, outputs, strict=True):
        assert out == {"data": ("x" if kind == "huge" else "é€😀") * size}


async def test_logger_merges_fields_and_expands_errors(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "logger.step.ts"))
        response = await core.invoke(step(project, "logger.step.ts"), input={},
                                     inv_id="log-inv")
        assert response["result"] == {"output": None}
    by_msg = {log["msg"]: log for log in core.logs}
    assert by_msg["dict fields"] == {"invocationId": "log-inv", "level": "info",
                                     "msg": "dict fields",
                                     "fields": {"orderId": 7, "nested": {"a": 1}}}
    warned = by_msg["with an error"]
    assert warned["level"] == "warn" and warned["fields"]["orderId"] == 8
    error = warned["fields"]["error"]
    assert error["name"] == "OrderError" and error["message"] == "card declined"
    assert "logger.step.ts:9:" in error["stack"]  # the TypeScript line, via the source map
    assert "runners/node" not in error["stack"]
    assert by_msg["scalar fields"]["level"] == "error"
    assert by_msg["scalar fields"]["fields"] == {"data": 42}
    assert by_msg["no fields"]["level"] == "debug" and by_msg["no fields"]["fields"] == {}
    assert by_msg["from a child"]["fields"] == {"requestId": "r1", "extra": True}


async def test_console_and_stdout_never_reach_the_protocol_channel(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "console.step.ts"))
        out = await core.output(step(project, "console.step.ts"), input={}, inv_id="con-inv")
        assert out == {"printed": True}
        await core.request("steps.load", {"files": []})  # a round trip after the output
        core.notify("exit")
        await core.wait_exit()
    logs = {(log["level"], log["msg"]) for log in core.logs if log["invocationId"] == "con-inv"}
    assert logs == {("info", "hello from console.log { n: 1 }"),
                    ("info", "hello from console.info"), ("warn", "hello from console.warn"),
                    ("error", "hello from console.error"), ("debug", "hello from console.debug")}
    stderr = "".join(core.stderr)
    for text in ("console.log at import time", "hello from process.stdout.write",
                 "hello from a child process"):
        assert text in stderr
    # spawn() asserts core.violations == []: no stray line reached the protocol channel.


async def test_handler_error_has_name_message_and_user_only_stack(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "error.step.ts"), step(project, "event.step.ts"))
        thrown = await core.invoke(step(project, "error.step.ts"), input={"v": 3})
        string = await core.invoke(step(project, "error.step.ts"), input={"kind": "string"})
        sync = await core.invoke(step(project, "error.step.ts"), input={"kind": "sync"})
        still_fine = await core.output(step(project, "event.step.ts"), input={"n": 2})
    error = thrown["error"]
    assert error["code"] == -32001
    assert error["message"] == "PaymentError: bad value 3"
    assert error["data"]["name"] == "PaymentError"
    assert error["data"]["message"] == "bad value 3"
    stack = error["data"]["stack"]
    assert re.search(r"at helper \(.*error\.step\.ts:8:\d+\)", stack), stack
    assert "runners/node" not in stack and "node:internal" not in stack
    assert string["error"]["data"] == {"name": "Error", "message": "a thrown string",
                                       "stack": "Error: a thrown string"}
    assert sync["error"]["data"]["name"] == "TypeError"
    assert still_fine == {"handled": 2}


async def test_stray_rejections_and_timer_throws_fail_their_invocation_only(
        project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "stray.step.ts"), step(project, "event.step.ts"))
        rejected, thrown, after, fine = await asyncio.gather(
            core.invoke(step(project, "stray.step.ts"), input={"mode": "reject"}),
            core.invoke(step(project, "stray.step.ts"), input={"mode": "throw"}),
            core.invoke(step(project, "stray.step.ts"), input={"mode": "after"},
                        inv_id="after-inv"),
            core.invoke(step(project, "event.step.ts"), input={"n": 5}))
        assert rejected["error"]["code"] == -32001
        assert rejected["error"]["message"] == (
            "unhandled rejection in the handler: Error: nobody awaited me")
        assert thrown["error"]["code"] == -32001
        assert thrown["error"]["data"]["name"] == "TypeError"
        assert "stray.step.ts" in thrown["error"]["data"]["stack"]
        assert after["result"]["output"] == {"mode": "after"}
        assert fine["result"]["output"] == {"handled": 5}
        # The late rejection is logged against its (finished) invocation; the runner lives on.
        late = await core.wait_log("after-inv")
        assert late["level"] == "error"
        assert late["msg"] == "unhandled rejection after the invocation ended"
        assert "rejected after the answer" in late["fields"]["error"]
        assert await core.output(step(project, "event.step.ts"), input={"n": 6}) == {
            "handled": 6}


async def test_streams_by_name_with_every_stream_the_core_sent(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "streams.step.ts"))
        out = await core.output(step(project, "streams.step.ts"), input={})
        # steps.load's `streams` replaces the list sent in initialize.
        await core.request("steps.load", {"files": [], "streams": ["todo", "my-stream", "late"]})
        later = await core.output(step(project, "streams.step.ts"), input={})
    assert out["item"] == {"n": 1, "id": "a"}
    assert out["again"] == {"n": 1, "id": "a"}
    assert out["group"] == []
    assert out["removed"] == {"n": 1, "id": "a"}
    assert out["names"] == ["my-stream", "todo"]
    assert later["names"] == ["todo", "my-stream", "late"]
    assert core.sent[0]["stream"] == "todo"
    assert core.sent[0]["channel"] == {"groupId": "g1"}
    assert core.sent[0]["event"] == {"type": "ping", "data": {"x": 1}}
    set_call = next(p for m, p in core.calls if m == "streams.set")
    assert set_call["stream"] == "my-stream" and set_call["group"] == "g1"


async def test_five_hundred_concurrent_invocations_with_callbacks(project: Path) -> None:
    n = 500
    async with spawn(project) as core:
        await core.load(step(project, "roundtrip.step.ts"))
        # The fake core answers no state.set until it has seen all 500: only a runner that
        # really runs invocations concurrently gets past this.
        core.hold = ("state.set", "rt", n)
        outs = await asyncio.gather(*(core.output(step(project, "roundtrip.step.ts"),
                                                  input={"i": i}) for i in range(n)))
    assert outs == [{"i": i, "got": {"i": i}} for i in range(n)]
    assert sorted(e["data"]["i"] for e in core.emitted) == list(range(n))
    assert core.stale_callbacks == []


async def test_cancel_request_cancels_that_invocation_only(project: Path) -> None:
    async with spawn(project) as core:
        await core.load(step(project, "slow.step.ts"), step(project, "event.step.ts"))
        slow = core.invoke_start(step(project, "slow.step.ts"), input={"seconds": 1, "tag": "c1"},
                                 inv_id="c1-inv")
        other = core.invoke_start(step(project, "slow.step.ts"),
                                  input={"seconds": 0.3, "tag": "c2"})
        await core.wait_logged("sleeping", tag="c1")
        core.notify("$/cancelRequest", {"id": 999999})  # not pending: a no-op
        core.notify("$/cancelRequest", {"id": next(k for k, v in core._pending.items()
                                                   if v is slow)})
        cancelled = await asyncio.wait_for(slow, 10)
        assert cancelled["error"]["code"] == -32800
        assert (await asyncio.wait_for(other, 10))["result"]["output"] == {"slept": 0.3}
        assert await core.output(step(project, "event.step.ts"), input={"n": 1}) == {"handled": 1}
        # The cancelled handler wakes up later; its ctx call fails in the runner and never
        # reaches the core as a stale callback.
        failed = await core.wait_logged("slow step c1 could not finish")
        assert failed["msg"] == "slow step c1 could not finish"
        assert failed["fields"] == {"error": "InvocationNotFound"}
    assert core.state["slow"] == {"finished": "c2"}
    assert core.stale_callbacks == []


async def test_return_values_falsy_buffers_and_unserialisable(project: Path) -> None:
    returns = step(project, "returns.step.ts")
    async with spawn(project) as core:
        await core.load(returns)
        for kind in ("empty", "zero", "undefined", "null"):
            assert await core.output(returns, input={"kind": kind}) is None, kind
        assert await core.output(returns, input={"kind": "object"}) == {"status": 200,
                                                                        "body": {"a": 1}}
        buffer = await core.output(returns, input={"kind": "buffer"})
        assert buffer == {"status": 200, "body": {"type": "Buffer", "data": [104, 105]}}
        for kind in ("bigint", "circular"):
            bad = await core.invoke(returns, input={"kind": kind})
            assert bad["error"]["code"] == -32001
            assert "cannot be sent as JSON" in bad["error"]["message"]


# --- zod ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("zod", ["v3", "v4"])
async def test_zod_schemas_become_json_schema_and_bodies_are_validated_by_zod(
        zod: str, tmp_path: Path) -> None:
    root = node_project(tmp_path / "project", zod=zod)
    zod_step = step(root, "zod.step.ts")
    async with spawn(root) as core:
        api, event, stream = await core.load(zod_step, step(root, "zod-event.step.ts"),
                                             step(root, "todo.stream.ts"))
        invalid = await core.output(zod_step, "api", {"body": {"name": "", "address": {},
                                                               "extra": 1}})
        sent = {"name": "ada", "address": {"city": "Paris", "zip": "75001"}, "extra": True}
        valid = await core.output(zod_step, "api", {"body": sent})
        not_object = await core.output(zod_step, "api", {"body": [1, 2]})

    assert api["validatesBody"] is True
    body = api["config"]["bodySchema"]
    assert body["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert body["type"] == "object" and body["required"] == ["name", "address"]
    assert body["properties"]["name"] == {"type": "string", "minLength": 1}
    assert body["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert api["config"]["responseSchema"]["200"]["properties"] == {"received": {}}
    assert api["config"]["responseSchema"]["400"] == {"type": "object"}
    note = event["config"]["input"]["properties"]["note"]
    assert note == {"type": "string", "description": "free text"}
    assert event["config"]["input"]["properties"]["id"]["type"] == "integer"
    assert "validatesBody" not in event
    assert stream["config"]["schema"]["required"] == ["title", "done"]

    assert invalid["status"] == 400
    assert invalid["body"]["error"] == "Request body validation failed"
    errors = {e["path"]: e for e in invalid["body"]["errors"]}
    assert set(errors) == {"/name", "/address/city"}
    assert errors["/name"]["code"] == "too_small"
    assert errors["/address/city"]["code"] == "invalid_type"
    assert all(isinstance(e["message"], str) and e["message"] for e in errors.values())
    # zod strips unknown keys rather than rejecting them, and the handler sees the body as sent.
    assert valid == {"status": 200, "body": {"received": sent}}
    assert not_object["status"] == 400
    assert not_object["body"]["errors"][0]["path"] == ""


async def test_stream_can_access_runs_the_stream_files_function(project: Path) -> None:
    stream = step(project, "todo.stream.ts")

    async def verdict(subscription: dict[str, Any], auth: Any = None) -> dict[str, Any]:
        params: dict[str, Any] = {"file": stream, "stream": "todo", "subscription": subscription}
        if auth is not None:
            params["authContext"] = auth
        return await core.request("streams.canAccess", params)  # type: ignore[no-any-return]

    async with spawn(project) as core:
        missing = await verdict({"groupId": "inbox"}, {"user": "ann"})
        assert missing["error"]["code"] == -32002
        await core.load(stream)
        assert (await verdict({"groupId": "inbox", "id": "t-1"}, {"user": "ann"}))["result"] is True
        assert (await verdict({"groupId": "inbox"}, {"user": "bob"}))["result"] is False
        assert (await verdict({"groupId": "secret"}, {"user": "ann"}))["result"] is False
        assert (await verdict({"groupId": "inbox"}))["result"] is False
        failed = (await verdict({"groupId": "inbox"}, {"explode": True}))["error"]
        assert failed["code"] == -32001 and failed["data"]["name"] == "RangeError"
        bad = await core.request("streams.canAccess", {"file": stream, "stream": "todo",
                                                       "subscription": {"id": 3}})
        assert bad["error"]["code"] == -32602


async def test_a_node_runner_without_its_dependencies_fails_at_once_saying_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The runner exits 78 naming the fix; the app says that, once, instead of retrying 5 times
    and reporting only the exit code."""
    require_runtime("node")
    bare = tmp_path / "node-runner"
    shutil.copytree(NODE_RUNNER, bare, ignore=shutil.ignore_patterns("node_modules"))
    registry = RunnerRegistry(builtin_specs())
    registry.register(replace(registry.get("node"), command=("node", str(bare / "runner.mjs"))))
    caplog.set_level(logging.INFO, logger="motia.runner")
    with pytest.raises(StartupFailed) as failed:
        async with MotiaTestApp(NODE_FIXTURE.parent / "node-default", registry=registry):
            pass
    message = str(failed.value)
    assert message.startswith("the node runner cannot start: runner node#0 (pid ")
    assert "exited with code 78 (a configuration error, not retried)" in message
    assert "its dependencies are not installed" in message
    assert f"npm ci --prefix {bare}/" in message
    spawned = [r for r in caplog.records if getattr(r, "action", None) == "spawned"]
    assert len(spawned) == 1
