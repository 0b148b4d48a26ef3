"""The runner's side of protocol v1: lifecycle, the step table, and routing of core messages.

All of it runs on the event loop thread. ``step.invoke`` is the hot path: its params are checked
with plain ``type()`` tests and the invocation becomes one task; everything else is rare.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from motia_runner import __version__
from motia_runner.access import can_access
from motia_runner.context import Invocation
from motia_runner.errors import (
    HandlerError,
    InternalError,
    InvalidConfig,
    InvalidParams,
    MethodNotFound,
    RpcError,
    ShuttingDown,
    StepNotFound,
    UnsupportedProtocolVersion,
)
from motia_runner.invoke import execute, handler_error
from motia_runner.loader import Loader, Step
from motia_runner.rpc import Endpoint

__all__ = ("PROTOCOL_VERSION", "Server")

PROTOCOL_VERSION = 1
_TRIGGERS = frozenset({"api", "event", "cron"})
_SYNC_WORKERS = 64  # sync handlers at once; they mostly wait on the core, not on the CPU


def _bad(method: str, field: str, expected: str, got: Any) -> InvalidParams:
    return InvalidParams(f"{method}: params.{field} must be {expected}, got {type(got).__name__}")


def _object(method: str, params: Any) -> dict[str, Any]:
    if type(params) is not dict:
        raise InvalidParams(f"{method}: params must be an object, got {type(params).__name__}")
    return params


class Server:
    """Owns the endpoint, the loaded steps and the invocations in flight."""

    def __init__(self, loop: asyncio.AbstractEventLoop, in_fd: int, out_fd: int,
                 project_root: str) -> None:
        self.loop = loop
        self.endpoint = Endpoint(loop, in_fd, out_fd, self._on_request, self._on_notification,
                                 self._close)
        self.loader = Loader(project_root)
        self.steps: dict[str, Step] = {}
        self.inflight: dict[Any, Invocation] = {}
        self.streams: tuple[str, ...] = ()
        self.shutting_down = False
        self.executor = ThreadPoolExecutor(_SYNC_WORKERS, thread_name_prefix="motia-sync-handler")
        self._seen: set[str] = set()
        self._checks: set[asyncio.Task[None]] = set()
        self._exit: asyncio.Future[int] = loop.create_future()

    async def run(self) -> int:
        """Serve until ``exit``, end of input or a broken channel; return the exit status."""
        self.endpoint.start()
        return await self._exit

    def _close(self, code: int) -> None:
        if not self._exit.done():
            self.endpoint.reader.stop()
            self._exit.set_result(code)

    # --- routing --------------------------------------------------------------------------

    def _on_request(self, req_id: Any, method: str, params: Any) -> None:
        if method == "step.invoke":
            self._invoke(req_id, params)
            return
        endpoint = self.endpoint
        try:
            if method == "initialize":
                endpoint.respond(req_id, self._initialize(params))
            elif method == "steps.load":
                endpoint.respond(req_id, self._load(params))
            elif method == "shutdown":
                # At once, not in the task: an invocation read right after it is refused.
                self.shutting_down = True
                self.loop.create_task(self._shutdown(req_id))
            elif method == "streams.canAccess":
                task = self.loop.create_task(self._can_access(req_id, params))
                self._checks.add(task)  # the loop keeps only weak references to tasks
                task.add_done_callback(self._checks.discard)
            else:
                raise MethodNotFound(f"{method!r} is not a method of motia-python-runner "
                                     f"(protocol v{PROTOCOL_VERSION})")
        except RpcError as exc:
            endpoint.send_error(req_id, exc)
        except Exception as exc:  # a bug of ours: say so, with the stack
            endpoint.send_error(req_id, InternalError(f"{type(exc).__name__}: {exc}",
                                                      {"stack": handler_error(exc).data["stack"]}))

    def _on_notification(self, method: str, params: Any) -> None:
        if method == "$/cancelRequest":
            target = params.get("id") if type(params) is dict else None
            inv = self.inflight.get(target) if isinstance(target, (int, str)) else None
            if inv is not None:
                inv.stop("cancel")
        elif method == "exit":
            self._close(0)
        # Other notifications are not ours to answer (JSON-RPC: no response to notifications).

    # --- lifecycle ------------------------------------------------------------------------

    def _initialize(self, params: Any) -> dict[str, Any]:
        p = _object("initialize", params)
        version = p.get("protocolVersion")
        if type(version) is not int:
            raise _bad("initialize", "protocolVersion", "an integer", version)
        if version != PROTOCOL_VERSION:
            raise UnsupportedProtocolVersion(
                f"motia-python-runner speaks protocol version {PROTOCOL_VERSION}, the core asked "
                f"for {version}; upgrade the older of motia-core and the runner",
                {"supported": [PROTOCOL_VERSION]},
            )
        root = p.get("projectRoot")
        if type(root) is not str:
            raise _bad("initialize", "projectRoot", "a string (absolute path)", root)
        limit = p.get("maxMessageBytes", self.endpoint.max_bytes)
        if type(limit) is not int or limit <= 0:
            raise _bad("initialize", "maxMessageBytes", "a positive integer", limit)
        streams = p.get("streams", [])
        if type(streams) is not list or not all(type(s) is str for s in streams):
            raise _bad("initialize", "streams", "an array of strings", streams)
        # This runner never validates bodies itself: the core asks it to have one checked
        # (step.invoke's validateBody) only when the project validates them. Checked all the same.
        validate = p.get("validateBodies", True)
        if type(validate) is not bool:
            raise _bad("initialize", "validateBodies", "true or false", validate)
        self.loader.set_root(root)
        self.endpoint.set_max_bytes(limit)
        self.streams = tuple(streams)
        return {
            "protocolVersion": PROTOCOL_VERSION,
            "runner": {"name": "motia-python-runner", "version": __version__,
                       "language": "python"},
            "capabilities": {"cancellation": True, "middleware": True, "reload": True,
                             "filePatterns": ["_step.py", ".step.py", "_stream.py"]},
        }

    def _load(self, params: Any) -> dict[str, Any]:
        files = _object("steps.load", params).get("files")
        if type(files) is not list or not all(type(f) is str for f in files):
            raise _bad("steps.load", "files", "an array of absolute paths", files)
        streams = params.get("streams")
        if streams is not None:
            if type(streams) is not list or not all(type(s) is str for s in streams):
                raise _bad("steps.load", "streams", "an array of stream names", streams)
            self.streams = tuple(streams)
        results = []
        for file in files:
            try:
                step = self.loader.load(file, reload=file in self._seen)
            except InvalidConfig as exc:
                self.steps.pop(file, None)
                results.append({"file": file, "error": exc.to_error()})
            except Exception as exc:  # a loader bug must not cost the other files
                self.steps.pop(file, None)
                results.append({"file": file, "error": InvalidConfig(
                    f"{file}: {type(exc).__name__}: {exc}",
                    {"stack": handler_error(exc).data["stack"]}).to_error()})
            else:
                self.steps[file] = step  # the swap: invocations in flight keep the old Step
                entry = {"file": file, "config": step.wire_config,
                         "hasHandler": step.handler is not None}
                if step.middleware:
                    entry["hasMiddleware"] = True
                results.append(entry)
            self._seen.add(file)
        return {"files": results}

    async def _can_access(self, req_id: Any, params: Any) -> None:
        try:
            allowed = await can_access(self.steps, params, self.executor)
        except RpcError as exc:
            self.endpoint.send_error(req_id, exc)
        except Exception as exc:  # a bug of ours
            self.endpoint.send_error(req_id, InternalError(f"{type(exc).__name__}: {exc}"))
        else:
            self.endpoint.respond(req_id, allowed)

    async def _shutdown(self, req_id: Any) -> None:
        self.shutting_down = True
        tasks = [inv.task for inv in self.inflight.values() if inv.task is not None]
        if tasks:
            await asyncio.wait(tasks)
        self.endpoint.respond(req_id, None)

    # --- invocations ----------------------------------------------------------------------

    def _invoke(self, req_id: Any, params: Any) -> None:
        if self.shutting_down:
            self.endpoint.send_error(req_id, ShuttingDown(
                "motia-python-runner is shutting down and takes no new invocations"))
            return
        try:
            p = _object("step.invoke", params)
            inv_id, file, trigger = p.get("invocationId"), p.get("file"), p.get("trigger")
            if type(inv_id) is not str:
                raise _bad("step.invoke", "invocationId", "a string", inv_id)
            if type(file) is not str:
                raise _bad("step.invoke", "file", "a string", file)
            if trigger not in _TRIGGERS:
                raise InvalidParams(f"step.invoke: params.trigger must be api, event or cron, "
                                    f"got {trigger!r}")
            trace = p.get("trace")
            trace_id = trace.get("traceId") if type(trace) is dict else None
            if type(trace_id) is not str or type(trace.get("spanId")) is not str:  # type: ignore[union-attr]
                raise InvalidParams("step.invoke: params.trace must be an object with string "
                                    "traceId and spanId")
            flows = p.get("flows") or []
            if type(flows) is not list:
                raise _bad("step.invoke", "flows", "an array of strings", flows)
            validate_body = p.get("validateBody", False)
            if type(validate_body) is not bool:
                raise _bad("step.invoke", "validateBody", "true or false", validate_body)
            timeout_ms = p.get("timeoutMs")
            if timeout_ms is not None and (type(timeout_ms) not in (int, float) or timeout_ms < 0):
                raise _bad("step.invoke", "timeoutMs", "a non-negative number", timeout_ms)
            step = self.steps.get(file)
            if step is None:
                raise StepNotFound(f"no step loaded from {file!r}: send steps.load for it first, "
                                   "or fix the error its load reported")
            if step.handler is None:
                raise StepNotFound(f"{file!r} is loaded but defines no callable `handler` "
                                   "(noop steps and streams cannot be invoked)")
        except RpcError as exc:
            self.endpoint.send_error(req_id, exc)
            return
        inv = Invocation(inv_id, self.endpoint, self.streams)
        self.inflight[req_id] = inv
        inv.task = self.loop.create_task(
            self._run(req_id, inv, step, trigger, p.get("input"), trace, flows, timeout_ms,
                      validate_body))

    async def _run(self, req_id: Any, inv: Invocation, step: Step, trigger: str, data: Any,
                   trace: dict[str, Any], flows: list[str], timeout_ms: float | None,
                   validate_body: bool) -> None:
        endpoint = self.endpoint
        traceparent, tracestate = trace.get("traceparent"), trace.get("tracestate")
        try:
            output = await execute(inv, step, trigger, data, trace["traceId"], flows, timeout_ms,
                                   self.executor, validate_body,
                                   traceparent if type(traceparent) is str else None,
                                   tracestate if type(tracestate) is str else None)
        except RpcError as exc:
            endpoint.send_error(req_id, exc)
        except asyncio.CancelledError:
            pass  # the runner is exiting; nobody is left to answer
        except Exception as exc:
            endpoint.send_error(req_id, InternalError(f"{type(exc).__name__}: {exc}",
                                                      {"stack": handler_error(exc).data["stack"]}))
        else:
            try:
                endpoint.respond(req_id, {"output": output})
            except Exception as exc:
                error = handler_error(exc)
                endpoint.send_error(req_id, HandlerError(
                    f"the handler's return value cannot be sent as JSON: {error.message}",
                    error.data))
        finally:
            self.inflight.pop(req_id, None)
