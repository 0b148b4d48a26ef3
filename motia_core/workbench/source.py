"""What the Workbench API reads and changes: the running app, as a protocol.

The app wiring satisfies it (``motia_core.app.App``); the API never imports the app, so the
dependency points downward, from the wiring to this room.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from motia_core.events import QueueAdapter
from motia_core.observability import Recorder
from motia_core.project.steps import Step
from motia_core.runners import RunnerPool
from motia_core.state import StateAdapter
from motia_core.streams import StreamStore

__all__ = ("WorkbenchSource",)


class WorkbenchSource(Protocol):
    @property
    def mode(self) -> str:
        """``"dev"`` or ``"start"``."""
        ...

    @property
    def project_root(self) -> Path: ...

    @property
    def started_ms(self) -> int: ...

    @property
    def recorder(self) -> Recorder: ...

    @property
    def state(self) -> StateAdapter: ...

    @property
    def stream_store(self) -> StreamStore: ...

    @property
    def queue(self) -> QueueAdapter: ...

    @property
    def pools(self) -> Mapping[str, RunnerPool]: ...

    def steps(self) -> Sequence[Step]:
        """The valid steps being served."""
        ...

    def step_errors(self) -> Mapping[str, Sequence[str]]:
        """File -> why it did not load."""
        ...

    def stream_names(self) -> list[str]: ...

    def run_cron(self, step: Step, trace_id: str) -> None:
        """Start one tick of ``step`` under ``trace_id`` in the background."""
        ...
