"""What the app serves right now: the runner pools and the project they loaded.

One explicit object shared by the app, its triggers and the reloader, instead of the app itself:
the triggers read it (which runner evaluates a stream's canAccess), the app fills it at start-up
and the reloader replaces the discovery after each reload. Nothing here imports the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from motia_core.project import Discovery, Project
from motia_core.project.loading import stream_names
from motia_core.runners import RunnerPool

__all__ = ("Serving",)


@dataclass
class Serving:
    # language -> its pool; the invoker holds the same dict, so a pool added here is invocable.
    pools: dict[str, RunnerPool] = field(default_factory=dict)
    discovery: Discovery | None = None
    project: Project | None = None
    # The stream names the runners were last told (a reload tells them again when these change).
    streams_sent: list[str] = field(default_factory=list)
    # language -> why its runner did not start
    skipped: dict[str, str] = field(default_factory=dict)

    def stream_names(self) -> list[str]:
        """Every stream some runner has loaded, whatever its language."""
        return stream_names(self.pools, self.discovery) if self.discovery is not None else []
