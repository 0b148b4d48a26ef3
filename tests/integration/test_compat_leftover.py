"""Issue 14, item 6: work a handler leaves running (a Python task, a Node timer, a Ruby thread).
The behaviour, one for every language: its ctx calls are accepted under the invocation's trace
and step for `leftover_work_s` seconds after the handler returned, and later ones are refused
with a message naming the step and what to do."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from motia_core.observability.logs import LogSink
from motia_core.testing import MotiaTestApp, require_runtime

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "compat-leftover"
# path suffix -> (runner, step name, the runtime it needs)
STEPS = {"py": ("python", "LeftoverPy", None), "ts": ("node", "LeftoverTs", "node"),
         "rb": ("ruby", "LeftoverRb", "ruby")}

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


class Records:
    """Every log record while the test runs, and a way to wait for one."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._arrived = anyio.Event()

    def __call__(self, record: dict[str, Any]) -> None:
        self.seen.append(record)
        self._arrived.set()

    async def wait_for(self, wanted: Callable[[dict[str, Any]], bool],
                       timeout_s: float = 10) -> dict[str, Any]:
        with anyio.fail_after(timeout_s):
            while True:
                for record in self.seen:
                    if wanted(record):
                        return record
                self._arrived = anyio.Event()
                await self._arrived.wait()


@pytest.fixture
def records() -> Iterator[Records]:
    sink = LogSink()
    collected = Records()
    sink.listeners.append(collected)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(sink)
    yield collected
    root.removeHandler(sink)
    root.setLevel(level)


@pytest.mark.parametrize("suffix", list(STEPS))
async def test_leftover_work_runs_under_the_trace_and_step(suffix: str,
                                                           records: Records) -> None:
    language, step, runtime = STEPS[suffix]
    if runtime:
        require_runtime(runtime)
    async with MotiaTestApp(PROJECT, strict=True, runners=sorted({language, "python"})) as app:
        response = await app.post(f"/leftover/{suffix}", json={})
        assert response.status == 202
        event = await app.wait_for_topic("leftover.done")
        assert event.trace_id == response.trace_id
        await app.settle()
        assert await app.state.get("leftover", language) == {"traceId": response.trace_id}
        done = await records.wait_for(lambda r: r["msg"] == "leftover work done")
    assert (done["traceId"], done["step"]) == (response.trace_id, step)


@pytest.mark.parametrize("suffix", list(STEPS))
async def test_a_call_later_than_leftover_work_s_is_refused_naming_the_step(
        suffix: str, records: Records) -> None:
    language, step, runtime = STEPS[suffix]
    if runtime:
        require_runtime(runtime)
    async with MotiaTestApp(PROJECT, strict=True, runners=sorted({language, "python"}),
                            leftover_work_s=0) as app:
        response = await app.post(f"/leftover/{suffix}", json={"delay_s": 0.05})
        assert response.status == 202
        refused = await records.wait_for(
            lambda r: "later than leftover_work_s = 0 s allows" in r["msg"])
        assert not [e for e in app.events if e.topic == "leftover.done"]
    assert f"step {step!r}" in refused["msg"]
    assert "await that work inside the handler" in refused["msg"]
    assert (refused["level"], refused["traceId"], refused["step"]) == (
        "error", response.trace_id, step)


@pytest.mark.parametrize(("suffix", "language", "file"), [
    ("py", "python", "stopped_step.py"), ("ts", "node", "stopped.step.ts")])
async def test_the_leftover_work_of_a_stopped_handler_is_refused(
        suffix: str, language: str, file: str, records: Records) -> None:
    if language == "node":
        require_runtime("node")
    step = f"Stopped{suffix.capitalize()}"
    async with MotiaTestApp(PROJECT, strict=True, runners=[language],
                            handler_timeout_s=0.1) as app:
        response = await app.post(f"/stopped/{suffix}", json={})
        assert response.status == 500
        refused = await records.wait_for(
            lambda r: "after it was stopped" in f"{r['msg']} {r.get('error')}")
        assert not [e for e in app.events if e.topic == "leftover.done"]
    said = f"{refused['msg']} {refused.get('error')}"
    assert f"step {step!r} ({file}) called ctx.emit after it was stopped" in said
    assert "emit an event and do it in an event step" in said
    assert (refused["traceId"], refused["step"]) == (response.trace_id, step)
