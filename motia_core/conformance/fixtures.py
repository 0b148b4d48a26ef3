"""Fixture steps: one folder per language, the same behaviours under the same logical names.

A scenario names a step by its logical name (``event_echo``); each language's folder
(``protocol/conformance/steps/<language>/``) has a file for it in that language's own naming:
``event_echo_step.py``, ``event_echo.step.rb``, ``event_echo.step.ts``, ``event_echo.step.pl``.
The logical name is the file name up to its first dot, without a trailing ``_step`` or
``_stream``. The kit copies the folder into a fresh project (``<tmp>/steps/``), because the
launch contract makes the project root the runner's cwd and some runners write caches there.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motia_core.runners.spec import runners_dir

__all__ = ("FixtureError", "Fixtures", "conformance_dir", "logical_name", "substitute")

_PLACEHOLDER = re.compile(r"\$\{(step|project|pad):?([^}]*)\}")
_SUFFIXES = ("_step", "_stream")


class FixtureError(LookupError):
    """A scenario names a fixture step this language's folder does not have."""


def conformance_dir() -> Path:
    """The kit's data: the wheel's bundled copy, else the repository's protocol/conformance."""
    bundled = Path(__file__).resolve().parent.parent / "_conformance"
    if bundled.is_dir():
        return bundled
    return runners_dir().parent / "protocol" / "conformance"


def logical_name(file_name: str) -> str:
    stem = file_name.split(".", 1)[0]
    for suffix in _SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


@dataclass(frozen=True)
class Fixtures:
    """A language's fixture steps, copied into ``project`` (the runner's project root)."""

    language: str
    source: Path
    project: Path
    files: Mapping[str, Path]

    @classmethod
    def install(cls, language: str, source: Path, project: Path) -> Fixtures:
        if not source.is_dir():
            raise FixtureError(
                f"no fixture steps for {language!r}: {source} is not a folder. Write the "
                f"kit's fixture steps in {language} there (see protocol/README.md), or pass "
                "--fixtures DIR"
            )
        steps = project / "steps"
        shutil.copytree(source, steps, dirs_exist_ok=True)
        files: dict[str, Path] = {}
        for path in sorted(steps.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                files.setdefault(logical_name(path.name), path)
        return cls(language, source, project, files)

    def path(self, name: str) -> str:
        try:
            return str(self.files[name])
        except KeyError:
            raise FixtureError(
                f"fixture step {name!r} is missing for {self.language}: expected a file named "
                f"{name}<its pattern> (e.g. {name}.step.xx or {name}_step.xx) in {self.source}"
            ) from None


def substitute(value: Any, fixtures: Fixtures) -> Any:
    """Replace ``${step:NAME}`` with the fixture's absolute path, ``${project}`` with the
    project root and ``${pad:N}`` with N letters "p" (for oversized lines), in every string of
    a JSON value."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: _one(m, fixtures), value)
    if isinstance(value, list):
        return [substitute(v, fixtures) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, fixtures) for k, v in value.items()}
    return value


def _one(match: re.Match[str], fixtures: Fixtures) -> str:
    kind, arg = match.group(1), match.group(2)
    if kind == "step":
        return fixtures.path(arg)
    if kind == "pad":
        return "p" * int(arg)
    return str(fixtures.project)
