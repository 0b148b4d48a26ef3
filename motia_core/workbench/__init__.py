"""The Workbench: its JSON API under ``/__motia/api/`` and live socket (docs/workbench-api.md),
and its web UI at ``/__motia/`` (``ui``: the files built from ``workbench/`` into ``static/``).

It reads the app's services (state, queue, streams, the trace recorder) through
:class:`WorkbenchSource`, a protocol the app wiring satisfies, so it sits above ``http`` and
``streams`` and below ``runtime``.
"""

from __future__ import annotations

from motia_core.workbench.api import API_PREFIX, workbench_routes
from motia_core.workbench.graph import endpoints, flow_graph, step_id
from motia_core.workbench.live import LiveHub
from motia_core.workbench.service import Workbench
from motia_core.workbench.source import WorkbenchSource
from motia_core.workbench.ui import redirect_to_workbench, workbench_ui_routes

__all__ = (
    "API_PREFIX",
    "LiveHub",
    "Workbench",
    "WorkbenchSource",
    "endpoints",
    "flow_graph",
    "redirect_to_workbench",
    "step_id",
    "workbench_routes",
    "workbench_ui_routes",
)
