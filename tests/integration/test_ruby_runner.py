"""The Ruby runner (runners/ruby/runner.rb): what only it does (Ruby's call conventions, symbol
keys, isolation of step files, cancellation as an Exception), spawned for real and driven over
stdio by the fake core of tests/stdio_core.py. What every runner does is in test_runners.py.
The last test runs a Ruby step and a Python step in one flow through the real app.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_runtime
from tests.runners import PROJECTS
from tests.runners import RUBY_PROJECT as PROJECT
from tests.runners import spawn_ruby as spawn

MIXED = PROJECTS / "rubymixed"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def ruby() -> str:
    return require_runtime("ruby")


def step(name: str, root: Path = PROJECT) -> str:
    return str(root / "steps" / name)


# Invocations run as fibers on one thread (the default) or, with MOTIA_RUBY_CONCURRENCY=threads,
# a thread each: the tests of concurrency, cancellation and timeouts run in both modes.
MODES = pytest.mark.parametrize("mode", ["fibers", "threads"])


def mode_env(mode: str) -> dict[str, str]:
    return {"MOTIA_RUBY_CONCURRENCY": mode}


# --- handshake and lifecycle -----------------------------------------------------------------


async def test_a_protocol_version_must_be_an_integer_and_a_refusal_can_be_retried() -> None:
    async with spawn(init=False) as core:
        refused = await core.initialize(protocolVersion=2)
        not_a_number = await core.initialize(protocolVersion="1")
        ok = await core.initialize()
    assert refused["error"]["code"] == -32006
    assert not_a_number["error"]["code"] == -32602
    assert "protocolVersion" in not_a_number["error"]["message"]
    assert ok["result"]["protocolVersion"] == 1


async def test_bad_lines_and_unknown_notifications_do_not_stop_it() -> None:
    async with spawn() as core:
        core.notify("nope/notification", {})  # no answer to notifications

        parse_error = core.expect(None)
        core.write_raw(b"{not json")
        assert (await asyncio.wait_for(parse_error, 10))["error"]["code"] == -32700

        not_jsonrpc = core.expect(77)
        core.write({"jsonrpc": "1.0", "id": 77, "method": "initialize"})
        assert (await asyncio.wait_for(not_jsonrpc, 10))["error"]["code"] == -32600

        await core.load(step("event_step.rb"))
        assert await core.output(step("event_step.rb"), input={"n": 1}) == {"handled": 1}


# --- loading ---------------------------------------------------------------------------------


async def test_load_reports_per_file_errors_and_loads_the_rest() -> None:
    files = ["basic_api.step.rb", "broken.step.rb", "load_error.step.rb", "bad_config.step.rb",
             "no_config.step.rb", "config_raises.step.rb", "noop.step.rb", "todo.stream.rb",
             "middleware.step.rb"]
    async with spawn() as core:
        loaded = {Path(f["file"]).name: f for f in await core.load(*map(step, files))}
        assert list(loaded) == files  # one entry per file, in order
        assert all("error" not in loaded[f] for f in ("basic_api.step.rb", "noop.step.rb",
                                                      "todo.stream.rb", "middleware.step.rb"))

        broken = loaded["broken.step.rb"]["error"]
        assert broken["code"] == -32003
        assert "broken.step.rb" in broken["message"] and "SyntaxError" in broken["message"]
        assert "broken.step.rb:3" in broken["data"]["stack"]

        missing_gem = loaded["load_error.step.rb"]["error"]
        assert "definitely_not_installed_gem" in missing_gem["message"]
        assert "install" in missing_gem["message"]
        assert "load_error.step.rb:1:in `<top (required)>'" in missing_gem["data"]["stack"]
        assert "runners/ruby" not in missing_gem["data"]["stack"]

        bad = loaded["bad_config.step.rb"]["error"]
        assert "not JSON-serialisable" in bad["message"]
        assert "config[:input][:weird]" in bad["message"] and "Object" in bad["message"]
        assert "def config" in loaded["no_config.step.rb"]["error"]["message"]
        raises = loaded["config_raises.step.rb"]["error"]
        assert "config is not ready" in raises["message"]
        assert "config_raises.step.rb:2" in raises["data"]["stack"]

        api = loaded["basic_api.step.rb"]
        assert api["hasHandler"] is True
        # An Integer key of the Ruby config arrives as JSON has it: a string.
        assert api["config"]["responseSchema"] == {"200": {"type": "object"}}
        assert loaded["noop.step.rb"] == {"file": step("noop.step.rb"), "hasHandler": False,
                                          "config": {"type": "noop", "name": "Placeholder",
                                                     "virtualEmits": ["x"],
                                                     "virtualSubscribes": []}}
        stream = loaded["todo.stream.rb"]
        assert stream["hasHandler"] is False
        assert "canAccess" not in stream["config"]
        assert stream["config"]["__motia_hasCanAccess"] is True
        assert stream["config"]["baseConfig"] == {"storageType": "default"}
        assert "middleware" not in loaded["middleware.step.rb"]["config"]

        # A failed file is not invocable; a good one still is.
        assert (await core.invoke(step("broken.step.rb")))["error"]["code"] == -32002
        out = await core.output(step("basic_api.step.rb"), "api",
                                {"body": {}, "pathParams": {"id": "1"}})
        assert out["status"] == 200


async def test_two_files_defining_the_same_methods_constants_and_classes_do_not_clash() -> None:
    async with spawn() as core:
        await core.load(step("same_a.step.rb"), step("same_b.step.rb"))
        a = await core.output(step("same_a.step.rb"), input={})
        b = await core.output(step("same_b.step.rb"), input={})
        stderr = "".join(core.stderr)
    assert a == {"from": "a/thing-a"}
    assert b == {"from": "b/thing-b"}
    assert "already initialized constant" not in stderr


async def test_require_relative_and_dir_work_in_subdirectories() -> None:
    async with spawn() as core:
        await core.load(step("nested/relative_step.rb"))
        out = await core.output(step("nested/relative_step.rb"), input={})
    assert out == {"shout": "HI", "dir": "nested", "file": "relative_step.rb"}


async def test_each_file_is_evaluated_once_and_reload_swaps_atomically(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    counter = step("counter.step.rb", root)
    async with spawn(root=root) as core:
        await core.load(counter)
        outputs = await asyncio.gather(*(core.output(counter, input={}) for _ in range(25)))
        assert outputs == [{"loads": 1, "version": 1}] * 25

        in_flight = core.invoke_start(counter, input={"sleep": 0.5})
        source = Path(counter).read_text().replace("version: 1", "version: 2")
        Path(counter).write_text(source)
        (reloaded,) = await core.load(counter)
        assert reloaded["config"]["version"] == 2
        assert await core.output(counter, input={}) == {"loads": 2, "version": 2}
        old = await asyncio.wait_for(in_flight, 10)
        assert old["result"]["output"] == {"loads": 2, "version": 1}  # old code, shared global

        Path(counter).write_text("def config\n  { type: 'event'\n")
        (failed,) = await core.load(counter)
        assert failed["error"]["code"] == -32003
        assert (await core.invoke(counter, input={}))["error"]["code"] == -32002


# --- invocation ------------------------------------------------------------------------------


async def test_api_event_and_cron_triggers_use_motia_call_conventions() -> None:
    async with spawn() as core:
        await core.load(step("basic_api.step.rb"), step("event_step.rb"), step("cron.step.rb"),
                        step("short_api.step.rb"), step("cron_two_args.step.rb"))
        api = await core.output(step("basic_api.step.rb"), "api",
                                {"body": {"a": 1}, "pathParams": {"id": "42"}, "headers": {}},
                                flows=["rubyrunner"])
        event = await core.output(step("event_step.rb"), "event", {"n": 3})
        cron = await core.output(step("cron.step.rb"), "cron")
        short = await core.output(step("short_api.step.rb"), "api", {"queryParams": {"q": "x"}})
        two_args = await core.output(step("cron_two_args.step.rb"), "cron")
    assert api == {"status": 200, "body": {
        "id": "42", "idBySymbol": "42", "idByString": "42", "echo": {"a": 1},
        "traceId": "trace-1", "sameTrace": True, "flows": ["rubyrunner"],
        "inputClass": "MotiaRunner::JsonObject", "kind": "symbol_value"}}
    assert event == {"handled": 3}
    assert [e["topic"] for e in core.emitted] == ["thing.seen", "thing.seen"]
    assert core.emitted[0]["data"] == {"seen": 3}
    assert core.emitted[0]["messageGroupId"] == "g1"
    assert "messageGroupId" not in core.emitted[1] and core.emitted[1]["data"] == {"seen": 4}
    assert core.emitted[0]["invocationId"].startswith("inv-")
    assert cron == {"ticked": True}
    assert core.state["cron"]["last"] == {"trace": "trace-1"}
    assert short == {"status": 200, "body": {"query": {"q": "x"}}}
    assert two_args == {"input": None, "trace": "trace-1"}


async def test_state_calls_carry_the_invocation_and_return_plain_values() -> None:
    async with spawn() as core:
        await core.load(step("state.step.rb"))
        response = await core.invoke(step("state.step.rb"), input={"group": "g"}, inv_id="st-1")
    out = response["result"]["output"]
    stored = {"a": 1, "tags": ["x", "y"], "nested": {"n": None}}
    assert out["missing"] is None
    assert out["stored"] == stored
    assert out["plain"] == stored
    assert out["plainBySymbol"] == ["x", "y"]
    assert out["list"] == [1, 2]
    assert out["group"] == [stored, 7, [1, 2]]
    assert out["groupAlias"] == out["group"]
    assert out["deleted"] == 7 and out["deletedAgain"] is None
    assert out["afterClear"] == []
    assert {m for m, _ in core.calls} == {"state.get", "state.set", "state.getGroup",
                                          "state.delete", "state.clear"}
    assert all(p["invocationId"] == "st-1" for _, p in core.calls)
    assert ("state.set", {"invocationId": "st-1", "group": "g", "key": "plain",
                          "value": stored}) in core.calls


async def test_core_error_on_a_callback_raises_an_rpc_error_in_the_handler() -> None:
    async with spawn() as core:
        await core.load(step("refused.step.rb"))
        out = await core.output(step("refused.step.rb"), input={})
    assert out == {"type": "MotiaRunner::InvalidParams", "code": -32602,
                   "message": "refused by the fake core", "data": {"key": "fails"},
                   "isStandardError": True}


async def test_logger_sends_log_notifications_with_flat_fields() -> None:
    async with spawn() as core:
        await core.load(step("logger.step.rb"))
        response = await core.invoke(step("logger.step.rb"), input={}, inv_id="log-inv")
        assert response["result"] == {"output": None}
    by_msg = {log["msg"]: log for log in core.logs}
    assert by_msg["hash fields"] == {"invocationId": "log-inv", "level": "info",
                                     "msg": "hash fields",
                                     "fields": {"orderId": 7, "nested": {"a": 1}}}
    assert by_msg["keyword fields"]["level"] == "warn"
    assert by_msg["keyword fields"]["fields"] == {"order_id": 8}
    assert by_msg["scalar fields"] == {"invocationId": "log-inv", "level": "error",
                                       "msg": "scalar fields", "fields": {"data": 42}}
    assert by_msg["no fields"]["level"] == "debug" and by_msg["no fields"]["fields"] == {}
    assert by_msg["struct fields"]["fields"] == {"x": 1, "y": "two"}
    error = by_msg["exception fields"]["fields"]["error"]
    assert error["name"] == "RuntimeError" and error["message"] == "bad thing"
    assert by_msg["symbol_message"]["fields"] == {}
    assert "Object" in by_msg["unserialisable fields"]["fields"]["data"]


async def test_user_output_goes_to_stderr_never_to_the_protocol() -> None:
    async with spawn() as core:
        await core.load(step("print.step.rb"))
        assert await core.output(step("print.step.rb"), input={}) == {"printed": True}
        await core.request("steps.load", {"files": []})  # a round trip after the prints
        core.notify("exit")
        assert await core.wait_exit() == 0
    stderr = "".join(core.stderr)
    for text in ("printed at load time", "hello from puts", "hello from print",
                 '"hello from p"', "hello from $stdout.write", "hello from STDOUT.write",
                 "hello from STDOUT.syswrite", "hello from fd 1", "hello from system",
                 "hello from spawn"):
        assert text in stderr
    # spawn() asserts core.violations == []: no stray line reached the protocol channel.


async def test_streams_by_method_name_and_by_key() -> None:
    async with spawn() as core:
        await core.load(step("streams.step.rb"))
        out = await core.output(step("streams.step.rb"), input={})
    assert out["item"] == {"n": 1, "id": "a"}
    assert out["again"] == {"n": 1, "id": "a"}
    assert out["bySymbol"] == [] and out["group"] == []
    assert out["removed"] == {"n": 1, "id": "a"}
    assert out["names"] == ["my-stream", "todo"]
    assert "nope" in out["unknown"] and "my-stream" in out["unknown"]
    assert [(s["stream"], s["channel"], s["event"]) for s in core.sent] == [
        ("todo", {"groupId": "g1"}, {"type": "ping", "data": {"x": 1}}),
        ("todo", {"groupId": "g2", "id": "i1"}, {"type": "pong", "data": None}),
    ]
    set_call = next(p for m, p in core.calls if m == "streams.set")
    assert set_call["stream"] == "my-stream" and set_call["group"] == "g1"
    assert set_call["data"] == {"n": 1}


async def test_streams_can_access_runs_the_stream_files_check() -> None:
    todo, open_stream = step("todo.stream.rb"), step("open.stream.rb")

    async def check(file: str, subscription: dict[str, Any], auth: Any = None) -> Any:
        params = {"file": file, "stream": "todo", "subscription": subscription}
        if auth is not None:
            params["authContext"] = auth
        return await core.request("streams.canAccess", params)

    async with spawn() as core:
        await core.load(todo, open_stream)
        ann = {"user": "ann"}
        assert (await check(todo, {"groupId": "inbox"}, ann))["result"] is True
        assert (await check(todo, {"groupId": "inbox", "id": "t-1"}, ann))["result"] is True
        assert (await check(todo, {"groupId": "inbox", "id": "hidden"}, ann))["result"] is False
        assert (await check(todo, {"groupId": "secret"}, ann))["result"] is False
        assert (await check(todo, {"groupId": "inbox"}, {"user": "bob"}))["result"] is False
        assert (await check(todo, {"groupId": "inbox"}))["result"] is False  # no auth context
        boom = (await check(todo, {"groupId": "boom"}, ann))["error"]
        assert boom["code"] == -32001 and boom["data"]["message"] == "no booms allowed"
        assert "todo.stream.rb" in boom["data"]["stack"]
        assert (await check(open_stream, {"groupId": "any"}))["result"] is True
        missing = await check(step("nope.stream.rb"), {"groupId": "g"})
        assert missing["error"]["code"] == -32002
        bad = await check(todo, {"id": "no-group"})
        assert bad["error"]["code"] == -32602 and "groupId" in bad["error"]["message"]


@MODES
async def test_two_hundred_concurrent_invocations_with_callbacks(mode: str) -> None:
    n = 200
    async with spawn(env=mode_env(mode)) as core:
        await core.load(step("roundtrip.step.rb"))
        # The fake core answers no state.set until it has seen all 200: only a runner that
        # really runs invocations concurrently gets past this.
        core.hold = ("state.set", "rt", n)
        outs = await asyncio.gather(*(core.output(step("roundtrip.step.rb"), input={"i": i})
                                      for i in range(n)))
    assert [{k: v for k, v in out.items() if k != "task"} for out in outs] == [
        {"i": i, "got": {"i": i}} for i in range(n)]
    assert len({out["task"] for out in outs}) == n  # a fiber (a thread) each
    assert sorted(e["data"]["i"] for e in core.emitted) == list(range(n))
    assert sorted(log["fields"]["i"] for log in core.logs) == list(range(n))
    assert core.stale_callbacks == []


@MODES
async def test_cancel_request_cancels_that_invocation_only(mode: str) -> None:
    async with spawn(env=mode_env(mode)) as core:
        await core.load(step("slow.step.rb"), step("waits.step.rb"), step("event_step.rb"))
        slow = core.invoke_start(step("slow.step.rb"), input={"seconds": 30, "tag": "c1"})
        other = core.invoke_start(step("slow.step.rb"), input={"seconds": 0.3, "tag": "c2"})
        waiting = core.invoke_start(step("waits.step.rb"), input={"tag": "w1"})
        await core.wait_for(lambda: len([log for log in core.logs
                                         if log["msg"] == "sleeping"]) == 2
                            and any(p.get("group") == "never" for _, p in core.calls))
        core.notify("$/cancelRequest", {"id": 999999})  # not pending: a no-op
        core.notify("$/cancelRequest", {"id": core.request_id(slow)})
        core.notify("$/cancelRequest", {"id": core.request_id(waiting)})
        cancelled = await asyncio.wait_for(slow, 10)
        assert cancelled["error"]["code"] == -32800
        assert (await asyncio.wait_for(waiting, 10))["error"]["code"] == -32800
        # The handlers saw MotiaRunner::Cancelled (and a plain `rescue` did not).
        assert core.state["slow"] == {"cancelled": {"tag": "c1", "reason": "cancel"}}
        assert core.state["waits"] == {"w1": "cancel"}
        assert (await asyncio.wait_for(other, 10))["result"]["output"] == {"slept": 0.3}
        assert await core.output(step("event_step.rb"), input={"n": 1}) == {"handled": 1}


@MODES
async def test_a_timeout_reaches_the_handler_as_cancelled_even_while_it_waits(mode: str) -> None:
    async with spawn(env=mode_env(mode)) as core:
        await core.load(step("slow.step.rb"), step("waits.step.rb"))
        response = await core.invoke(step("slow.step.rb"), input={"seconds": 30, "tag": "t"},
                                     timeoutMs=200)
        waiting = await core.invoke(step("waits.step.rb"), input={"tag": "w"}, timeoutMs=100)
    assert response["error"]["code"] == -32004
    assert core.state["slow"] == {"cancelled": {"tag": "t", "reason": "timeout"}}
    assert waiting["error"]["code"] == -32004


@MODES
async def test_handlers_that_wait_let_the_others_run(mode: str) -> None:
    kinds = ("queue", "thread", "pipe")
    waits = step("waitkinds.step.rb")
    async with spawn(env=mode_env(mode)) as core:
        await core.load(waits, step("event_step.rb"))
        waiting = {kind: core.invoke_start(waits, input={"kind": kind, "role": "wait", "tag": mode})
                   for kind in kinds}
        await core.wait_for(lambda: len([log for log in core.logs
                                         if log["msg"] == "waiting"]) == len(kinds))
        # Three handlers are waiting (on a Queue, a thread's value, a pipe); others still run.
        assert await core.output(step("event_step.rb"), input={"n": 1}) == {"handled": 1}
        for kind in ("timeout", "child"):  # Timeout.timeout, a child process's exit
            assert await core.output(waits, input={"kind": kind, "role": "wait", "tag": mode}) \
                == {"kind": kind, "got": "timed out" if kind == "timeout" else "given"}
        assert not any(future.done() for future in waiting.values())
        for kind in kinds:
            gave = await core.output(waits, input={"kind": kind, "role": "give", "tag": mode})
            assert gave == {"gave": kind}
            got = await asyncio.wait_for(waiting[kind], 10)
            assert got["result"]["output"] == {"kind": kind, "got": "given"}
        # One handler closes the pipe another one reads from: the reader fails, the runner lives
        # (Ruby may also raise "stream closed in another thread" in the closer).
        reading = core.invoke_start(waits, input={"kind": "closed", "role": "wait", "tag": mode})
        await core.wait_for(lambda: len([log for log in core.logs
                                         if log["msg"] == "waiting"]) == len(kinds) + 3)
        await core.invoke(waits, input={"kind": "closed", "role": "give", "tag": mode})
        failed = (await asyncio.wait_for(reading, 10))["error"]
        assert failed["code"] == -32001 and failed["data"]["name"] == "IOError", failed
        assert await core.output(step("event_step.rb"), input={"n": 2}) == {"handled": 2}


@MODES
async def test_ctx_calls_from_threads_the_handler_starts_and_joins(mode: str) -> None:
    threads = step("threads.step.rb")
    async with spawn(env=mode_env(mode)) as core:
        await core.load(threads)
        outs = await asyncio.gather(*(core.output(threads, input={"tag": f"t{i}"})
                                      for i in range(10)))
    assert outs == [{"got": [1, 2, 3]}] * 10
    assert core.state["threads"] == {f"t{i}-{k}": k for i in range(10) for k in (1, 2, 3)}
    assert sorted(e["data"]["tag"] for e in core.emitted) == sorted(f"t{i}" for i in range(10))
    assert len([log for log in core.logs if log["msg"] == "from a thread"]) == 30
    assert core.stale_callbacks == []


async def test_a_fiber_and_its_threads_writing_at_once_never_stall_the_loop() -> None:
    # Fibers (the default): the threads' log lines hold the Writer's Mutex while a fiber and
    # the loop wait for it. Before the loop was woken with the fiber, this stalled for good
    # (the loop asleep on a free Mutex, the fiber waiting for the loop) in some of the runs.
    contended = step("contended.step.rb")
    async with spawn() as core:
        await core.load(contended)
        for _ in range(20):
            outs = await asyncio.gather(*(core.output(contended, input={"lines": 100})
                                          for _ in range(8)))
            assert outs == [{"done": [1, 2, 3, 4]}] * 8
    assert len([log for log in core.logs if log["msg"] == "thread line"]) == 20 * 8 * 4 * 100


@MODES
async def test_a_handler_that_never_waits_is_answered_timed_out_past_its_timeout(mode: str) -> None:
    async with spawn(env=mode_env(mode)) as core:
        await core.load(step("busy.step.rb"), step("event_step.rb"))
        late = await core.invoke(step("busy.step.rb"), input={"seconds": 0.3}, timeoutMs=50)
        in_time = await core.invoke(step("busy.step.rb"), input={"seconds": 0.01}, timeoutMs=30000)
        assert await core.output(step("event_step.rb"), input={"n": 3}) == {"handled": 3}
    assert late["error"]["code"] == -32004
    assert in_time["result"]["output"] == {"spins": True}


async def test_an_unknown_concurrency_mode_is_refused_by_name() -> None:
    async with spawn(init=False, env=mode_env("greenlets")) as core:
        code = await core.wait_exit(20)
    assert code != 0
    assert "MOTIA_RUBY_CONCURRENCY" in "".join(core.stderr) and "greenlets" in "".join(core.stderr)


async def test_handler_error_has_name_message_and_user_only_backtrace() -> None:
    async with spawn() as core:
        await core.load(step("error.step.rb"), step("event_step.rb"))
        response = await core.invoke(step("error.step.rb"), input={"v": 3})
        wrapped = await core.invoke(step("error.step.rb"), input={"v": 4, "wrap": True})
        still_fine = await core.output(step("event_step.rb"), input={"n": 2})
    error = response["error"]
    assert error["code"] == -32001
    assert error["message"] == "BadValueError: bad value 3"
    assert error["data"]["name"] == "BadValueError"
    assert error["data"]["message"] == "bad value 3"
    stack = error["data"]["stack"]
    assert "error.step.rb:8:in `helper'" in stack and "error.step.rb:12:in `handler'" in stack
    assert "runners/ruby" not in stack
    cause = wrapped["error"]["data"]
    assert cause["name"] == "ArgumentError" and cause["message"] == "wrapped: bad value 4"
    assert "Caused by:" in cause["stack"] and "BadValueError" in cause["stack"]
    assert still_fine == {"handled": 2}


async def test_return_values_falsy_objects_and_unserialisable() -> None:
    async with spawn() as core:
        await core.load(step("returns.step.rb"))
        assert await core.output(step("returns.step.rb"), input={"kind": "nil"}) is None
        assert await core.output(step("returns.step.rb"), input={"kind": "false"}) is None
        assert await core.output(step("returns.step.rb"), input={"kind": "empty"}) == {}
        obj = await core.output(step("returns.step.rb"), input={"kind": "object"})
        assert obj == {"status": 200, "body": {"a": 1, "sym": "value",
                                               "list": [1.5, None, True]}}
        bad = await core.invoke(step("returns.step.rb"), input={"kind": "unserialisable"})
        assert bad["error"]["code"] == -32001
        assert "return value[:body][:when]" in bad["error"]["message"]
        nan = await core.invoke(step("returns.step.rb"), input={"kind": "nan"})
        assert nan["error"]["code"] == -32001 and "NaN" in nan["error"]["message"]
        exited = await core.invoke(step("returns.step.rb"), input={"kind": "exit"})
        assert exited["error"]["code"] == -32001
        assert exited["error"]["data"]["name"] == "SystemExit"
        # The runner survived the handler's `exit`.
        assert await core.output(step("returns.step.rb"), input={"kind": "ok"}) == {"kind": "ok"}


# --- through the real app ----------------------------------------------------------------------


async def test_a_ruby_api_step_and_python_event_steps_share_one_trace_and_state() -> None:
    from motia_core.testing import MotiaTestApp

    async with MotiaTestApp(MIXED) as app:
        assert not app.app.project.errors  # type: ignore[union-attr]
        response = await app.post("/orders", json={"item": "book", "quantity": 2})
        assert response.status == 201, response.text
        await app.settle()
        trace_id = response.trace_id
        assert trace_id and response.json == {"id": "o-book", "traceId": trace_id}

        order = {"id": "o-book", "item": "book", "quantity": 2, "tags": ["new", "ruby"],
                 "price": 9.5, "gift": False, "note": None, "meta": {"source": "ruby"}}
        assert await app.state.get("orders", "o-book") == order
        assert await app.state.get("audits", "o-book") == order  # read and re-written by Python
        assert await app.state.get("confirmations", "o-book") == {
            "same": True, "traceId": trace_id, "auditedBy": "python"}

        assert [(e.topic, e.trace_id) for e in app.events] == [
            ("order.created", trace_id), ("order.audited", trace_id)]
        found = await app.app.traces.get_trace(trace_id)
        assert found is not None
        spans = {s.name: s for s in found[1]}
        assert set(spans) == {"CreateOrder", "AuditOrder", "ConfirmOrder"}
        assert spans["AuditOrder"].parent_id == spans["CreateOrder"].id
        assert spans["ConfirmOrder"].parent_id == spans["AuditOrder"].id
