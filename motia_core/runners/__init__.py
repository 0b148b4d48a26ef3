"""Language runners: specs and their registry, supervised processes, and pools."""

from motia_core.runners.pool import RunnerPool
from motia_core.runners.process import RunnerProcess, SupervisorSettings
from motia_core.runners.spec import RunnerRegistry, RunnerSpec, UnknownRunner
from motia_core.runners.states import RunnerState, ShutdownRung

__all__ = (
    "RunnerPool",
    "RunnerProcess",
    "RunnerRegistry",
    "RunnerSpec",
    "RunnerState",
    "ShutdownRung",
    "SupervisorSettings",
    "UnknownRunner",
)
