"""Which runners a project's files need whose command is not installed (`motia doctor`,
`motia runners list`). Here rather than in ``runners/``: it asks discovery which files each
language has, and the project sits above the runners.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motia_core.project.model import discover
from motia_core.runners import RunnerRegistry, RunnerSpec

__all__ = ("MissingRuntime", "missing_runtimes")


@dataclass(frozen=True)
class MissingRuntime:
    """A runner whose command is not installed, and the project files that need it."""

    spec: RunnerSpec
    executable: str
    files: tuple[str, ...]  # relative to the project root

    @property
    def message(self) -> str:
        shown = ", ".join(self.files[:5]) + (f" and {len(self.files) - 5} more"
                                              if len(self.files) > 5 else "")
        hint = self.spec.install_hint or f"install {self.executable!r} or fix the runner's " \
            f"command ({self.spec.source})"
        return (f"the {self.spec.language} runner needs {self.executable!r}, which is not "
                f"installed; {len(self.files)} step file(s) need it: {shown}. Fix: {hint}")


def missing_runtimes(project_root: Path, registry: RunnerRegistry) -> list[MissingRuntime]:
    """Every runner the project's files need whose command is absent."""
    found = discover(project_root, {spec.language: spec.patterns for spec in registry})
    missing = []
    for spec in registry:
        files = found.files_by_language.get(spec.language, [])
        if files and not spec.executable_present(project_root):
            relative = tuple(str(Path(f).relative_to(project_root)) if Path(f).is_relative_to(
                project_root) else f for f in files)
            missing.append(MissingRuntime(spec, spec.argv(project_root)[0], relative))
    return missing
