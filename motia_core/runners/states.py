"""The runner lifecycle as an explicit state machine. Imports nothing from the package.

    STOPPED -> STARTING -> READY  (-> STARTING again on a requested restart)
                  |          |  (crash, broken protocol)
                  v          v
                BACKOFF <----+ -> STARTING again, or FATAL after too many quick failures
    any live state -> STOPPING -> STOPPED
"""

from __future__ import annotations

import enum

__all__ = ("InvalidTransition", "RunnerState", "ShutdownRung", "check_transition")


class RunnerState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    FATAL = "fatal"


# new state -> the states it may be entered from
_ALLOWED_FROM: dict[RunnerState, frozenset[RunnerState]] = {
    # From READY only through a requested restart (a graceful replacement, not a failure).
    RunnerState.STARTING: frozenset(
        {RunnerState.STOPPED, RunnerState.BACKOFF, RunnerState.FATAL, RunnerState.READY}
    ),
    RunnerState.READY: frozenset({RunnerState.STARTING}),
    RunnerState.BACKOFF: frozenset({RunnerState.STARTING, RunnerState.READY}),
    RunnerState.FATAL: frozenset({RunnerState.BACKOFF}),
    RunnerState.STOPPING: frozenset(
        {RunnerState.STARTING, RunnerState.READY, RunnerState.BACKOFF, RunnerState.FATAL}
    ),
    RunnerState.STOPPED: frozenset({RunnerState.STOPPING}),
}


class InvalidTransition(RuntimeError):
    """A runner was asked to move between two states that are not connected."""


def check_transition(name: str, old: RunnerState, new: RunnerState) -> None:
    allowed = _ALLOWED_FROM[new]
    if old not in allowed:
        froms = ", ".join(sorted(s.value for s in allowed))
        raise InvalidTransition(
            f"runner {name!r} cannot go from {old.value!r} to {new.value!r}; "
            f"{new.value!r} is entered only from: {froms}"
        )


class ShutdownRung(enum.Enum):
    """How far the shutdown ladder had to go."""

    POLITE = "polite"  # answered `shutdown` and exited on `exit`
    TERMINATED = "terminated"  # needed SIGTERM to its process group
    KILLED = "killed"  # needed SIGKILL
    ALREADY_EXITED = "already-exited"  # there was no process to stop
