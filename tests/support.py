"""Test helpers shared by the suites: a stand-in for the core's services behind the runners."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio

from motia_core import protocol as p
from motia_core.runners.spec import RunnerSpec

FIXTURES = Path(__file__).parent / "fixtures"


class FakeCore:
    """Answers a runner's callbacks from plain dicts and records what it was asked."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, str], Any] = {}
        self.emits: list[p.EmitParams] = []
        self.logs: list[p.LogParams] = []
        self.calls: list[str] = []

    async def __call__(self, method: str, params: Any) -> Any:
        self.calls.append(method)
        if isinstance(params, p.StateSetParams):
            self.state[(params.group, params.key)] = params.value
            return params.value
        if method == "state.get":
            return self.state.get((params.group, params.key))
        if method == "state.delete":
            return self.state.pop((params.group, params.key), None)
        if method == "state.getGroup":
            return [v for (g, _), v in self.state.items() if g == params.group]
        if method == "state.clear":
            for key in [k for k in self.state if k[0] == params.group]:
                del self.state[key]
            return None
        if isinstance(params, p.EmitParams):
            self.emits.append(params)
            return None
        if isinstance(params, p.LogParams):
            self.logs.append(params)
            return None
        raise NotImplementedError(method)


def broken_spec(mode: str, **env: str) -> RunnerSpec:
    return RunnerSpec(
        language="broken",
        command=(sys.executable, str(FIXTURES / "runners" / "broken_runner.py")),
        patterns=("_step.broken",),
        env={"BROKEN_MODE": mode, **env},
        source="test",
    )


def invoke_params(file: str, input: Any = None, trigger: p.TriggerKind = "event",
                  invocation_id: str = "inv-1") -> p.InvokeParams:
    return p.InvokeParams(
        invocation_id=invocation_id,
        file=file,
        trigger=trigger,
        input=input,
        trace=p.TraceContext(trace_id="trace-1", span_id="span-1"),
    )


class Peer:
    """A stream client's socket that records the frames it is sent."""

    def __init__(self, expected: int) -> None:
        self.frames: list[dict[str, Any]] = []
        self.expected = expected
        self.done = anyio.Event()

    def send_now(self, frame: bytes) -> bool:
        self.frames.append(json.loads(frame))
        if len(self.frames) >= self.expected:
            self.done.set()
        return True

    async def send(self, frame: bytes) -> None:
        self.send_now(frame)

    async def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"closed: {code} {reason}")
