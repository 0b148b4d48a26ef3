"""The core's side of one runner's channel, as raw JSON lines, each checked against the protocol.

The kit does not use ``motia_core.protocol.rpc.Endpoint``: an
endpoint hides exactly what a conformance
check must see (how a line is framed, which keys a result has, an answer to an id nobody sent).
Each line from the runner is classified and validated with the types of ``motia_core.protocol``
(the single source of truth); anything the real core would treat as a broken runner becomes a
*violation*, and the first violation fails the scenario with its precise description.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec

from motia_core.conformance.fakecore import Call, FakeCore
from motia_core.conformance.matchers import describe
from motia_core.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    METHODS,
    ErrorObject,
    InitializeResult,
    InvokeResult,
    LoadResult,
)

__all__ = ("ScenarioFailed", "Sent", "Session")

_RESULT_TYPES: dict[str, type[Any]] = {
    "initialize": InitializeResult, "steps.load": LoadResult, "step.invoke": InvokeResult,
}
CLOSE = b""  # the writer's cue to close the runner's stdin


class ScenarioFailed(Exception):
    """The runner did not do what the scenario expects; ``str()`` is the scorecard's reason."""


@dataclass
class Sent:
    """A request the kit sent, and its answer once it came."""

    id: Any
    method: str
    params: Any
    response: dict[str, Any] | None = None
    answered_at: int = 0  # position in the order of answers


