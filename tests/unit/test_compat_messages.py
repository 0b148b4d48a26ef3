"""The step author's messages of issue 14: what a missing variable's hint says (`.env`), and
when work a handler left running may still call ctx (leftover_work_s), on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from motia_core.dotenv import load_hint, read_dotenv, with_dotenv
from motia_core.project.steps import parse_step
from motia_core.protocol.errors import InvocationNotFound
from motia_core.runtime.invocation import ActiveInvocation
from motia_core.runtime.leftover import EndedInvocations

STEP = parse_step("/p/steps/escalate_step.py", "python",
                  {"type": "event", "name": "Escalate", "subscribes": ["t"], "emits": []}, True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ended(clock: Clock, leftover_work_s: float = 60) -> EndedInvocations:
    return EndedInvocations(leftover_work_s, clock=clock)


def invocation(inv_id: str = "i1") -> ActiveInvocation:
    return ActiveInvocation(inv_id, STEP, "TRACE", "SPAN")


def test_leftover_calls_are_accepted_until_leftover_work_s_then_name_the_step() -> None:
    clock = Clock()
    memory = ended(clock)
    memory.add(invocation())
    clock.now += 60
    assert memory.accept("i1", "emit").trace_id == "TRACE"
    clock.now += 0.5
    with pytest.raises(InvocationNotFound) as refused:
        memory.accept("i1", "state.set")
    assert str(refused.value.message) == (
        "step 'Escalate' (escalate_step.py) called ctx.state.set 60.5 s after its handler "
        "returned, later than leftover_work_s = 60 s allows: await that work inside the handler, "
        "or emit an event and do it in an event step (or raise leftover_work_s in motia.toml)")
    assert memory.find("i1") is not None  # its log lines still name the step


def test_a_stopped_invocation_refuses_at_once_and_an_unknown_one_says_both_causes() -> None:
    clock = Clock()
    memory = ended(clock)
    memory.add(invocation("stopped"), stopped=True)
    with pytest.raises(InvocationNotFound, match=r"^step 'Escalate' \(escalate_step.py\) "
                       r"called ctx.emit after it was stopped"):
        memory.accept("stopped", "emit")
    with pytest.raises(InvocationNotFound) as unknown:
        memory.accept("never", "emit")
    assert "ctx.emit: invocation 'never' is not running" in unknown.value.message
    assert "Await such work inside the handler" in unknown.value.message


def test_only_the_most_recent_ended_invocations_are_remembered() -> None:
    memory = ended(Clock())
    for i in range(50_001):
        memory.add(invocation(f"i{i}"))
    assert memory.find("i0") is None and memory.find("i1") is not None


# --- .env ----------------------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    "Error: API_KEY environment variable is required",
    "KeyError: 'API_KEY'",
    "KeyError: key not found: \"API_KEY\"",
    "TypeError: cannot read process.env.API_KEY",
    "missing env variable 'API_KEY'",
])
def test_a_missing_variable_is_named_with_where_to_put_it(message: str, tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert load_hint(tmp_path, message, environ) == (
        "API_KEY is not set: set it in the environment or in a .env file in the project root "
        "(motia loads it for every runner)")
    (tmp_path / ".env").write_text("OTHER=1\n")
    assert load_hint(tmp_path, message, environ).startswith(
        "the project's .env has no API_KEY: add `API_KEY=...` to it")


def test_other_load_errors_get_no_dotenv_hint(tmp_path: Path) -> None:
    assert load_hint(tmp_path, "SyntaxError: invalid syntax (x_step.py, line 3)", {}) == ""


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('A="from file"\nB=file\nBARE\n# comment\nC=x${A}\n')
    assert read_dotenv(tmp_path) == {"A": "from file", "B": "file", "C": "x${A}"}
    assert with_dotenv(tmp_path, {"B": "env"}) == {"A": "from file", "B": "env", "C": "x${A}"}
