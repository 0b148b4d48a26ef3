"""The project: which files are steps and streams (discovery), their typed configs and the checks
that build them, loading them into the runners, the project model built from what the runners
report, and the TypeScript types generated from it. Above the runners, below the runtime.
"""

from motia_core.project.model import (
    SCANNED_DIRS,
    SKIPPED_DIRS,
    ApiRoute,
    Discovery,
    Project,
    discover,
)

__all__ = ("SCANNED_DIRS", "SKIPPED_DIRS", "ApiRoute", "Discovery", "Project", "discover")
