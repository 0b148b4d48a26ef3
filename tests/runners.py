"""The three language runners as their suites drive them: how each is spawned over stdio against
its fixture project, and which fixture file plays which part.

``tests/integration/test_runners.py`` runs what every runner must do once per language through
:class:`Lang`; ``test_python_runner.py``, ``test_node_runner.py`` and ``test_ruby_runner.py`` keep
what is particular to one language, with the same ``spawn`` helpers from here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import missing, require_runtime
from tests.stdio_core import FakeCore, running

__all__ = (
    "LANGS",
    "Lang",
    "NodeCore",
    "node_project",
    "require_node_runner",
    "spawn_node",
    "spawn_python",
    "spawn_ruby",
)

REPO = Path(__file__).resolve().parents[1]
PROJECTS = REPO / "tests" / "fixtures" / "projects"
STREAMS = ["my-stream", "todo"]

# --- python ----------------------------------------------------------------------------------

PYTHON_RUNNERS = REPO / "runners" / "python"
PYTHON_PROJECT = PROJECTS / "pyrunner"


def python_env(root: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(root), str(PYTHON_RUNNERS)]),
        "MOTIA_PROJECT_ROOT": str(root),
        "MOTIA_PROTOCOL_VERSION": "1",
        "MOTIA_RUNNER": "python#0",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.update(extra or {})
    return env


@asynccontextmanager
async def spawn_python(root: Path = PYTHON_PROJECT, python: str = sys.executable,
                       env: dict[str, str] | None = None, init: bool = True,
                       **init_overrides: Any) -> AsyncIterator[FakeCore]:
    async with running([python, "-m", "motia_runner"], root, python_env(root, env), FakeCore,
                       init, **init_overrides) as core:
        yield core


# --- node ------------------------------------------------------------------------------------

NODE_RUNNER = REPO / "runners" / "node"
NODE_MODULES = NODE_RUNNER / "node_modules"
NODE_FIXTURE = PROJECTS / "node-runner"
# zod 3 is the runner's own dependency (zod-to-json-schema needs it); zod 4 a dev dependency.
ZOD = {"v3": NODE_MODULES / "zod", "v4": NODE_MODULES / "zod-v4"}


def require_node_runner() -> str:
    """``node``, with the runner's npm dependencies installed (skip locally, fail in CI)."""
    node = require_runtime("node")
    if not (NODE_MODULES / "esbuild").is_dir() or not ZOD["v4"].is_dir():
        missing("the Node runner's packages", "make install, or npm ci --prefix "
                f"{NODE_RUNNER}")
    return node


def node_project(dest: Path, fixture: Path = NODE_FIXTURE, zod: str = "v4") -> Path:
    """A copy of ``fixture`` at ``dest`` whose node_modules has zod ``v3`` or ``v4``."""
    shutil.copytree(fixture, dest, ignore=shutil.ignore_patterns("node_modules", ".motia"))
    modules = dest / "node_modules"
    modules.mkdir(exist_ok=True)
    (modules / "zod").symlink_to(ZOD[zod], target_is_directory=True)
    return dest


class NodeCore(FakeCore):
    """The fake core, plus a way to wait for a log record without polling."""

    def __init__(self, proc: asyncio.subprocess.Process, root: Path) -> None:
        super().__init__(proc, root)
        self.log_arrived = asyncio.Event()

    def _dispatch(self, message: dict[str, Any]) -> None:
        super()._dispatch(message)
        if message.get("method") == "log":
            self.log_arrived.set()

    async def wait_log(self, invocation_id: str, timeout: float = 10) -> dict[str, Any]:
        """The first log record of ``invocation_id``, once it has arrived."""

        async def first() -> dict[str, Any]:
            while True:
                found = [log for log in self.logs if log.get("invocationId") == invocation_id]
                if found:
                    return found[0]
                self.log_arrived.clear()
                await self.log_arrived.wait()

        return await asyncio.wait_for(first(), timeout)


@asynccontextmanager
async def spawn_node(root: Path, init: bool = True, env: dict[str, str] | None = None,
                     **init_overrides: Any) -> AsyncIterator[NodeCore]:
    node = require_node_runner()
    environment = {**os.environ, "MOTIA_PROJECT_ROOT": str(root), "MOTIA_PROTOCOL_VERSION": "1",
                   "MOTIA_RUNNER": "node#0", **(env or {})}
    overrides = {"streams": STREAMS, **init_overrides}
    async with running([node, str(NODE_RUNNER / "runner.mjs")], root, environment, NodeCore,
                       init, **overrides) as core:
        yield core


# --- ruby ------------------------------------------------------------------------------------

RUBY_RUNNER = REPO / "runners" / "ruby" / "runner.rb"
RUBY_PROJECT = PROJECTS / "rubyrunner"


