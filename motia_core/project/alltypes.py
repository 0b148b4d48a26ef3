"""Which generated types files a project gets: one per language its steps are written in.

``types.d.ts`` (TypeScript, :mod:`~motia_core.project.typegen`), ``motia_types.py`` (Python,
:mod:`~motia_core.project.pytypes`) and ``sig/motia_types.rbs`` (Ruby,
:mod:`~motia_core.project.rbstypes`), all from the same configs, so a step in any language is
checked against the schemas of the steps it talks to, whatever theirs is written in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from motia_core.project import Project
from motia_core.project.pytypes import PYTHON_TYPES_FILE, generate_python_types
from motia_core.project.rbstypes import RBS_TYPES_FILE, generate_rbs_types
from motia_core.project.typegen import TYPES_FILE, GeneratedTypes, generate_types

__all__ = ("GENERATED_FILES", "generate_for")

# Language -> (the file, relative to the project root; its generator).
GENERATED_FILES: dict[str, tuple[str, Callable[[Project], GeneratedTypes]]] = {
    "node": (TYPES_FILE, generate_types),
    "python": (PYTHON_TYPES_FILE, generate_python_types),
    "ruby": (RBS_TYPES_FILE, generate_rbs_types),
}


def generate_for(project: Project, languages: Collection[str]) -> dict[str, GeneratedTypes]:
    """Relative file -> its generated text, for each of ``languages`` that has a generator."""
    return {file: generate(project) for language, (file, generate) in GENERATED_FILES.items()
            if language in languages}
