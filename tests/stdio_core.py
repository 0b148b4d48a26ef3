"""A fake core for driving a language runner over raw stdio, shared by the runner suites.

It speaks protocol v1 with raw JSON lines, answers the runner's ``state.*``/``emit``/``streams.*``
callbacks from dicts, records ``log`` notifications, and treats any stdout line that is not
JSON-RPC as a protocol violation. It also refuses callbacks for invocations that have already
been answered, as the real core does, so a runner that answers before its background calls
finish fails the tests.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

__all__ = ("FakeCore", "running")

C = TypeVar("C", bound="FakeCore")


class FakeCore:
    """The core's half of the protocol, as small as the tests allow."""

    def __init__(self, proc: asyncio.subprocess.Process, root: Path,
                 streams: Sequence[str] = ("my-stream", "todo")) -> None:
        self.stream_names = list(streams)  # sent in `initialize`
        self.proc = proc
        self.root = root
        self.state: dict[str, dict[str, Any]] = {}
        self.streams: dict[tuple[str, str], dict[str, Any]] = {}
        self.emitted: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.violations: list[str] = []
        self.stale_callbacks: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.active: set[Any] = set()
        self.answered_order: list[Any] = []
        # (method, group, count): hold those calls' answers until `count` of them arrived.
        self.hold: tuple[str, str, int] | None = None
        self._held: list[tuple[Any, Any]] = []
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._inv_of: dict[Any, Any] = {}
        self._next_id = 0
        self._changed = asyncio.Event()
        self._tasks = [asyncio.ensure_future(self._read_stdout()),
                       asyncio.ensure_future(self._read_stderr())]

    # --- plumbing -------------------------------------------------------------------------

    def write(self, message: dict[str, Any]) -> None:
        self.write_raw(json.dumps(message).encode())

    def write_raw(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")

    def start(self, method: str, params: Any = None, msg_id: Any = None) -> asyncio.Future[Any]:
        """Send a request; the future resolves to the whole response object."""
        if msg_id is None:
            self._next_id += 1
            msg_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        if method == "step.invoke" and isinstance(params, dict):
            self.active.add(params.get("invocationId"))
            self._inv_of[msg_id] = params.get("invocationId")
        self.write(message)
        return future

    def expect(self, msg_id: Any) -> asyncio.Future[Any]:
        """A future for the answer to a request written by hand."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        return future

    async def request(self, method: str, params: Any = None, timeout: float = 20) -> Any:
        return await asyncio.wait_for(self.start(method, params), timeout)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.write(message)

    def invoke_start(self, file: str, trigger: str = "event", input: Any = None,
                     inv_id: str | None = None, **extra: Any) -> asyncio.Future[Any]:
        self._next_id += 1
        params = {"invocationId": inv_id or f"inv-{self._next_id}", "file": file,
                  "trigger": trigger, "trace": {"traceId": "trace-1", "spanId": "span-1"},
                  **extra}
        if input is not None:
            params["input"] = input
        return self.start("step.invoke", params)

    def request_id(self, future: asyncio.Future[Any]) -> Any:
        return next(k for k, v in self._pending.items() if v is future)

    async def invoke(self, file: str, trigger: str = "event", input: Any = None,
                     **extra: Any) -> dict[str, Any]:
        return await asyncio.wait_for(self.invoke_start(file, trigger, input, **extra), 20)

    async def output(self, file: str, trigger: str = "event", input: Any = None,
                     **extra: Any) -> Any:
        response = await self.invoke(file, trigger, input, **extra)
        assert "result" in response, response
        return response["result"]["output"]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every message."""
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def wait_logged(self, msg: str, timeout: float = 20, **fields: Any) -> dict[str, Any]:
        """The first log record saying ``msg`` (with ``fields`` among its fields), once it has
        arrived: how a test knows a handler got somewhere, instead of sleeping."""

        def found() -> dict[str, Any] | None:
            return next((log for log in self.logs if log.get("msg") == msg
                         and all((log.get("fields") or {}).get(k) == v
                                 for k, v in fields.items())), None)

        await self.wait_for(lambda: found() is not None, timeout)
        record = found()
        assert record is not None
        return record

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.stderr.append(line.decode(errors="replace"))

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                message = json.loads(line)
                assert isinstance(message, dict) and message.get("jsonrpc") == "2.0"
            except (ValueError, AssertionError):
                self.violations.append(line.decode(errors="replace"))
                continue
            self._dispatch(message)
            self._changed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(EOFError("runner closed stdout"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            msg_id = message.get("id")
            self.answered_order.append(msg_id)
            self.active.discard(self._inv_of.pop(msg_id, None))
            future = self._pending.pop(msg_id, None)
            if future is None:
                self.violations.append(f"response to unknown id: {message}")
            elif not future.done():
                future.set_result(message)
        elif "id" not in message:
            if method == "log":
                self.logs.append(message["params"])
            else:
                self.violations.append(f"unexpected notification: {message}")
        else:
            self._callback(message["id"], method, message.get("params") or {})

    # --- the core's services ----------------------------------------------------------------

    def _answer(self, msg_id: Any, result: Any = None, error: dict[str, Any] | None = None) -> None:
        body = {"error": error} if error is not None else {"result": result}
        self.write({"jsonrpc": "2.0", "id": msg_id, **body})

    def _callback(self, msg_id: Any, method: str, params: dict[str, Any]) -> None:
        self.calls.append((method, params))
        if params.get("invocationId") not in self.active:
            self.stale_callbacks.append(params)
            self._answer(msg_id, error={"code": -32009, "message": "Invocation not found"})
            return
        if params.get("group") == "never":
            return  # never answered: the handler waits until it is stopped
        if method == "state.set" and params.get("key") == "fails":
            self._answer(msg_id, error={"code": -32602, "message": "refused by the fake core",
                                        "data": {"key": "fails"}})
            return
        try:
            result = self._serve(method, params)
        except KeyError as exc:
            self._answer(msg_id, error={"code": -32601, "message": f"no method {exc}"})
            return
        if self.hold and method == self.hold[0] and params.get("group") == self.hold[1]:
            self._held.append((msg_id, result))
            if len(self._held) >= self.hold[2]:
                for held_id, held_result in self._held:
                    self._answer(held_id, held_result)
                self._held.clear()
            return
        self._answer(msg_id, result)

    def _serve(self, method: str, p: dict[str, Any]) -> Any:
        if method.startswith("state."):
            return self._serve_state(method, p)
        if method.startswith("streams."):
            return self._serve_streams(method, p)
        if method == "emit":
            self.emitted.append(p)
            return None
        raise KeyError(method)

    def _serve_state(self, method: str, p: dict[str, Any]) -> Any:
        group = self.state.setdefault(p["group"], {})
        if method == "state.get":
            return group.get(p["key"])
        if method == "state.set":
            group[p["key"]] = p["value"]
            return p["value"]
        if method == "state.delete":
            return group.pop(p["key"], None)
        if method == "state.getGroup":
            return list(group.values())
        if method == "state.clear":
            group.clear()
            return None
        raise KeyError(method)

    def _serve_streams(self, method: str, p: dict[str, Any]) -> Any:
        items = self.streams.setdefault((p["stream"], p.get("group", "")), {})
        if method == "streams.get":
            return items.get(p["id"])
        if method == "streams.set":
            items[p["id"]] = {**p["data"], "id": p["id"]}
            return items[p["id"]]
        if method == "streams.delete":
            return items.pop(p["id"], None)
        if method == "streams.getGroup":
            return list(items.values())
        if method == "streams.send":
            self.sent.append(p)
            return None
        raise KeyError(method)

    # --- lifecycle --------------------------------------------------------------------------

    async def initialize(self, **overrides: Any) -> dict[str, Any]:
        params = {"protocolVersion": 1, "core": {"name": "motia-core", "version": "test"},
                  "projectRoot": str(self.root), "maxMessageBytes": 16 * 1024 * 1024,
                  "streams": self.stream_names, **overrides}
        return await self.request("initialize", params)  # type: ignore[no-any-return]

    async def load(self, *files: str) -> list[dict[str, Any]]:
        response = await self.request("steps.load", {"files": list(files)})
        assert "result" in response, response
        return response["result"]["files"]  # type: ignore[no-any-return]

    async def wait_exit(self, timeout: float = 10) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
        return code


@asynccontextmanager
async def running(argv: Sequence[str], root: Path, env: Mapping[str, str],
                  make_core: Callable[[asyncio.subprocess.Process, Path], C],
                  init: bool = True, **init_overrides: Any) -> AsyncIterator[C]:
    """A runner started with ``argv`` in ``root``, driven by ``make_core(proc, root)``, shaken
    hands with unless ``init`` is false; on the way out it is asked to exit (killed after 10 s),
    and the test fails if it ever wrote a line that is not JSON-RPC. A failing test carries the
    runner's stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=str(root), env=dict(env),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    core = make_core(proc, root)
    try:
        if init:
            response = await core.initialize(**init_overrides)
            assert "result" in response, response
        yield core
    except BaseException as exc:
        if hasattr(exc, "add_note"):  # Python 3.11+
            exc.add_note("runner stderr:\n" + "".join(core.stderr))
        raise
    finally:
        if proc.returncode is None:
            try:
                core.notify("exit")
                await asyncio.wait_for(proc.wait(), 10)
            except (Exception, asyncio.TimeoutError):
                proc.kill()
                await proc.wait()
        for task in core._tasks:
            try:
                await asyncio.wait_for(task, 10)
            except Exception:
                task.cancel()
        if proc.stdin is not None:
            proc.stdin.close()
    assert core.violations == [], core.violations
