"""The ``ctx`` object Python handlers receive, with the quirks Motia's Python steps rely on.

Every call becomes a request to the core tagged with the invocation id (PROTOCOL.md 3.4). Calls
start at call time as asyncio Tasks, so both ``await ctx.state.set(...)`` and a bare
``ctx.streams.x.set(...)`` work; the invocation tracks those tasks and waits for them before it
answers, so nothing is lost when a handler does not await. A sync handler runs in a worker
thread, where the same calls block and return their value instead.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any

from motia_runner.errors import InvocationNotFound, MessageTooLarge
from motia_runner.rpc import Endpoint

__all__ = ("Context", "Invocation", "Logger", "State", "Stream", "Streams")

_get_ident = threading.get_ident
_NON_IDENT = re.compile(r"\W")


def _wrap_data(value: Any) -> Any:
    """Motia's ``state.get`` quirk: None -> {"data": None}; dict without "data" -> {"data": d}."""
    if value is None:
        return {"data": None}
    if isinstance(value, dict) and "data" not in value:
        return {"data": value}
    return value


def _key(value: Any) -> Any:
    return value if type(value) is str or value is None else str(value)


class Invocation:
    """One running ``step.invoke``: its id, its pending ctx calls, and why it was stopped."""

    __slots__ = ("ended", "endpoint", "id", "loop", "stop_reason", "stream_names", "task",
                 "tasks")

    def __init__(self, inv_id: str, endpoint: Endpoint, stream_names: tuple[str, ...]) -> None:
        self.id = inv_id
        self.endpoint = endpoint
        self.loop = endpoint.loop
        self.stream_names = stream_names
        # Every call's Task, kept until the invocation ends so `drain` can inspect them all.
        self.tasks: list[asyncio.Task[Any]] = []
        self.stop_reason: str | None = None
        self.task: asyncio.Task[Any] | None = None
        # Set once answered: later calls come from work the handler left running (PROTOCOL 3.4).
        self.ended = False

    def call(self, method: str, params: dict[str, Any],
             wrap: Callable[[Any], Any] | None = None) -> Any:
        """Start a callback now: a tracked Task on the loop thread, the value on other threads."""
        coro = self._request(method, params, wrap)
        if _get_ident() != self.endpoint.loop_thread:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()
        task = self.loop.create_task(coro)
        self.tasks.append(task)
        return task

    async def _request(self, method: str, params: dict[str, Any],
                       wrap: Callable[[Any], Any] | None) -> Any:
        try:
            result = await self.endpoint.request(method, params)
        except InvocationNotFound as exc:
            if self.ended:  # said on the step's log too, as nobody may look at this task
                self.log("error", exc.message, {})
            raise
        return wrap(result) if wrap is not None else result

    async def drain(self) -> None:
        """Wait for ctx calls the handler did not await; report the ones that failed unseen."""
        while True:
            pending = [task for task in self.tasks if not task.done()]
            if not pending:
                break
            await asyncio.wait(pending)
        for task in self.tasks:
            # `_log_traceback` is asyncio's own "nobody looked at this exception" flag.
            if not task.cancelled() and getattr(task, "_log_traceback", False):
                exc = task.exception()
                self.log("error", "a ctx call that was not awaited failed",
                         {"error": f"{type(exc).__name__}: {exc}"})

    def stop(self, reason: str) -> None:
        """Cancel the invocation (``"cancel"`` or ``"timeout"``); its task answers accordingly."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.task is not None:
            self.task.cancel()

    def cancel_calls(self) -> None:
        for task in self.tasks:
            task.cancel()

    def log(self, level: str, msg: str, fields: dict[str, Any]) -> None:
        params = {"invocationId": self.id, "level": level, "msg": msg, "fields": fields}
        try:
            self.endpoint.notify("log", params)
        except (TypeError, ValueError, RecursionError):
            params["fields"] = {"data": repr(fields)[:4096]}
            self.endpoint.notify("log", params)
        except MessageTooLarge:
            params["msg"] = msg[:4096] + " [log record over maxMessageBytes; fields dropped]"
            params["fields"] = {}
            self.endpoint.notify("log", params)


class State:
    """``ctx.state``: free-form group ids, JSON values (MOTIA_CONTRACT 3.3)."""

    __slots__ = ("_inv",)

    def __init__(self, inv: Invocation) -> None:
        self._inv = inv

    def get(self, group: str, key: str) -> Any:
        return self._inv.call("state.get", {"invocationId": self._inv.id, "group": _key(group),
                                            "key": _key(key)}, _wrap_data)

    def set(self, group: str, key: str, value: Any) -> Any:
        return self._inv.call("state.set", {"invocationId": self._inv.id, "group": _key(group),
                                            "key": _key(key), "value": value})

    def delete(self, group: str, key: str) -> Any:
        return self._inv.call("state.delete", {"invocationId": self._inv.id,
                                               "group": _key(group), "key": _key(key)})

    def clear(self, group: str) -> Any:
        return self._inv.call("state.clear", {"invocationId": self._inv.id, "group": _key(group)})

    def get_group(self, group: str) -> Any:
        return self._inv.call("state.getGroup", {"invocationId": self._inv.id,
                                                 "group": _key(group)}, _wrap_data)

    # Motia's own `getGroup` was broken (it forwarded two arguments); here it simply works.
    getGroup = get_group


class Logger:
    """``ctx.logger``: ``info|warn|error|debug(msg, args=None)``, fields merged flat."""

    __slots__ = ("_inv", "listeners")

    def __init__(self, inv: Invocation) -> None:
        self._inv = inv
        self.listeners: list[Callable[[str, str, Any], None]] = []

    def _log(self, level: str, message: Any, args: Any) -> None:
        fields: dict[str, Any] = {}
        if args:
            if hasattr(args, "__dict__"):
                fields = dict(vars(args))
            elif isinstance(args, dict):
                fields = args
            else:
                fields = {"data": args}
        self._inv.log(level, message if type(message) is str else str(message), fields)
        for listener in self.listeners:
            listener(level, message, args)

    def info(self, message: Any, args: Any = None) -> None:
        self._log("info", message, args)

    def warn(self, message: Any, args: Any = None) -> None:
        self._log("warn", message, args)

    warning = warn

    def error(self, message: Any, args: Any = None) -> None:
        self._log("error", message, args)

    def debug(self, message: Any, args: Any = None) -> None:
        self._log("debug", message, args)

    def add_listener(self, listener: Callable[[str, str, Any], None]) -> None:
        self.listeners.append(listener)


class Stream:
    """``ctx.streams.<name>``: items addressed by group id and item id."""

    __slots__ = ("_inv", "name")

    def __init__(self, inv: Invocation, name: str) -> None:
        self._inv = inv
        self.name = name

    def get(self, group_id: str, id: str) -> Any:
        return self._inv.call("streams.get", {"invocationId": self._inv.id, "stream": self.name,
                                              "group": _key(group_id), "id": _key(id)})

    def set(self, group_id: str, id: str, data: Any) -> Any:
        return self._inv.call("streams.set", {"invocationId": self._inv.id, "stream": self.name,
                                              "group": _key(group_id), "id": _key(id),
                                              "data": data})

    def delete(self, group_id: str, id: str) -> Any:
        return self._inv.call("streams.delete", {"invocationId": self._inv.id,
                                                 "stream": self.name, "group": _key(group_id),
                                                 "id": _key(id)})

    def get_group(self, group_id: str) -> Any:
        return self._inv.call("streams.getGroup", {"invocationId": self._inv.id,
                                                   "stream": self.name,
                                                   "group": _key(group_id)})

    getGroup = get_group

    def send(self, channel: dict[str, Any], event: dict[str, Any]) -> Any:
        if isinstance(channel, dict) and "groupId" not in channel and "group_id" in channel:
            channel = {("groupId" if k == "group_id" else k): v for k, v in channel.items()}
        return self._inv.call("streams.send", {"invocationId": self._inv.id, "stream": self.name,
                                               "channel": channel, "event": event})


class Streams(dict):  # type: ignore[type-arg]
    """``ctx.streams``: a dict by stream name that also answers ``ctx.streams.my_stream``."""

    def __getattr__(self, name: str) -> Stream:
        if name in self:
            return self[name]  # type: ignore[no-any-return]
        for real in self:
            if _NON_IDENT.sub("_", real) == name:
                return self[real]  # type: ignore[no-any-return]
        raise AttributeError(f"no stream named {name!r}; the project defines {sorted(self)}")


class Context:
    """What a handler gets as ``ctx``/``context``."""

    __slots__ = ("_inv", "_streams", "flows", "logger", "state", "trace_id", "traceparent",
                 "tracestate")

    def __init__(self, inv: Invocation, trace_id: str, flows: list[str],
                 traceparent: str | None = None, tracestate: str | None = None) -> None:
        self._inv = inv
        self.trace_id = trace_id
        # The W3C context of the step's span, to pass on to outgoing calls (PROTOCOL.md 3.9).
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.flows = flows
        self.state = State(inv)
        self.logger = Logger(inv)
        self._streams: Streams | None = None

    @property
    def trace_context(self) -> dict[str, str]:
        """The W3C headers to send on an outgoing call: ``{"traceparent", "tracestate"?}``
        (empty when the core sent none)."""
        headers: dict[str, str] = {}
        if self.traceparent:
            headers["traceparent"] = self.traceparent
            if self.tracestate:
                headers["tracestate"] = self.tracestate
        return headers

    @property
    def streams(self) -> Streams:
        if self._streams is None:
            inv = self._inv
            self._streams = Streams({name: Stream(inv, name) for name in inv.stream_names})
        return self._streams

    def emit(self, event: dict[str, Any]) -> Any:
        """Publish ``{"topic", "data", "messageGroupId"?}``; resolves once the core accepted it."""
        if not isinstance(event, dict):
            raise TypeError(f"ctx.emit expects a dict {{'topic': ..., 'data': ...}}, got "
                            f"{type(event).__name__}")
        params = {"invocationId": self._inv.id, "topic": event.get("topic"),
                  "data": event.get("data")}
        group = event.get("messageGroupId", event.get("message_group_id"))
        if group is not None:
            params["messageGroupId"] = group
        return self._inv.call("emit", params)
