"""Hot reload for `motia dev`: watch the project, reload what changed, re-derive what it serves.

A changed step or stream file is loaded again in its runner (which swaps it atomically: an
invocation in flight finishes on the version it started with). A changed shared module (a file
no pattern matches, such as ``src/services/orders.py``) may be imported by any step of its
language, and languages cache imports, so the honest choice is to replace that language's runners
gracefully: in-flight work finishes, new work waits for the new process. A deleted step stops
being served. Afterwards the project model is rebuilt from what the runners report, and routes,
subscriptions and cron jobs are re-derived from it. File events come in bursts (an editor writes,
renames, touches); they are collected until the project has been quiet for a moment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from motia_core.dotenv import DOTENV_FILE
from motia_core.project import Project, discover
from motia_core.project.pytypes import PYTHON_TYPES_FILE
from motia_core.runners import RunnerRegistry
from motia_core.runtime.serving import Serving

__all__ = ("ReloadReport", "Reloader")

log = logging.getLogger("motia.reload")

DEBOUNCE_S = 0.15
OBSERVER_JOIN_S = 10.0  # how long a stop waits for the watcher thread (it stops in ~1 s)
_IGNORED_DIRS = frozenset({".motia", "node_modules", "python_modules", ".venv", "venv",
                           "__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
# Source files whose change can alter what a runner loads; by suffix, for shared modules.
_LANGUAGE_OF_SUFFIX = {".py": "python", ".ts": "node", ".mts": "node", ".cts": "node",
                       ".js": "node", ".mjs": "node", ".cjs": "node", ".rb": "ruby"}


@dataclass
class ReloadReport:
    reloaded: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)  # languages whose runners were replaced


class Reloader:
    """Reloads ``serving`` in place and hands each rebuilt project to ``apply_project`` (the app's:
    routes, subscriptions and cron jobs follow it)."""

    def __init__(self, project_root: Path, registry: RunnerRegistry, serving: Serving,
                 apply_project: Callable[[Project], None]) -> None:
        self.project_root = project_root
        self.registry = registry
        self.serving = serving
        self._apply_project = apply_project
        # Reloads applied (bursts with a relevant change); /__motia/health shows it, so tools
        # can wait for one.
        self.count = 0
        self._lock = anyio.Lock()
        self._reloaded: anyio.Event | None = None  # set (and replaced) after each reload

    def _relevant(self, path: Path) -> bool:
        try:
            parts = path.relative_to(self.project_root).parts
        except ValueError:
            return False
        if parts == (DOTENV_FILE,):  # every runner's environment: see _apply
            return True
        if parts == (PYTHON_TYPES_FILE,):  # ours, written on each reload; read by type checkers
            return False
        return (bool(parts) and not any(p in _IGNORED_DIRS or p.startswith(".")
                                        for p in parts[:-1])
                and path.suffix in _LANGUAGE_OF_SUFFIX
                and not path.name.endswith(".d.ts"))  # declarations (types.d.ts: ours) run nothing

    async def apply(self, changed: Iterable[str | Path]) -> ReloadReport:
        """Reload for these changed (created, modified or deleted) paths. Paths that cannot
        change what a runner loads (``.motia/`` databases, docs, ``types.d.ts``) are left out;
        when nothing is left, nothing happens and it is not counted as a reload."""
        relevant = {path for path in (Path(p).absolute() for p in changed)
                    if self._relevant(path)}
        if not relevant:
            return ReloadReport()
        async with self._lock:  # one reload at a time; a burst during one waits its turn
            return await self._apply(relevant)

    async def _apply(self, changed: set[Path]) -> ReloadReport:
        serving = self.serving
        before = serving.discovery
        assert before is not None, "reload before the app started"
        found = discover(self.project_root,
                         {spec.language: spec.patterns for spec in self.registry})
        report = ReloadReport()
        to_load: dict[str, list[str]] = {}
        restart: set[str] = set()
        for path in sorted(changed):
            file = str(path)
            language = found.language_of(file)
            if language is not None:
                to_load.setdefault(language, []).append(file)
            elif before.language_of(file) is not None:
                report.removed.append(file)
            elif path.name == DOTENV_FILE:  # a runner reads .env when it starts: restart all
                restart.update(serving.pools)
            else:  # a shared module (relevant paths all have a language's suffix)
                restart.add(_LANGUAGE_OF_SUFFIX[path.suffix])
        for language in sorted(restart & set(serving.pools)):
            await serving.pools[language].restart()  # loads every file again, fresh
            report.restarted.append(language)
        for language, files in to_load.items():
            pool = serving.pools.get(language)
            if pool is not None and language not in restart:
                await pool.load(files)
                report.reloaded.extend(files)
        for pool in serving.pools.values():
            pool.forget(report.removed)
        await self._sync_stream_names()
        loaded = [entry for pool in serving.pools.values() for entry in pool.loaded
                  if found.language_of(entry.file) is not None]
        project = Project.build(found, loaded, languages=list(serving.pools))
        serving.discovery = found
        self._apply_project(project)
        self.count += 1
        if self._reloaded is not None:
            self._reloaded.set()
            self._reloaded = None
        self._log(report, project)
        return report

    async def wait_for_count(self, count: int, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` reloads have been applied (``TimeoutError`` after
        ``timeout_s``): how a tool knows a save is live without polling."""
        with anyio.fail_after(timeout_s):
            while self.count < count:
                if self._reloaded is None:
                    self._reloaded = anyio.Event()
                await self._reloaded.wait()

    async def _sync_stream_names(self) -> None:
        names = self.serving.stream_names()
        if names != self.serving.streams_sent:
            for pool in self.serving.pools.values():
                await pool.load([], streams=names)
            self.serving.streams_sent = names

    def _log(self, report: ReloadReport, project: Project) -> None:
        root = self.project_root
        for what, files in (("reloaded", report.reloaded), ("removed", report.removed)):
            for file in files:
                log.info("%s %s", what, Path(file).relative_to(root), extra={"action": what})
        for language in report.restarted:
            log.info("restarted the %s runners (a shared module or .env changed)", language,
                     extra={"action": "restarted"})
        for file in report.reloaded:
            for error in project.errors.get(file, []):
                log.error("%s (its previous version no longer receives work; its events wait "
                          "in its queue until it loads again)", error.describe(root),
                          extra={"action": "reload_failed"})

    # --- the watcher -----------------------------------------------------------------------

    async def watch(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                    ) -> None:
        """Watch the project until cancelled, applying each quiet burst of changes."""
        loop = asyncio.get_running_loop()
        pending: set[str] = set()
        arrived = anyio.Event()

        def note(path: str) -> None:  # on the loop thread
            nonlocal arrived
            pending.add(path)
            arrived.set()

        relevant = self._relevant

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:  # on watchdog's thread
                if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                    return
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    # Every commit of the state and queue writes under .motia/: those events
                    # must not even wake the loop, let alone start a reload.
                    if path and relevant(Path(str(path)).absolute()):
                        loop.call_soon_threadsafe(note, str(path))

        observer = Observer()
        observer.schedule(Handler(), str(self.project_root), recursive=True)
        observer.start()
        try:
            task_status.started()
            while True:
                await arrived.wait()
                while arrived.is_set():  # debounce: wait until a quiet moment
                    arrived = anyio.Event()
                    await anyio.sleep(DEBOUNCE_S)
                batch = set(pending)
                pending.clear()
                try:
                    await self.apply(batch)
                except Exception:  # a reload must never take `motia dev` down
                    log.exception("hot reload failed", extra={"action": "reload_failed"})
        finally:
            # Owned to the end, even when cancelled: the watcher thread has stopped on return.
            observer.stop()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(observer.join, OBSERVER_JOIN_S)
            if observer.is_alive():
                log.warning("the file watcher thread did not stop within %gs", OBSERVER_JOIN_S,
                            extra={"action": "watcher_stuck"})
