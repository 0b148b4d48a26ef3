"""The Workbench's JSON API under ``/__motia/api/`` and its live socket (docs/workbench-api.md).

Unlike the rest of ``http/``, this room reads the app's services (state, queue, streams, the
trace recorder), reached through :class:`WorkbenchSource`, a protocol the app wiring satisfies.
"""

from __future__ import annotations

from motia_core.workbench.api import API_PREFIX, workbench_routes
from motia_core.workbench.graph import endpoints, flow_graph, step_id
from motia_core.workbench.live import LiveHub
from motia_core.workbench.service import Workbench
from motia_core.workbench.source import WorkbenchSource

__all__ = (
    "API_PREFIX",
    "LiveHub",
    "Workbench",
    "WorkbenchSource",
    "endpoints",
    "flow_graph",
    "step_id",
    "workbench_routes",
)