@dataclass
class Session:
    core: FakeCore
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    sent: dict[Any, Sent] = field(default_factory=dict)
    null_responses: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    active: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)
    exit_code: int | None = None
    stdout_closed: bool = False
    handshake_done: bool = False
    # The runner's answer to `initialize` (its name, version, capabilities), once it came.
    handshake_result: Any = None
    lines: int = 0
    answers: int = 0
    _next_id: int = 0
    _changed: anyio.Event = field(default_factory=anyio.Event)
    # Set by the launcher: queues a line for the runner's stdin.
    sender: Callable[[bytes], None] = field(default_factory=lambda: _discard)

    # --- sending -------------------------------------------------------------------------------

    def send_raw(self, line: bytes) -> None:
        self.sender(line + b"\n")

    def send(self, message: dict[str, Any]) -> None:
        self.send_raw(json.dumps(message, ensure_ascii=False).encode())

    def request(self, method: str, params: Any = msgspec.UNSET, msg_id: Any = None) -> Sent:
        if msg_id is None:
            self._next_id += 1
            msg_id = self._next_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not msgspec.UNSET:
            message["params"] = params
        sent = Sent(msg_id, method, params)
        self.sent[msg_id] = sent
        if method == "step.invoke" and isinstance(params, dict):
            self.active.add(str(params.get("invocationId")))
        self.send(message)
        return sent

    def track(self, msg_id: Any, method: str, params: Any) -> Sent:
        """Expect an answer to a request sent as a raw line."""
        sent = self.sent[msg_id] = Sent(msg_id, method, params)
        return sent

    def notify(self, method: str, params: Any = msgspec.UNSET) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not msgspec.UNSET:
            message["params"] = params
        self.send(message)

    def close_stdin(self) -> None:
        self.sender(CLOSE)

    # --- waiting -------------------------------------------------------------------------------

    async def wait(self, done: Callable[[], bool], what: str, timeout_s: float) -> None:
        """Until ``done()``; fails at once on a violation, and names why when it never comes."""
        with anyio.move_on_after(timeout_s):
            while True:
                self.raise_violation()
                if done():
                    return
                if self.stdout_closed and self.exit_code is not None:
                    raise ScenarioFailed(f"the runner exited with code {self.exit_code} while "
                                         f"the core waited for {what}{self.stderr_tail()}")
                await self._changed.wait()
        held = self.core.hold_status()
        raise ScenarioFailed(f"{what} did not come within {timeout_s:g}s"
                             + (f": {held}" if held else "") + self.stderr_tail())

    def raise_violation(self) -> None:
        if self.violations:
            raise ScenarioFailed(self.violations[0])

    def stderr_tail(self, lines: int = 3) -> str:
        tail = [line for line in self.stderr if line.strip()][-lines:]
        return f" (runner stderr: {' | '.join(tail)[:400]})" if tail else ""

    def wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # --- reading -------------------------------------------------------------------------------

    def on_line(self, raw: bytes) -> list[dict[str, Any]]:
        """Classify one stdout line; returns replies to send (answers to callbacks)."""
        self.lines += 1
        try:
            message = json.loads(raw)
        except ValueError:
            return self._violate(f"stdout line {self.lines} is not JSON: {_clip(raw)} (stdout "
                                 "belongs to the protocol: user output goes to stderr)")
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return self._violate(f"stdout line {self.lines} is not a JSON-RPC 2.0 object: "
                                 f"{_clip(raw)}")
        if "method" in message:
            if not self.handshake_done:
                return self._violate(f"the runner sent {message['method']!r} before answering "
                                     "initialize (nothing may come before the handshake answer)")
            return self._on_call(message) if "id" in message else self._on_notification(message)
        self._on_response(message, raw)
        return []

    def _violate(self, text: str) -> list[dict[str, Any]]:
        self.violations.append(text)
        return []

    def _on_response(self, message: dict[str, Any], raw: bytes) -> None:
        if ("result" in message) == ("error" in message):
            self._violate(f"stdout line {self.lines} has both or neither of result and error: "
                          f"{_clip(raw)}")
            return
        if "error" in message and (reason := _shape(message["error"], ErrorObject)):
            self._violate(f"error object of the answer to id {message.get('id')!r} does not "
                          f"match the protocol (ErrorObject): {reason}")
            return
        msg_id = message.get("id")
        sent = self.sent.get(msg_id) if isinstance(msg_id, (int, str)) else None
        if msg_id is None and "error" in message:
            self.null_responses.append(message)
        elif sent is None or sent.response is not None:
            self._violate(f"the runner answered id {msg_id!r}, which the core never sent or "
                          f"which was already answered: {_clip(raw)}")
            return
        else:
            self._on_answer(sent, message)

    def _on_answer(self, sent: Sent, message: dict[str, Any]) -> None:
        self.answers += 1
        sent.response, sent.answered_at = message, self.answers
        if sent.method == "initialize":
            self.handshake_done = True
            self.handshake_result = message.get("result")
        if sent.method == "step.invoke" and isinstance(sent.params, dict):
            invocation = str(sent.params.get("invocationId"))
            self.active.discard(invocation)
            self.ended.add(invocation)
        result_type = _RESULT_TYPES.get(sent.method)
        if "result" in message and result_type is not None:
            reason = _shape(message["result"], result_type)
            if reason:
                self._violate(f"{sent.method} result does not match the protocol "
                              f"({result_type.__name__}): {reason}; got "
                              f"{describe(message['result'])}")

    def _on_call(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        method, msg_id = message["method"], message["id"]
        params: Any = message.get("params")
        spec = METHODS.get(method)
        if spec is None or spec.direction == "core->runner" or spec.is_notification:
            self._violate(f"the runner called {method!r}, which is not a runner->core request "
                          "of protocol v1")
            return [{"jsonrpc": "2.0", "id": msg_id,
                     "error": {"code": -32601, "message": f"no method {method!r}"}}]
        assert spec.params is not None
        reason = _shape(params, spec.params)
        if reason:
            self._violate(f"{method} callback params do not match the protocol "
                          f"({spec.params.__name__}): {reason}; got {describe(params)}")
            return [{"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602,
                                                               "message": reason}}]
        invocation = str(params["invocationId"])  # validated above: an object with it
        live = invocation in self.active
        if not live:
            self._violate(
                f"{method} callback for invocation {invocation!r} arrived after its "
                "step.invoke was answered (the core refuses it: InvocationNotFound)"
                if invocation in self.ended else
                f"{method} callback names invocation {invocation!r}, which the core never "
                "started")
        replies = self.core.answer(Call(msg_id, method, params, invocation), live)
        return [reply.message() for reply in replies]

    def _on_notification(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        method = message["method"]
        params: Any = message.get("params")
        if method == "log":
            reason = _shape(params, METHODS["log"].params)
            if reason:
                return self._violate(f"log notification does not match the protocol "
                                     f"(LogParams): {reason}; got {describe(params)}")
            self.logs.append(params)
        elif method != "$/cancelRequest":
            self._violate(f"the runner sent the notification {method!r}, which protocol v1 "
                          "does not have")
        return []


def _discard(line: bytes) -> None:
    """The sender before the launcher has connected one."""


def _shape(value: Any, kind: Any) -> str | None:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        return str(exc)
    return None


def _clip(raw: bytes, limit: int = 120) -> str:
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")
