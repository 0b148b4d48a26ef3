"""Work a handler leaves running: its ctx calls after the handler returned.

The original Motia ran each invocation in a process of its own that exited when the handler
returned, so a task, timer or thread the handler started and did not await never ran. Here the
runner process lives on and so does that work. The behaviour chosen, the same for every
language: its ctx calls (state, emit, streams, logger) are accepted under the invocation's trace
and step for ``leftover_work_s`` seconds after the handler returned (60 by default; 0 refuses
them), and its log lines carry the trace id and the step while the invocation is remembered.
A call later than that is refused with a message naming the step and what to do.

The most recent ended invocations are remembered (a bounded number), so even a refused call can
name its step.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from motia_core.project.steps import Step
from motia_core.protocol.errors import InvocationNotFound

__all__ = ("DEFAULT_LEFTOVER_WORK_S", "EndedInvocations")

DEFAULT_LEFTOVER_WORK_S = 60.0
# Ended invocations remembered at most; at a few hundred bytes each, a few MB. Under a load that
# ends more than this many within leftover_work_s, the oldest are forgotten early.
_REMEMBERED = 50_000


class _Ended(Protocol):
    """What is read of an ended invocation here (the invoker's ActiveInvocation)."""

    @property
    def id(self) -> str: ...

    @property
    def step(self) -> Step: ...


ActiveInvocation = TypeVar("ActiveInvocation", bound=_Ended)


class EndedInvocations(Generic[ActiveInvocation]):
    """The invocations that ended lately, for the ctx calls of work their handlers left."""

    def __init__(self, leftover_work_s: float = DEFAULT_LEFTOVER_WORK_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.leftover_work_s = leftover_work_s
        self._clock = clock
        # id -> (invocation, when it ended, whether its handler was stopped)
        self._ended: OrderedDict[str, tuple[ActiveInvocation, float, bool]] = OrderedDict()

    def add(self, invocation: ActiveInvocation, *, stopped: bool = False) -> None:
        """Remember an ended invocation; ``stopped``: its handler timed out, was cancelled or
        lost its runner, so whatever it left running is refused at once."""
        ended = self._ended
        ended[invocation.id] = (invocation, self._clock(), stopped)
        if len(ended) > _REMEMBERED:
            ended.popitem(last=False)

    def find(self, invocation_id: str) -> ActiveInvocation | None:
        """The ended invocation, however long ago (for attributing a log line)."""
        found = self._ended.get(invocation_id)
        return found[0] if found is not None else None

    def accept(self, invocation_id: str, method: str) -> ActiveInvocation:
        """The ended invocation whose leftover work makes this call, or InvocationNotFound
        saying, in a step author's words, which step called too late and what to do."""
        found = self._ended.get(invocation_id)
        if found is None:
            raise InvocationNotFound(
                f"ctx.{method}: invocation {invocation_id!r} is not running: it ended (work a "
                f"handler leaves running may call ctx for {self.leftover_work_s:g} s after the "
                "handler returns, the setting leftover_work_s) or never existed. Await such "
                "work inside the handler, or emit an event and do it in an event step. (A "
                "runner sends callbacks only for invocations the core started.)")
        invocation, ended_at, stopped = found
        step = invocation.step
        if stopped:
            raise InvocationNotFound(
                f"step {step.name!r} ({Path(step.file).name}) called ctx.{method} after it was "
                "stopped (its time ran out, it was cancelled, or its runner went away): stop "
                "that work when the handler stops, or emit an event and do it in an event step")
        age_s = self._clock() - ended_at
        if age_s <= self.leftover_work_s:
            return invocation
        raise InvocationNotFound(
            f"step {step.name!r} ({Path(step.file).name}) called ctx.{method} {age_s:.1f} s after "
            f"its handler returned, later than leftover_work_s = {self.leftover_work_s:g} s "
            "allows: await that work inside the handler, or emit an event and do it in an event "
            "step (or raise leftover_work_s in motia.toml)")