@asynccontextmanager
async def spawn_ruby(root: Path = RUBY_PROJECT, init: bool = True,
                     env: dict[str, str] | None = None,
                     **init_overrides: Any) -> AsyncIterator[FakeCore]:
    env = {**os.environ, "MOTIA_PROJECT_ROOT": str(root), "MOTIA_PROTOCOL_VERSION": "1",
           "MOTIA_RUNNER": "ruby#0", **(env or {})}
    async with running(["ruby", str(RUBY_RUNNER)], root, env, FakeCore, init,
                       **init_overrides) as core:
        yield core


# --- what the shared suite needs of each -------------------------------------------------------


def _python_error_codes() -> dict[str, int]:
    sys.path.insert(0, str(PYTHON_RUNNERS))
    try:
        from motia_runner import errors as runner_errors
    finally:
        sys.path.remove(str(PYTHON_RUNNERS))
    return {name: getattr(runner_errors, name).CODE for name in runner_errors.__all__}


def _node_error_codes() -> dict[str, int]:
    script = ("import('./lib/errors.mjs').then(m => console.log(JSON.stringify("
              "Object.fromEntries(Object.entries(m.ERRORS).map(([k, v]) => [k, v.CODE])))))")
    out = subprocess.run([require_node_runner(), "--input-type=module", "-e", script],
                         cwd=NODE_RUNNER, capture_output=True, text=True, timeout=30, check=True)
    codes: dict[str, int] = json.loads(out.stdout)
    return codes


def _ruby_error_codes() -> dict[str, int]:
    errors_rb = RUBY_RUNNER.parent / "lib" / "motia_runner" / "errors.rb"
    script = (f"require {json.dumps(str(errors_rb))}; require 'json'; "
              "puts JSON.generate(MotiaRunner::RpcError::BY_CODE.to_h { |code, klass| "
              "[klass.name.split('::').last, code] })")
    result = subprocess.run([require_runtime("ruby"), "-e", script], capture_output=True,
                            text=True, check=True, timeout=30)
    codes: dict[str, int] = json.loads(result.stdout)
    return codes


async def _slow_started(core: FakeCore) -> None:
    # Every language's slow step says when it starts sleeping: wait for that, not a pause.
    await core.wait_logged("sleeping")


@dataclass(frozen=True)
class Lang:
    """One runner: its spawner, the fixture file playing each part, what it says of itself."""

    name: str
    root: Path
    spawner: Callable[..., AbstractAsyncContextManager[FakeCore]]
    files: Mapping[str, str]  # part -> file under steps/
    runner_info: Mapping[str, Any]  # the `runner` of its initialize result
    file_patterns: tuple[str, ...]
    error_codes: Callable[[], dict[str, int]]
    # Waits until an invocation of the slow step has started.
    slow_started: Callable[[FakeCore], Any] = _slow_started

    def step(self, part: str, root: Path | None = None) -> str:
        return str((root or self.root) / "steps" / self.files.get(part, part))

    def spawn(self, **kwargs: Any) -> AbstractAsyncContextManager[FakeCore]:
        return self.spawner(self.root, **kwargs)

    def with_root(self, root: Path) -> Lang:
        return Lang(**{**self.__dict__, "root": root})


LANGS: dict[str, Lang] = {
    "python": Lang(
        name="python", root=PYTHON_PROJECT, spawner=spawn_python,
        files={"event": "event_step.py", "slow": "slow_step.py", "noop": "noop_step.py",
               "never-loaded": "never_loaded_step.py", "middleware": "middleware_step.py",
               "returns": "returns_step.py", "bad-load-path": "steps/x_step.py"},
        runner_info={"name": "motia-python-runner", "version": "0.1.0", "language": "python"},
        file_patterns=("_step.py", ".step.py", "_stream.py"),
        error_codes=_python_error_codes,
    ),
    "node": Lang(
        name="node", root=NODE_FIXTURE, spawner=spawn_node,
        files={"event": "event.step.ts", "slow": "slow.step.ts", "noop": "noop.step.ts",
               "never-loaded": "never-loaded.step.ts", "middleware": "middleware.step.ts",
               "returns": "returns.step.ts", "bad-load-path": "steps/x.step.ts"},
        runner_info={"name": "motia-node-runner", "version": "0.1.0", "language": "node"},
        file_patterns=(".step.ts", "_step.ts", ".step.js", "_step.js", ".stream.ts",
                       "_stream.ts", ".stream.js", "_stream.js"),
        error_codes=_node_error_codes,
    ),
    "ruby": Lang(
        name="ruby", root=RUBY_PROJECT, spawner=spawn_ruby,
        files={"event": "event_step.rb", "slow": "slow.step.rb", "noop": "noop.step.rb",
               "never-loaded": "never_loaded.step.rb", "middleware": "middleware.step.rb",
               "returns": "returns.step.rb", "bad-load-path": "steps/x.step.rb"},
        runner_info={"name": "motia-ruby-runner", "version": "0.1.0", "language": "ruby"},
        file_patterns=(".step.rb", "_step.rb", ".stream.rb", "_stream.rb"),
        error_codes=_ruby_error_codes,
    ),
}
