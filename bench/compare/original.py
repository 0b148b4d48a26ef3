"""The original Motia (npm ``motia@0.6.4-beta.130``) in a scratch folder the benchmark owns.

``bench/.scratch/original`` (ignored by git) is both the npm prefix and the project the original
runs: ``package.json`` + ``node_modules`` from ``npm install``, the scenario steps copied from
``bench/compare/project/steps``, and ``python_modules`` made by the original's own ``motia
install`` (a venv with its Python requirements), which its Python steps need. Nothing is
fetched unless it is missing or ``--install`` asks for it again. Every failure becomes a reason
string the table prints instead of the original's figures, never an exception that would take
motia-core's rows down with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ("PACKAGE", "VERSION", "Original", "prepare")

VERSION = "0.6.4-beta.130"
PACKAGE = f"motia@{VERSION}"
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class Original:
    """Where the original lives and what of it works; ``reason`` is None when it is usable."""

    root: Path
    reason: str | None = None
    python_reason: str | None = None  # why its Python steps cannot run, if they cannot

    @property
    def cli(self) -> Path:
        return self.root / "node_modules" / "motia" / "dist" / "cjs" / "cli.js"

    def env(self) -> dict[str, str]:
        """Analytics off, no Workbench (its leanest server), no terminal colours."""
        return {**os.environ, "MOTIA_ANALYTICS_DISABLED": "true",
                "MOTIA_DOCKER_DISABLE_WORKBENCH": "true", "NO_COLOR": "1"}


def _installed_version(root: Path) -> str | None:
    try:
        manifest = json.loads((root / "node_modules" / "motia" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


def _run(argv: list[str], root: Path, log: Path, env: dict[str, str]) -> str | None:
    """Run an install command with its output in ``log``; None on success, else why not."""
    if shutil.which(argv[0]) is None:
        return f"`{argv[0]}` is not on PATH"
    with open(log, "wb") as out:
        try:
            done = subprocess.run(argv, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S,
                                  check=False)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(argv)}` took over {INSTALL_TIMEOUT_S} s (output: {log})"
    if done.returncode != 0:
        return f"`{' '.join(argv)}` exited {done.returncode} (output: {log})"
    return None


def _copy_steps(source: Path, root: Path, with_python: bool) -> None:
    """Fresh copies of the scenario steps (the same files motia-core runs)."""
    steps = root / "steps"
    shutil.rmtree(steps, ignore_errors=True)
    steps.mkdir(parents=True)
    for file in sorted(source.iterdir()):
        if file.is_file() and (with_python or file.suffix != ".py"):
            shutil.copy2(file, steps / file.name)


def prepare(root: Path, steps: Path, *, reinstall: bool, log: list[str]) -> Original:
    """Install the original into ``root`` if missing (or ``reinstall``), then lay out the project.

    ``log`` collects one line per thing done, for the report's preamble.
    """
    root.mkdir(parents=True, exist_ok=True)
    if reinstall or _installed_version(root) != VERSION:
        (root / "package.json").write_text(json.dumps(
            {"name": "motia-compare-original", "private": True,
             "description": "scratch project of bench/compare.py; safe to delete"}, indent=2))
        shutil.rmtree(root / "python_modules", ignore_errors=True)
        log.append(f"installing {PACKAGE} into {root} (npm install)")
        why = _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", PACKAGE],
                   root, root / "npm-install.log", dict(os.environ))
        if why is not None or _installed_version(root) != VERSION:
            return Original(root, reason=f"not installed: {why or 'no motia package after npm'}")
    original = Original(root)
    _copy_steps(steps, root, with_python=True)  # `motia install` looks for .py steps
    python_reason = None
    if not (root / "python_modules" / "bin" / "python").exists():
        log.append("creating the original's python_modules (motia install)")
        python_reason = _run(["node", str(original.cli), "install"], root,
                             root / "motia-install.log", original.env())
    if python_reason is not None:
        shutil.rmtree(root / "python_modules", ignore_errors=True)
        _copy_steps(steps, root, with_python=False)
        return Original(root, python_reason=f"Python steps unavailable: {python_reason}")
    return original
