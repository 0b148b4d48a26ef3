"""The runner state machine: every allowed transition, and a clear refusal for the others."""

from __future__ import annotations

import pytest

from motia_core.runners.states import InvalidTransition, RunnerState, check_transition

S = RunnerState
ALLOWED = {
    (S.STOPPED, S.STARTING), (S.BACKOFF, S.STARTING), (S.FATAL, S.STARTING),
    (S.READY, S.STARTING),  # a requested, graceful restart
    (S.STARTING, S.READY), (S.STARTING, S.BACKOFF), (S.READY, S.BACKOFF),
    (S.BACKOFF, S.FATAL),
    (S.STARTING, S.STOPPING), (S.READY, S.STOPPING), (S.BACKOFF, S.STOPPING),
    (S.FATAL, S.STOPPING), (S.STOPPING, S.STOPPED),
}


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_transitions(old: RunnerState, new: RunnerState) -> None:
    if (old, new) in ALLOWED:
        check_transition("python#0", old, new)
        return
    with pytest.raises(InvalidTransition) as info:
        check_transition("python#0", old, new)
    message = str(info.value)
    assert "python#0" in message and repr(old.value) in message and repr(new.value) in message
