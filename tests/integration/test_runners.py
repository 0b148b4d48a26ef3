"""What every language runner must do, run once per runner (Python, Node, Ruby), each spawned for
real and driven over stdio by the fake core of tests/stdio_core.py.

The handshake, refusals of bad requests, the lifecycle (EOF, graceful shutdown), middleware,
deadlines, the message size limit and the error table are the same protocol in every language;
``tests/runners.py`` says which fixture file plays each part. What only one language has (its
call conventions, state quirks, loading, user output) is in test_<language>_runner.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from motia_core.protocol import errors as core_errors
from tests.conftest import require_runtime
from tests.runners import LANGS, Lang, node_project, require_node_runner

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(scope="module", params=list(LANGS))
def lang(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lang:
    lang = LANGS[request.param]
    if lang.name == "node":
        require_node_runner()
        return lang.with_root(node_project(tmp_path_factory.mktemp("node") / "project"))
    if lang.name == "ruby":
        require_runtime("ruby")
    return lang


# --- handshake and lifecycle -----------------------------------------------------------------


async def test_handshake_answers_runner_info_and_capabilities(lang: Lang) -> None:
    async with lang.spawn(init=False) as core:
        response = await core.initialize()
    assert response["result"] == {
        "protocolVersion": 1,
        "runner": dict(lang.runner_info),
        "capabilities": {"cancellation": True, "middleware": True, "reload": True,
                         "filePatterns": list(lang.file_patterns)},
    }


async def test_wrong_protocol_version_is_refused_with_supported_list(lang: Lang) -> None:
    async with lang.spawn(init=False) as core:
        response = await core.initialize(protocolVersion=2)
    assert response["error"]["code"] == -32006
    assert response["error"]["data"] == {"supported": [1]}
    assert "2" in response["error"]["message"]


async def test_unknown_method_and_bad_params_are_answered_and_the_runner_goes_on(
        lang: Lang) -> None:
    async with lang.spawn() as core:
        unknown = await core.request("nope.nothing", {})
        assert unknown["error"]["code"] == -32601
        assert "nope.nothing" in unknown["error"]["message"]

        bad_load = await core.request("steps.load", {"files": lang.files["bad-load-path"]})
        assert bad_load["error"]["code"] == -32602
        assert "files" in bad_load["error"]["message"]

        bad_invoke = await core.request("step.invoke", {"file": lang.step("event"),
                                                        "trigger": "event"})
        assert bad_invoke["error"]["code"] == -32602
        assert "invocationId" in bad_invoke["error"]["message"]

        bad_trigger = await core.request("step.invoke", {
            "invocationId": "x", "file": lang.step("event"), "trigger": "http",
            "trace": {"traceId": "t", "spanId": "s"}})
        assert "trigger" in bad_trigger["error"]["message"]

        missing = await core.invoke(lang.step("never-loaded"))
        assert missing["error"]["code"] == -32002
        await core.load(lang.step("noop"))
        noop = await core.invoke(lang.step("noop"))
        assert noop["error"]["code"] == -32002
        assert "handler" in noop["error"]["message"]


async def test_eof_on_stdin_exits_zero(lang: Lang) -> None:
    async with lang.spawn() as core:
        assert core.proc.stdin is not None
        core.proc.stdin.close()
        assert await core.wait_exit() == 0


async def test_shutdown_waits_for_inflight_refuses_new_work_then_exit_is_zero(
        lang: Lang) -> None:
    async with lang.spawn() as core:
        await core.load(lang.step("slow"), lang.step("event"))
        slow = core.invoke_start(lang.step("slow"), input={"seconds": 0.5, "tag": "s"})
        await lang.slow_started(core)
        shutdown = core.start("shutdown")
        # Sent right behind it: a runner takes its messages in order, so this one is refused.
        late = await core.invoke(lang.step("event"), input={"n": 1})
        assert late["error"]["code"] == -32010
        shutdown_response = await asyncio.wait_for(shutdown, 10)
        slow_response = await asyncio.wait_for(slow, 10)
        assert shutdown_response["result"] is None
        assert slow_response["result"]["output"] == {"slept": 0.5}
        slow_id, shutdown_id = slow_response["id"], shutdown_response["id"]
        assert core.answered_order.index(slow_id) < core.answered_order.index(shutdown_id)
        core.notify("exit")
        assert await core.wait_exit() == 0


# --- invocation ------------------------------------------------------------------------------


async def test_middleware_runs_first_outermost_and_can_short_circuit(lang: Lang) -> None:
    async with lang.spawn() as core:
        await core.load(lang.step("middleware"))
        ok = await core.output(lang.step("middleware"), "api", {"headers": {}})
        blocked = await core.output(lang.step("middleware"), "api",
                                    {"headers": {"x-block": "1"}})
    assert ok == {"status": 200, "headers": {"x-outer": "1"}, "body": {
        "mutatedByMiddleware": True, "trail": ["outer-in", "gate", "handler", "outer-out"]}}
    assert blocked["status"] == 403
    assert blocked["headers"] == {"x-outer": "1"}
    assert blocked["body"]["trail"] == ["outer-in", "gate", "outer-out"]


async def test_timeout_ms_is_enforced_with_timed_out(lang: Lang) -> None:
    async with lang.spawn() as core:
        await core.load(lang.step("slow"))
        response = await core.invoke(lang.step("slow"), input={"seconds": 30, "tag": "t"},
                                     timeoutMs=200)
        fast = await core.invoke(lang.step("slow"), input={"seconds": 0.01, "tag": "f"},
                                 timeoutMs=5000)
    assert response["error"]["code"] == -32004
    assert "timeoutMs=200" in response["error"]["message"]
    assert fast["result"]["output"] == {"slept": 0.01}


async def test_message_size_limit_applies_to_results_and_input_lines(lang: Lang) -> None:
    limit = 4096
    returns = lang.step("returns")
    async with lang.spawn(maxMessageBytes=limit) as core:
        await core.load(returns)
        huge = await core.invoke(returns, input={"kind": "huge", "size": 10_000})
        assert huge["error"]["code"] == -32007

        padding = "p" * (limit * 3)
        id_first = core.start("step.invoke", {"invocationId": "big", "file": "x",
                                              "trigger": "event",
                                              "input": {"id": 5, "pad": padding}},
                              msg_id="big-first")
        assert (await asyncio.wait_for(id_first, 10))["error"]["code"] == -32007

        # The id as the last key, a nested "id" earlier on: the top-level one must be found.
        id_last = core.expect("big-last")
        core.write_raw(json.dumps({"jsonrpc": "2.0", "method": "step.invoke",
                                   "params": {"input": {"id": 5, "pad": padding}},
                                   "id": "big-last"}).encode())
        assert (await asyncio.wait_for(id_last, 10))["error"]["code"] == -32007

        # Still serving after both.
        assert await core.output(returns, input={"kind": "ok"}) == {"kind": "ok"}

        # No id anywhere: the runner cannot answer, so it exits non-zero.
        core.write_raw(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest",
                                   "params": {"pad": padding}}).encode())
        assert await core.wait_exit() != 0


# --- the error table ---------------------------------------------------------------------------


def test_error_codes_match_the_core(lang: Lang) -> None:
    codes = lang.error_codes()
    assert set(codes) - {"RpcError"} == set(core_errors.__all__) - {"RpcError"}
    for name, code in codes.items():
        assert getattr(core_errors, name).CODE == code, name
