"""The core's half of a scenario: answers a runner's callbacks and remembers what it was asked.

By default it behaves like a small real core: state and streams live in dicts, ``emit`` is
accepted. A scenario's script (``core.answers``) overrides that for callbacks that match, with a
result or an error, and ``core.hold`` withholds answers until enough callbacks have arrived,
which only a runner with that many invocations in flight can provoke. Like the real core it
refuses callbacks for an invocation that is not running (``InvocationNotFound``) and calls
that a violation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from motia_core.conformance.matchers import mismatch
from motia_core.conformance.scenarios import UNSET, CoreScript

__all__ = ("Call", "FakeCore", "Reply")


@dataclass
class Call:
    """One callback (runner -> core request) as received."""

    id: Any
    method: str
    params: Any
    invocation: str | None = None


@dataclass(frozen=True)
class Reply:
    id: Any
    result: Any = None
    error: dict[str, Any] | None = None

    def message(self) -> dict[str, Any]:
        body = {"error": self.error} if self.error is not None else {"result": self.result}
        return {"jsonrpc": "2.0", "id": self.id, **body}


@dataclass
class FakeCore:
    script: CoreScript
    # Applied to scripted answers before they go out (fixture paths, the project root).
    substitute: Callable[[Any], Any] = lambda value: value
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    streams: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    held: list[tuple[Call, Reply]] = field(default_factory=list)
    held_total: int = 0

    def answer(self, call: Call, live: bool) -> list[Reply]:
        """The replies to send now: this call's, or none while it is held, or every held one
        once the hold is full. ``live``: the call names an invocation that is running."""
        self.calls.append(call)
        if not live:
            return [Reply(call.id, error={"code": -32009, "message": (
                f"Invocation not found: {call.invocation!r} is not running")})]
        reply = self._scripted(call) or self._serve(call)
        hold = self.script.hold
        if hold is None or call.method != hold.method or self.held_total >= hold.until:
            return [reply]
        self.held.append((call, reply))
        self.held_total += 1
        if self.held_total < hold.until:
            return []
        released = [r for _, r in self.held]
        self.held.clear()
        return released[::-1] if hold.release == "reverse" else released

    def hold_status(self) -> str | None:
        """Why answers are still being held, for a scenario that timed out."""
        hold = self.script.hold
        if hold is None or not self.held:
            return None
        return (f"the core holds its answers to {hold.method} until {hold.until} calls are in "
                f"flight at once; only {len(self.held)} arrived, so the runner does not run "
                f"{hold.until} invocations concurrently")

    def _scripted(self, call: Call) -> Reply | None:
        for answer in self.script.answers:
            if answer.method == call.method and \
                    mismatch(self.substitute(answer.params), call.params) is None:
                if answer.error is not None:
                    return Reply(call.id, error=self.substitute(answer.error))
                result = None if answer.result is UNSET else answer.result
                return Reply(call.id, result=self.substitute(result))
        return None

    def _serve(self, call: Call) -> Reply:
        method, p = call.method, call.params
        if method == "emit":
            return Reply(call.id, None)
        if method.startswith("state."):
            return Reply(call.id, self._state(method, p))
        if method.startswith("streams."):
            return Reply(call.id, self._stream(method, p))
        if method == "body.validate":  # every body fits, unless a scenario's script says not
            return Reply(call.id, None)
        return Reply(call.id, error={"code": -32601, "message": f"{method!r} is not a method "
                                     "the core serves (protocol v1)"})

    def _state(self, method: str, p: dict[str, Any]) -> Any:
        group = self.state.setdefault(p["group"], {})
        if method == "state.get":
            return group.get(p["key"])
        if method == "state.set":
            group[p["key"]] = p.get("value")
            return p.get("value")
        if method == "state.delete":
            return group.pop(p["key"], None)
        if method == "state.getGroup":
            return list(group.values())
        group.clear()  # state.clear
        return None

    def _stream(self, method: str, p: dict[str, Any]) -> Any:
        if method == "streams.send":
            return None
        items = self.streams.setdefault((p["stream"], p["group"]), {})
        if method == "streams.get":
            return items.get(p["id"])
        if method == "streams.set":
            data = p.get("data")
            items[p["id"]] = {**data, "id": p["id"]} if isinstance(data, dict) else data
            return items[p["id"]]
        if method == "streams.delete":
            return items.pop(p["id"], None)
        return list(items.values())  # streams.getGroup
