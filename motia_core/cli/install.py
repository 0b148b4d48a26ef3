"""`motia install`: the project's Python environment, with its `requirements.txt` installed.

Projects created by the original Motia run ``motia install`` from npm's ``postinstall``: it made
the virtual environment ``python_modules/`` and installed ``requirements.txt`` into it. The
Python runner already picks up ``python_modules/`` (then ``.venv/``, see
:func:`motia_core.runners.spec.python_executable`); this module creates or reuses it, installs
the requirements with the environment's own pip, and leaves a stamp (the requirements file's
hash) so that :func:`environment_status` (``motia doctor``) can tell a missing environment from
a stale one. It only ever installs into a virtual environment, never into a system Python.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ("REQUIREMENTS_FILE", "EnvironmentStatus", "InstallError", "PythonEnvironment",
           "environment_status", "install", "locate")

REQUIREMENTS_FILE = "requirements.txt"
# Written into the environment after a successful install: what it was installed from.
_STAMP = ".motia-install.json"
# The environments the Python runner looks for in the project, in its order.
_PROJECT_VENVS = ("python_modules", ".venv")
_PIP_TIMEOUT_S = 1800
_TAIL_LINES = 25


class InstallError(Exception):
    """`motia install` could not do its job; the message says why and what to do."""


@dataclass(frozen=True)
class PythonEnvironment:
    path: Path
    # Where it came from: "--venv", "MOTIA_PYTHON", "python_modules", ".venv" or "new".
    source: str

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def exists(self) -> bool:
        return (self.path / "pyvenv.cfg").is_file() and self.python.exists()

    def shown(self, root: Path) -> str:
        try:
            return f"{self.path.relative_to(root)}/"
        except ValueError:
            return f"{self.path}/"


@dataclass(frozen=True)
class EnvironmentStatus:
    # "ok", "missing", "stale", or "none" (no requirements.txt: nothing to install).
    status: str
    environment: str | None
    fix: str | None = None


def _requirements_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def locate(project_root: Path, venv: Path | None = None,
           environ: Mapping[str, str] = os.environ) -> PythonEnvironment:
    """The environment to install into: ``venv`` when given, else the one MOTIA_PYTHON runs
    in, else the project's ``python_modules/`` or ``.venv/``, else a new ``python_modules/``."""
    if venv is not None:
        return PythonEnvironment(venv.absolute(), "--venv")
    explicit = environ.get("MOTIA_PYTHON")
    if explicit:
        home = Path(explicit).absolute().parent.parent
        if not (home / "pyvenv.cfg").is_file():
            raise InstallError(
                f"MOTIA_PYTHON={explicit} is not the interpreter of a virtual environment, and "
                "motia install only installs into one: unset MOTIA_PYTHON to use the project's "
                "python_modules/, or give --venv DIR")
        return PythonEnvironment(home, "MOTIA_PYTHON")
    for name in _PROJECT_VENVS:
        found = PythonEnvironment(project_root / name, name)
        if found.exists:
            return found
    return PythonEnvironment(project_root / _PROJECT_VENVS[0], "new")


def environment_status(project_root: Path,
                       environ: Mapping[str, str] = os.environ) -> EnvironmentStatus:
    """Whether the project's Python environment has its requirements.txt installed."""
    requirements = project_root / REQUIREMENTS_FILE
    if not requirements.is_file():
        return EnvironmentStatus("none", None)
    try:
        env = locate(project_root, environ=environ)
    except InstallError as exc:
        return EnvironmentStatus("missing", environ.get("MOTIA_PYTHON"), str(exc))
    shown = env.shown(project_root)
    if not env.exists:
        return EnvironmentStatus("missing", shown, f"run `motia install` (it creates {shown} and "
                                 f"installs {REQUIREMENTS_FILE} into it)")
    try:
        stamp = json.loads((env.path / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = {}
    if not isinstance(stamp, dict) or stamp.get("requirementsSha256") != _requirements_hash(
            requirements):
        return EnvironmentStatus("stale", shown, f"{REQUIREMENTS_FILE} changed since the last "
                                 f"`motia install` into {shown} (or it never ran there): run "
                                 "`motia install`")
    return EnvironmentStatus("ok", shown)


def _run(argv: list[str], cwd: Path, what: str, verbose: bool) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, text=True, timeout=_PIP_TIMEOUT_S, check=False,
                              stdout=None if verbose else subprocess.PIPE,
                              stderr=None if verbose else subprocess.STDOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"{what} failed: {exc}") from exc
    output = done.stdout or ""
    if done.returncode != 0:
        tail = "\n".join(output.rstrip().splitlines()[-_TAIL_LINES:])
        raise InstallError(f"{what} failed (exit {done.returncode})"
                           + (f":\n{tail}" if tail else "; run with -v to see why"))
    return output


def _create(env: PythonEnvironment, python: str, root: Path, verbose: bool) -> None:
    _run([python, "-m", "venv", str(env.path)], root, f"creating {env.shown(root)} with "
         f"{python}", verbose)
    if not env.exists:
        raise InstallError(f"{python} -m venv did not create {env.shown(root)}; on Debian and "
                           "Ubuntu install the venv module (apt-get install python3-venv)")


def _python_version(env: PythonEnvironment) -> str:
    done = subprocess.run([str(env.python), "--version"], capture_output=True, text=True,
                          timeout=30, check=False)
    return (done.stdout or done.stderr).strip() or "Python"


def install(project_root: Path, *, venv: Path | None = None, python: str | None = None,
            verbose: bool = False, echo: Callable[[str], None] = print,
            environ: Mapping[str, str] = os.environ) -> PythonEnvironment | None:
    """Create or reuse the environment and install requirements.txt into it, saying each step
    through ``echo``. Returns the environment, or None when the project has no
    requirements.txt (nothing to install, which is not an error). Raises InstallError."""
    root = project_root
    requirements = root / REQUIREMENTS_FILE
    if not requirements.is_file():
        echo(f"nothing to install: {root} has no {REQUIREMENTS_FILE} (the Python runner needs "
             "no packages of its own)")
        return None
    env = locate(root, venv, environ)
    shown = env.shown(root)
    if env.exists:
        echo(f"reusing {shown} ({_python_version(env)})")
    else:
        creator = python or sys.executable
        _create(env, creator, root, verbose)
        echo(f"created {shown} ({_python_version(env)}, from {creator})")
    output = _run([str(env.python), "-m", "pip", "install", "--disable-pip-version-check",
                   "-r", str(requirements)], root,
                  f"pip install -r {REQUIREMENTS_FILE} into {shown}", verbose)
    summary = [line for line in output.splitlines() if line.startswith("Successfully installed")]
    echo(f"installed {REQUIREMENTS_FILE} into {shown}"
         + (f": {summary[-1]}" if summary else ": everything was already there"))
    (env.path / _STAMP).write_text(json.dumps(
        {"requirementsSha256": _requirements_hash(requirements)}) + "\n", encoding="utf-8")
    if env.source == "--venv" and env.path.resolve() not in {
            (root / name).resolve() for name in _PROJECT_VENVS}:
        echo(f"note: the Python runner uses {env.python} only with MOTIA_PYTHON={env.python}")
    return env
