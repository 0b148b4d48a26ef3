"""The three things compared, each as "how to start a server on a port for the same project".

- motia-core: ``motia start --project <copy> -p PORT -H 127.0.0.1`` (its defaults: SQLite state
  and SQLite queue under ``.motia/``, long-lived Python and Node runners);
- the original Motia 0.6.4: ``node .../motia/dist/cjs/cli.js start -p PORT -H 127.0.0.1 -v`` in
  its scratch project (file state in ``.motia/motia.state.json``, in-memory event bus, one
  process per invocation; Workbench and analytics off, its leanest configuration);
- the bare limit: ``bare_server.py PORT`` (no framework; its handlers do the work in-process).

Both frameworks run copies of the same ``bench/compare/project/steps``; each launch starts from
an empty ``.motia`` so no run inherits another's state.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .original import Original
from .procs import Server

__all__ = ("BARE", "ORIGINAL", "OURS", "Contender", "bare", "original", "ours")

OURS = "motia-core"
ORIGINAL = "original 0.6.4"
BARE = "bare aiohttp"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Contender:
    """A server command for a project dir; ``unavailable`` says why it cannot run at all."""

    name: str
    argv: tuple[str, ...]  # "{port}" is replaced by the port
    cwd: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    state_dir: Path | None = None  # emptied before every launch
    unavailable: str | None = None
    python_unavailable: str | None = None  # why its Python steps cannot run
    small: bool = False  # a process per invocation: keep its request counts small

    def server(self, port: int, log: Path) -> Server:
        argv = [part.replace("{port}", str(port)) for part in self.argv]
        return Server(self.name, argv, self.cwd, self.env, port, log)

    def reset(self) -> None:
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)


def _copy_project(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".motia"))


def ours(project: Path, scratch: Path) -> Contender:
    """motia-core through its console script, the way a user starts it."""
    copy = scratch / "ours"
    _copy_project(project, copy)
    script = Path(sys.executable).with_name("motia")
    command = (str(script),) if script.exists() else (sys.executable, "-m", "motia_core.cli")
    return Contender(OURS, (*command, "start", "--project", str(copy), "-p", "{port}",
                            "-H", "127.0.0.1"), copy, state_dir=copy / ".motia")


def original(setup: Original) -> Contender:
    argv = ("node", str(setup.cli), "start", "-p", "{port}", "-H", "127.0.0.1", "-v")
    return Contender(ORIGINAL, argv, setup.root, setup.env(), state_dir=setup.root / ".motia",
                     unavailable=setup.reason, python_unavailable=setup.python_reason,
                     small=True)


def bare() -> Contender:
    return Contender(BARE, (sys.executable, str(HERE / "bare_server.py"), "{port}"), HERE)
