"""A test harness for Motia projects: start one in-process, call it, emit, wait, read state.

    from motia_core.testing import MotiaTestApp

    async def test_order_flow():
        async with MotiaTestApp("path/to/project") as app:
            response = await app.post("/orders", json={"item": "book", "quantity": 1})
            assert response.status == 201
            await app.settle()
            order = await app.state.get("orders", response.json["id"])

The app runs with the real runners (real processes) on a free port of 127.0.0.1, with memory
adapters, so tests are fast and leave nothing behind. Use it under pytest with the anyio plugin
(``pytestmark = pytest.mark.anyio``).
"""

from __future__ import annotations

import json as jsonlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import aiohttp
import anyio
import anyio.abc
from multidict import CIMultiDict

from motia_core.config import Settings
from motia_core.events import Event
from motia_core.runners import RunnerRegistry
from motia_core.runtime.app import App
from motia_core.runtime.reload import ReloadReport
from motia_core.state import StateAdapter

__all__ = ("MISSING", "MotiaTestApp", "Response", "missing", "require_runtime")

# The start of every skip reason ``missing`` gives: a test run's summary gathers them on one line.
MISSING = "not on this machine:"

# How to get a runtime a test needs, by the command that runs it.
_HOW_TO_GET = {
    "node": "Node.js 20.6 or newer, e.g. apt-get install nodejs",
    "ruby": "apt-get install ruby",
    "chromium": "apt-get install chromium",
}


def missing(what: str, how: str | None = None) -> NoReturn:
    """Something a test needs is not on this machine: a skip locally, a failure in CI
    (``CI=true``), where every runtime's tests must run. ``how`` says how to get it."""
    import pytest  # only the tests that call this need pytest

    reason = f"{MISSING} {what}" + (f" ({how})" if how else "")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI must run every runtime's tests")
    pytest.skip(reason)


def require_runtime(command: str) -> str:
    """The path of a runtime a test needs (see :func:`missing` for when it is absent)."""
    path = shutil.which(command)
    if path is None:
        missing(command, _HOW_TO_GET.get(command))
    return path


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive names
    text: str

    @property
    def json(self) -> Any:
        return jsonlib.loads(self.text)

    @property
    def trace_id(self) -> str | None:
        return self.headers.get("x-trace-id")


class MotiaTestApp:
    """An async context manager that runs a project until the block ends."""

    def __init__(self, project_root: str | Path, *, strict: bool = False, watch: bool = False,
                 registry: RunnerRegistry | None = None, **settings: Any) -> None:
        base = Settings.load(Path(project_root))
        self.settings = base.with_overrides({"port": 0, "host": "127.0.0.1", "state": "memory",
                                             "queue": "memory", "observability": "memory",
                                             **settings})
        self.strict = strict
        self.watch = watch
        self.registry = registry
        self.events: list[Event] = []
        self._published = anyio.Event()
        self._app: App | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> MotiaTestApp:
        app = App(self.settings, strict=self.strict, watch=self.watch, registry=self.registry)
        app.publish_listeners.append(self._on_publish)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            self._app = await self._tg.start(app.run)
        except BaseException:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            raise
        self._session = aiohttp.ClientSession(f"http://127.0.0.1:{app.port}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()
        if self._app is not None:
            self._app.stop()
        assert self._tg is not None
        # The block's own exception propagates as itself (not inside an ExceptionGroup).
        await self._tg.__aexit__(None, None, None)

    # --- what tests use ----------------------------------------------------------------------

    @property
    def app(self) -> App:
        assert self._app is not None, "use MotiaTestApp as `async with`"
        return self._app

    @property
    def state(self) -> StateAdapter:
        return self.app.state

    @property
    def port(self) -> int:
        assert self.app.port is not None
        return self.app.port

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Any HTTP request to the app; kwargs as aiohttp's (json=, data=, headers=, params=)."""
        assert self._session is not None
        async with self._session.request(method, path, **kwargs) as response:
            return Response(response.status, CIMultiDict(response.headers),
                            await response.text())

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    async def emit(self, topic: str, data: Any = None) -> str:
        """Emit an event as `POST /emit` does; returns the new trace id."""
        return (await self.app.handlers.emit(topic, data)).trace_id

    def _on_publish(self, event: Event) -> None:
        self.events.append(event)
        self._published.set()
        self._published = anyio.Event()

    async def wait_for_topic(self, topic: str, timeout_s: float = 10.0) -> Event:
        """The first event published on ``topic`` (one published before the call counts)."""
        with anyio.fail_after(timeout_s):
            while True:
                for event in self.events:
                    if event.topic == topic:
                        return event
                await self._published.wait()

    async def settle(self, timeout_s: float = 30.0, *, include_delayed: bool = True) -> None:
        """Wait until no event is queued or being handled; delayed retries count unless told."""
        await self.app.bus.join(timeout_s=timeout_s, include_delayed=include_delayed)

    async def dead_letters(self, topic: str, step_name: str) -> list[Any]:
        """Events that ``step_name`` gave up on, with their errors."""
        return list(await self.app.bus.dead_letters(topic, step_name))

    async def reload(self, *changed: str | Path) -> ReloadReport:
        """Apply a hot reload for these changed paths now (``watch=True`` does it on save)."""
        return await self.app.reloader.apply(changed)

    async def run_cron(self, step_name: str) -> None:
        """Run a cron step now, as one tick of its schedule would (new trace, same errors)."""
        project = self.app.project
        assert project is not None
        for step in project.cron_steps:
            if step.name == step_name:
                await self.app.handlers.cron_tick(step)
                return
        names = ", ".join(s.name for s in project.cron_steps) or "none"
        raise LookupError(f"no cron step named {step_name!r}; cron steps: {names}")
