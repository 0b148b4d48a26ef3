"""The Python runner (runners/python/motia_runner): what only it does, spawned for real and
driven over stdio by the fake core of tests/stdio_core.py (which refuses callbacks for
invocations already answered, as the real core does, so a runner that answers before its
background calls finish fails these tests). What every runner does is in test_runners.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing
from tests.runners import PYTHON_PROJECT as PROJECT
from tests.runners import spawn_python as spawn

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def step(name: str, root: Path = PROJECT) -> str:
    return str(root / "steps" / name)


# --- handshake and lifecycle -----------------------------------------------------------------


async def test_parse_error_is_answered_with_null_id() -> None:
    async with spawn() as core:
        core._pending[None] = asyncio.get_running_loop().create_future()
        core.write_raw(b"{not json")
        response = await asyncio.wait_for(core._pending[None], 10)
    assert response["id"] is None
    assert response["error"]["code"] == -32700


# --- loading ---------------------------------------------------------------------------------


async def test_load_reports_per_file_errors_and_loads_the_rest() -> None:
    files = ["basic_api_step.py", "broken_step.py", "import_error_step.py", "bad_config_step.py",
             "no_config_step.py", "noop_step.py", "todo_stream.py", "middleware_step.py"]
    async with spawn() as core:
        loaded = {Path(f["file"]).name: f for f in await core.load(*map(step, files))}
        assert list(loaded) == files  # one entry per file, in order

        broken = loaded["broken_step.py"]["error"]
        assert broken["code"] == -32003
        assert "broken_step.py" in broken["message"] and "SyntaxError" in broken["message"]
        assert "line 3" in broken["data"]["stack"]

        missing_pkg = loaded["import_error_step.py"]["error"]
        assert "definitely_not_installed_pkg" in missing_pkg["message"]
        assert "pip install" in missing_pkg["message"]
        assert "import_error_step.py" in missing_pkg["data"]["stack"]

        assert "not JSON-serialisable" in loaded["bad_config_step.py"]["error"]["message"]
        assert "config" in loaded["no_config_step.py"]["error"]["message"]

        api = loaded["basic_api_step.py"]
        assert api["hasHandler"] is True
        assert api["config"]["responseSchema"] == {"200": {"type": "object"}}
        assert loaded["noop_step.py"] == {"file": step("noop_step.py"), "hasHandler": False,
                                          "config": {"type": "noop", "name": "Placeholder",
                                                     "virtualEmits": ["x"],
                                                     "virtualSubscribes": []}}
        stream = loaded["todo_stream.py"]
        assert stream["hasHandler"] is False
        assert "canAccess" not in stream["config"]
        assert stream["config"]["__motia_hasCanAccess"] is True
        assert "middleware" not in loaded["middleware_step.py"]["config"]

        # A failed file is not invocable; a good one still is.
        assert (await core.invoke(step("broken_step.py")))["error"]["code"] == -32002
        out = await core.output(step("basic_api_step.py"), "api",
                                {"body": {}, "pathParams": {"id": "1"}})
        assert out["status"] == 200


async def test_module_names_make_package_relative_and_sibling_imports_work() -> None:
    async with spawn() as core:
        await core.load(step("petstore/api_step.py"), step("create_pet.step.py"),
                        step("my-flow/flow_step.py"))
        pets = await core.output(step("petstore/api_step.py"), "api", {})
        seed = await core.output(step("create_pet.step.py"), "event", {})
        dashed = await core.output(step("my-flow/flow_step.py"), "event", {})
    assert pets["body"] == {"msg": "HELLO PETS!", "module": "steps.petstore.api_step",
                            "package": "steps.petstore"}
    assert seed == {"shared": "from-shared", "module": "steps.create_pet_step",
                    "package": "steps"}
    assert dashed == {"plain": "sibling-value", "relative": "sibling-value"}


async def test_each_file_is_imported_once_and_reload_swaps_atomically(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    counter = step("counter_step.py", root)
    async with spawn(root=root) as core:
        await core.load(counter)
        outputs = await asyncio.gather(*(core.output(counter, input={}) for _ in range(25)))
        assert outputs == [{"imports": 1, "version": 1}] * 25

        in_flight = core.invoke_start(counter, input={"sleep": 0.5})
        await core.wait_logged("sleeping", version=1)  # it runs the old version
        source = Path(counter).read_text().replace('"version": 1', '"version": 2')
        Path(counter).write_text(source)
        (reloaded,) = await core.load(counter)
        assert reloaded["config"]["version"] == 2
        assert await core.output(counter, input={}) == {"imports": 2, "version": 2}
        old = await asyncio.wait_for(in_flight, 10)
        assert old["result"]["output"] == {"imports": 2, "version": 1}  # old code, shared helper

        Path(counter).write_text("config = {'type': 'event'\n")
        (failed,) = await core.load(counter)
        assert failed["error"]["code"] == -32003
        assert (await core.invoke(counter, input={}))["error"]["code"] == -32002


# --- invocation ------------------------------------------------------------------------------


async def test_api_event_and_cron_triggers_use_motia_call_conventions() -> None:
    async with spawn() as core:
        await core.load(step("basic_api_step.py"), step("event_step.py"), step("cron_step.py"))
        api = await core.output(step("basic_api_step.py"), "api",
                                {"body": {"a": 1}, "pathParams": {"id": "42"}, "headers": {}},
                                flows=["pyrunner"])
        event = await core.output(step("event_step.py"), "event", {"n": 3})
        cron = await core.output(step("cron_step.py"), "cron")
    assert api == {"status": 200, "body": {"id": "42", "echo": {"a": 1}, "traceId": "trace-1",
                                           "flows": ["pyrunner"]}}
    assert event == {"handled": 3}
    assert core.emitted[0]["topic"] == "thing.seen"
    assert core.emitted[0]["data"] == {"seen": 3}
    assert core.emitted[0]["messageGroupId"] == "g1"
    assert core.emitted[0]["invocationId"].startswith("inv-")
    assert cron == {"ticked": True}
    assert core.state["cron"]["last"] == {"trace": "trace-1"}


async def test_state_api_reproduces_motia_python_quirks() -> None:
    async with spawn() as core:
        await core.load(step("state_step.py"))
        out = await core.output(step("state_step.py"), input={"group": "g"})
    assert out["missing"] == {"data": None}
    assert out["plain"] == {"data": {"a": 1}}
    assert out["withdata"] == {"data": 5, "b": 2}
    assert out["scalar"] == 7
    assert out["list"] == [1, 2]
    assert out["group"] == [{"a": 1}, {"data": 5, "b": 2}, 7, [1, 2]]
    assert out["groupAlias"] == out["group"]
    assert out["emptyGroup"] == []
    assert out["deleted"] == 7
    assert out["afterClear"] == []
    assert {m for m, _ in core.calls} == {"state.get", "state.set", "state.getGroup",
                                          "state.delete", "state.clear"}
    assert all(p["invocationId"] == core.calls[0][1]["invocationId"] for _, p in core.calls)


async def test_core_error_on_a_callback_raises_an_rpc_error_at_the_await() -> None:
    async with spawn() as core:
        await core.load(step("refused_step.py"))
        out = await core.output(step("refused_step.py"), input={})
    assert out == {"type": "InvalidParams", "code": -32602, "message": "refused by the fake core",
                   "data": {"key": "fails"}, "isRpcError": "RpcError"}


async def test_logger_merges_args_into_fields() -> None:
    async with spawn() as core:
        await core.load(step("logger_step.py"))
        response = await core.invoke(step("logger_step.py"), input={}, inv_id="log-inv")
        assert response["result"] == {"output": None}
    by_msg = {log["msg"]: log for log in core.logs}
    assert by_msg["dict args"] == {"invocationId": "log-inv", "level": "info", "msg": "dict args",
                                   "fields": {"orderId": 7, "nested": {"a": 1}}}
    assert by_msg["object args"]["level"] == "warn"
    assert by_msg["object args"]["fields"] == {"x": 1, "y": "two"}
    assert by_msg["scalar args"]["fields"] == {"data": 42}
    assert by_msg["scalar args"]["level"] == "error"
    assert by_msg["no args"]["fields"] == {} and by_msg["no args"]["level"] == "debug"
    assert by_msg["warning alias"]["level"] == "warn"
    assert by_msg["list args"]["fields"] == {"data": [1, 2]}


async def test_print_and_fd1_writes_go_to_stderr_not_the_protocol() -> None:
    async with spawn() as core:
        await core.load(step("print_step.py"))
        assert await core.output(step("print_step.py"), input={}) == {"printed": True}
        await core.request("steps.load", {"files": []})  # a round trip after the prints
        core.notify("exit")
        await core.wait_exit()
    stderr = "".join(core.stderr)
    for text in ("printed at import time", "hello from print", "hello from sys.stdout",
                 "hello from fd 1", "hello from a child process"):
        assert text in stderr
    # spawn() asserts core.violations == []: no stray line reached the protocol channel.


async def test_sync_handler_runs_in_a_thread_with_blocking_ctx_calls() -> None:
    async with spawn() as core:
        await core.load(step("sync_step.py"))
        outs = await asyncio.gather(*(core.output(step("sync_step.py"), input={"v": i})
                                      for i in range(5)))
    for out in outs:
        assert out["thread"].startswith("motia-sync-handler")
        assert out["stored"] == {"v": out["got"]["data"]["v"]}
    assert len(core.emitted) == 5
    assert sum(1 for log in core.logs if log["msg"] == "from a thread") == 5


async def test_unawaited_ctx_calls_finish_before_the_answer() -> None:
    async with spawn() as core:
        await core.load(step("background_step.py"))
        out = await core.output(step("background_step.py"), input={"n": 20})
        assert out == {"scheduled": 20}
        # Everything was served while the invocation was still live (nothing stale).
        assert core.stale_callbacks == []
        assert core.state["bg"] == {f"k{i}": i for i in range(20)}
        assert core.streams[("my-stream", "grp")]["item"] == {"done": True, "id": "item"}
        failures = [log for log in core.logs if log["level"] == "error"]
        assert len(failures) == 1 and "refused by the fake core" in str(failures[0]["fields"])


async def test_streams_by_attribute_and_by_name() -> None:
    async with spawn() as core:
        await core.load(step("streams_step.py"))
        out = await core.output(step("streams_step.py"), input={})
    assert out["item"] == {"n": 1, "id": "a"}
    assert out["again"] == {"n": 1, "id": "a"}
    assert out["group"] == [] and out["group2"] == []
    assert out["removed"] == {"n": 1, "id": "a"}
    assert out["names"] == ["my-stream", "todo"]
    assert core.sent[0]["stream"] == "todo"
    assert core.sent[0]["channel"] == {"groupId": "g1"}
    assert core.sent[0]["event"] == {"type": "ping", "data": {"x": 1}}
    set_call = next(p for m, p in core.calls if m == "streams.set")
    assert set_call["stream"] == "my-stream" and set_call["group"] == "g1"


async def test_two_hundred_concurrent_invocations_with_callbacks() -> None:
    n = 200
    async with spawn() as core:
        await core.load(step("roundtrip_step.py"))
        # The fake core answers no state.set until it has seen all 200: only a runner that
        # really runs invocations concurrently gets past this.
        core.hold = ("state.set", "rt", n)
        outs = await asyncio.gather(*(core.output(step("roundtrip_step.py"), input={"i": i})
                                      for i in range(n)))
    assert outs == [{"i": i, "got": {"data": {"i": i}}} for i in range(n)]
    assert sorted(e["data"]["i"] for e in core.emitted) == list(range(n))
    assert core.stale_callbacks == []


async def test_cancel_request_cancels_that_invocation_only() -> None:
    async with spawn() as core:
        await core.load(step("slow_step.py"), step("event_step.py"))
        slow = core.invoke_start(step("slow_step.py"), input={"seconds": 30, "tag": "c1"})
        other = core.invoke_start(step("slow_step.py"), input={"seconds": 0.3, "tag": "c2"})
        await core.wait_logged("sleeping", tag="c1")
        core.notify("$/cancelRequest", {"id": 999999})  # not pending: a no-op
        core.notify("$/cancelRequest", {"id": next(k for k, v in core._pending.items()
                                                   if v is slow)})
        cancelled = await asyncio.wait_for(slow, 10)
        assert cancelled["error"]["code"] == -32800
        assert core.state["slow"]["cancelled"] == "c1"  # the handler saw CancelledError
        assert (await asyncio.wait_for(other, 10))["result"]["output"] == {"slept": 0.3}
        assert await core.output(step("event_step.py"), input={"n": 1}) == {"handled": 1}


async def test_handler_error_has_name_message_and_user_only_stack() -> None:
    async with spawn() as core:
        await core.load(step("error_step.py"), step("event_step.py"))
        response = await core.invoke(step("error_step.py"), input={"v": 3})
        still_fine = await core.output(step("event_step.py"), input={"n": 2})
    error = response["error"]
    assert error["code"] == -32001
    assert error["data"]["name"] == "ValueError"
    assert error["data"]["message"] == "bad value 3"
    stack = error["data"]["stack"]
    assert "error_step.py" in stack and "in helper" in stack
    assert "motia_runner" not in stack
    assert still_fine == {"handled": 2}


async def test_return_values_falsy_objects_and_unserialisable() -> None:
    async with spawn() as core:
        await core.load(step("returns_step.py"))
        assert await core.output(step("returns_step.py"), input={"kind": "empty"}) is None
        assert await core.output(step("returns_step.py"), input={"kind": "none"}) is None
        obj = await core.output(step("returns_step.py"), input={"kind": "object"})
        assert obj == {"status": 200, "body": {"a": 1}}
        bad = await core.invoke(step("returns_step.py"), input={"kind": "unserialisable"})
        assert bad["error"]["code"] == -32001


# --- environments ------------------------------------------------------------------------------


def _runs(python: str, code: str) -> bool:
    try:
        return subprocess.run([python, "-c", code], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _interpreters() -> list[Any]:
    """This interpreter with stdlib JSON forced, an interpreter that lacks msgspec and orjson,
    and the oldest supported Python, when the machine has them."""
    cases = [pytest.param(sys.executable, {"MOTIA_RUNNER_JSON": "stdlib"}, id="stdlib-json")]
    no_fast_json = "import importlib.util as u, sys; sys.exit(any(map(u.find_spec, " \
                   "['msgspec', 'orjson'])))"
    candidates = (
        ("no-fast-json", ["/usr/bin/python3", "/usr/local/bin/python3"], no_fast_json),
        ("python3.10",
         [*sorted(map(str, Path("/root/.pyenv/versions").glob("3.10*/bin/python"))),
          "/usr/bin/python3.10"],
         "import sys; sys.exit(sys.version_info[:2] != (3, 10))"),
    )
    for label, paths, check in candidates:
        found = next((p for p in paths if os.path.exists(p) and _runs(p, check)), None)
        cases.append(pytest.param(found or f"no {label} interpreter here", {}, id=label))
    return cases


@pytest.mark.parametrize(("python", "env"), _interpreters())
async def test_runner_works_without_fast_json_and_on_other_interpreters(
        python: str, env: dict[str, str]) -> None:
    if not os.path.exists(python):
        missing(python, "an interpreter this test runs the runner on")
    async with spawn(python=python, env=env) as core:
        loaded = await core.load(step("basic_api_step.py"), step("state_step.py"),
                                 step("logger_step.py"), step("error_step.py"),
                                 step("broken_step.py"), step("sync_step.py"))
        assert loaded[0]["config"]["responseSchema"] == {"200": {"type": "object"}}
        assert loaded[4]["error"]["code"] == -32003
        state = await core.output(step("state_step.py"), input={"group": "s"})
        assert state["missing"] == {"data": None}
        await core.output(step("logger_step.py"), input={})
        assert any(log["fields"] == {"x": 1, "y": "two"} for log in core.logs)
        assert (await core.invoke(step("error_step.py"), input={}))["error"]["code"] == -32001
        assert (await core.output(step("sync_step.py"), input={"v": 1}))["got"] == {
            "data": {"v": 1}}


