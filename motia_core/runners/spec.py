"""Runner specs (data: which command serves which files) and the registry that holds them.

A spec is a small typed record: an argv template, env additions, the file-name endings it serves.
``${VAR}`` in argv and env is substituted from: ``python`` (the interpreter for Python steps),
``runners`` (this package's runner folder), ``project`` (the project root), then the environment.
Built-in specs cover Python, Node and Ruby; installed packages add more through the
``motia.runners`` entry-point group, and a project can register its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from string import Template

from motia_core.dotenv import with_dotenv

__all__ = (
    "ENTRY_POINT_GROUP",
    "RunnerRegistry",
    "RunnerSpec",
    "UnknownRunner",
    "builtin_specs",
    "python_executable",
    "runners_dir",
)

ENTRY_POINT_GROUP = "motia.runners"


class UnknownRunner(LookupError):
    """No runner is registered for that language."""


def runners_dir() -> Path:
    """Where the bundled runners live: the repository's runners/ or the wheel's copy."""
    here = Path(__file__).resolve().parent.parent  # motia_core/
    bundled = here / "_runners"
    return bundled if bundled.is_dir() else here.parent / "runners"


def python_executable(project_root: Path) -> str:
    """The interpreter that runs the project's Python steps: the project's own venv if it has one.

    Order: $MOTIA_PYTHON, <project>/python_modules (Motia's venv), <project>/.venv, then the
    interpreter running the core.
    """
    explicit = os.environ.get("MOTIA_PYTHON")
    if explicit:
        return explicit
    for venv in ("python_modules", ".venv"):
        candidate = project_root / venv / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return sys.executable


@dataclass(frozen=True)
class RunnerSpec:
    language: str
    command: tuple[str, ...]
    # File-name endings this runner loads, e.g. "_step.py".
    patterns: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    # Where the spec came from: "built-in", "entry point <dist>:<name>", "project".
    source: str = "built-in"
    # How to get the runtime when its command is missing.
    install_hint: str = ""

    def serves(self, path: str | Path) -> bool:
        name = Path(path).name
        return any(name.endswith(p) for p in self.patterns)

    def _variables(self, project_root: Path) -> dict[str, str]:
        return {
            **os.environ,
            "python": python_executable(project_root),
            "runners": str(runners_dir()),
            "project": str(project_root),
        }

    def argv(self, project_root: Path) -> list[str]:
        variables = self._variables(project_root)
        return [Template(part).safe_substitute(variables) for part in self.command]

    def environment(self, project_root: Path, runner_name: str) -> dict[str, str]:
        variables = self._variables(project_root)
        env = with_dotenv(project_root)  # the project's .env under the real environment
        for key, value in self.env.items():
            env[key] = Template(value).safe_substitute(variables)
        env["MOTIA_PROJECT_ROOT"] = str(project_root)
        env["MOTIA_PROTOCOL_VERSION"] = "1"
        env["MOTIA_RUNNER"] = runner_name
        return env

    def executable_present(self, project_root: Path) -> bool:
        exe = self.argv(project_root)[0]
        return bool(shutil.which(exe)) or Path(exe).is_file()


def builtin_specs() -> list[RunnerSpec]:
    return [
        RunnerSpec(
            language="python",
            command=("${python}", "-m", "motia_runner"),
            patterns=("_step.py", ".step.py", "_stream.py", ".stream.py"),
            env={"PYTHONPATH": _prepend("${project}", "${runners}/python", "PYTHONPATH")},
            install_hint="install Python 3.10 or newer, or point MOTIA_PYTHON at an interpreter",
        ),
        RunnerSpec(
            language="node",
            command=("node", "${runners}/node/runner.mjs"),
            patterns=(".step.ts", "_step.ts", ".step.js", "_step.js",
                      ".stream.ts", "_stream.ts", ".stream.js", "_stream.js"),
            install_hint="install Node.js 20.6 or newer (Debian: apt-get install nodejs npm), "
                         "then the runner's own packages: npm ci in motia-core's runners/node",
        ),
        RunnerSpec(
            language="ruby",
            command=("ruby", "${runners}/ruby/runner.rb"),
            patterns=(".step.rb", "_step.rb", ".stream.rb", "_stream.rb"),
            install_hint="install Ruby 3 (Debian: apt-get install ruby)",
        ),
    ]


def _prepend(first: str, second: str, var: str) -> str:
    existing = os.environ.get(var)
    parts = [first, second] + ([existing] if existing else [])
    return os.pathsep.join(parts)


class RunnerRegistry:
    """Language name -> spec. Later registrations of a language replace earlier ones."""

    def __init__(self, specs: Iterable[RunnerSpec] = ()) -> None:
        self._specs: dict[str, RunnerSpec] = {}
        for spec in specs:
            self.register(spec)

    @classmethod
    def default(cls) -> RunnerRegistry:
        """Built-ins, then whatever installed packages register through entry points."""
        registry = cls(builtin_specs())
        registry.load_entry_points()
        return registry

    def register(self, spec: RunnerSpec) -> None:
        self._specs[spec.language] = spec

    def load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            factory: Callable[[], RunnerSpec] = ep.load()
            spec = factory()
            if not isinstance(spec, RunnerSpec):
                raise TypeError(
                    f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r} returned "
                    f"{type(spec).__name__}, expected motia_core.runners.RunnerSpec"
                )
            dist = ep.dist.name if ep.dist else "?"
            self.register(replace(spec, source=f"entry point {dist}:{ep.name}"))

    def get(self, language: str) -> RunnerSpec:
        try:
            return self._specs[language]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise UnknownRunner(
                f"no runner registered for {language!r}; known runners: {known}"
            ) from None

    def for_file(self, path: str | Path) -> RunnerSpec | None:
        for spec in self._specs.values():
            if spec.serves(path):
                return spec
        return None

    def __iter__(self) -> Iterator[RunnerSpec]:
        return iter(self._specs.values())

    def __contains__(self, language: object) -> bool:
        return language in self._specs

