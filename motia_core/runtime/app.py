"""The app: wires discovery, runners, services, HTTP and cron together, and runs them.

:class:`App` owns one task group with everything long-lived in it: a runner pool per language,
the event bus's consumers, the cron scheduler and the HTTP server. ``await tg.start(app.run)``
returns once the server listens; ``app.stop()`` (or SIGINT/SIGTERM under :func:`serve`) stops
taking requests, lets the runners finish, and returns.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from aiohttp import web

from motia_core.config import Settings, SettingsError
from motia_core.cron.scheduler import CronJob, CronScheduler
from motia_core.events import Event, EventBus, QueueAdapter, QueueError, open_queue
from motia_core.http import (
    ROUTER_KEY,
    HttpSettings,
    Route,
    RouteError,
    Router,
    app_runner,
    create_app,
)
from motia_core.http.admin import dead_letter_routes
from motia_core.http.policy import LOCALHOST, OperatorPolicy
from motia_core.http.request import invoke_frame_bytes
from motia_core.observability import Recorder, Retention, configure_logging, now_ms, open_backend
from motia_core.observability.otel import OtelExporter, otel_config
from motia_core.project import Discovery, Project, discover
from motia_core.project.alltypes import generate_for
from motia_core.project.loading import load_files, select_languages
from motia_core.project.openapi import build_openapi
from motia_core.project.runtimes import missing_runtimes
from motia_core.project.steps import Step
from motia_core.project.typegen import write_types
from motia_core.protocol import DEFAULT_MAX_MESSAGE_BYTES
from motia_core.runners import RunnerPool, RunnerRegistry, RunnerState, SupervisorSettings
from motia_core.runners.plugins import RunnerConfigError, registry_for_project
from motia_core.runtime.body_checks import checked_after_middleware
from motia_core.runtime.invocation import Callbacks, Invoker
from motia_core.runtime.reload import Reloader
from motia_core.runtime.report import print_startup
from motia_core.runtime.serving import Serving
from motia_core.runtime.triggers import AppHandlers, cron_topic
from motia_core.state import StateAdapter, StateError, open_state
from motia_core.state.sqlite import SqliteState
from motia_core.streams import StreamAccess, StreamHub, StreamSocketServer, StreamStore
from motia_core.streams.auth import HookNotFound, load_hook
from motia_core.streams.sqlite_fanout import SqliteFanout
from motia_core.workbench import Workbench, workbench_routes, workbench_ui_routes
from motia_core.workbench.ui import WORKBENCH_PATH

if TYPE_CHECKING:
    from motia_core.streams.redis_fanout import RedisFanout

__all__ = ("App", "StartupFailed", "serve")

log = logging.getLogger("motia.app")
OPENAPI_PATH = "/__motia/openapi.json"
# New objects the cyclic collector lets pile up before a young collection (Python's default is
# 700). An api request allocates a few hundred that live as long as it does; at the default,
# young collections run every few requests, each moves the requests in flight to an older
# generation, and the older generations' collections then walk all the process holds (the
# traces kept in memory too). On the wrk GET of issue 20, collections took 4.5% of the core's
# CPU with traces in SQLite and about 15% with traces in memory; 1.2% at this threshold.
GC_YOUNG_THRESHOLD = 20_000


class StartupFailed(Exception):
    """The project cannot start; the message lists every reason."""


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        strict: bool = False,
        watch: bool = False,
        registry: RunnerRegistry | None = None,
        state: StateAdapter | None = None,
        queue: QueueAdapter | None = None,
        traces: Recorder | None = None,
        reuse_port: bool = False,
        banner: bool = True,
    ) -> None:
        self.settings = settings
        # `motia start --processes N`: each child binds the same port (SO_REUSEPORT) and only
        # the first prints the start-up table.
        self.reuse_port = reuse_port
        self.banner = banner
        self.strict = strict
        self.watch = watch
        self.registry = registry or registry_for_project(settings.project_root)
        redis_url, prefix = settings.redis_url, settings.redis_prefix
        self.state = state or open_state(settings.state, settings.data_dir, redis_url=redis_url,
                                         redis_prefix=prefix)
        streams = settings.streams_store if state is None or settings.streams else "memory"
        stream_storage = open_state(streams, settings.data_dir / "streams", redis_url=redis_url,
                                    redis_prefix=f"{prefix}streams:")
        self.stream_store = StreamStore(stream_storage)
        self.stream_hub = StreamHub()
        self.stream_store.listeners.append(self.stream_hub.on_change)
        # Streams in Redis or SQLite: every change goes to the other instances' (or processes')
        # hubs, theirs to ours.
        self.stream_fanout: RedisFanout | SqliteFanout | None = None
        if streams == "redis" and redis_url:
            from motia_core.streams.redis_fanout import RedisFanout  # redis-py only when asked

            self.stream_fanout = RedisFanout(redis_url, prefix=f"{prefix}streams:")
        elif isinstance(stream_storage, SqliteState):
            self.stream_fanout = SqliteFanout(
                stream_storage, active=lambda: self.stream_hub.room_count > 0)
        if self.stream_fanout is not None:
            self.stream_store.listeners.append(self.stream_fanout.on_change)
            self.stream_store.wait_sent.append(self.stream_fanout.wait_sent)
            self.stream_fanout.listeners.append(self.stream_hub.on_change)
        self.mode = "start" if strict else "dev"
        self.started_ms = now_ms()
        self.workbench = Workbench(traces or _recorder(settings),
                                   cors=lambda: self._http_settings().cors,
                                   record_logs=settings.observability_store != "off")
        self.traces = self.workbench.recorder
        self.live = self.workbench.live
        self._flows: tuple[Project | None, dict[str, tuple[str, ...]]] = (None, {})
        # OpenTelemetry export, when configured; None (and the SDK never imported) otherwise.
        self.otel = _otel_exporter(settings, self._flows_of)
        if self.otel is not None:
            self.traces.subscribe(self.otel.on_change)
        self._tg: anyio.abc.TaskGroup | None = None
        self.queue = queue or open_queue(settings.queue, settings.data_dir, redis_url=redis_url,
                                         redis_prefix=prefix)
        self.bus = EventBus(self.queue,
                            on_dead_letter=lambda _sub, _letter: self.live.dlq_changed("added"))
        self.serving = Serving()
        self.pools: dict[str, RunnerPool] = self.serving.pools
        self.invoker = Invoker(self.pools, self.traces, settings.leftover_work_s)
        self.publish_listeners: list[Callable[[Event], None]] = []
        self.handlers = AppHandlers(settings, self.serving, self.invoker, self.bus, self.traces,
                                    health=self.health, publish_listeners=self.publish_listeners)
        self.callbacks = Callbacks(self.invoker, self.state, self.handlers.publish,
                                   self.stream_store)
        self.scheduler: CronScheduler[Step] = CronScheduler(self.handlers.cron_scheduled)
        self.http_app: web.Application | None = None
        self.reloader = Reloader(settings.project_root, self.registry, self.serving,
                                 self.apply_project)
        self.stream_sockets = StreamSocketServer(self.stream_hub, self.stream_store, StreamAccess(
            streams=lambda: [s.name for s in self.project.streams] if self.project else [],
            authenticate=load_hook(settings.stream_auth, settings.project_root)
            if settings.stream_auth else None))
        self._subscribed: dict[tuple[str, str], str] = {}  # (topic, step) -> the step's file
        self.port: int | None = None
        self._stop = anyio.Event()

    # What is served lives in ``serving`` (shared with the triggers and the reloader); the
    # harness and the CLI read it under these names.

    @property
    def project(self) -> Project | None:
        return self.serving.project

    @property
    def discovery(self) -> Discovery | None:
        return self.serving.discovery

    # --- start-up ----------------------------------------------------------------------------

    async def _start_runners(self, tg: anyio.abc.TaskGroup) -> Project:
        root = self.settings.project_root
        found = discover(root, {s.language: s.patterns for s in self.registry})
        self.serving.discovery = found
        languages, self.serving.skipped = select_languages(self.settings, self.registry, found)
        if self.strict:
            self._refuse_missing_runtimes(languages)
        for language in languages:
            pool = RunnerPool(self.registry.get(language), project_root=root,
                              callbacks=self.callbacks,
                              size=self.settings.workers.get(language, 1),
                              settings=self._supervisor_settings(),
                              listeners=[lambda p, _old, new: self.live.runner_changed(
                                  p.spec.language, p.index, new.name)])
            self.pools[language] = pool
            await tg.start(pool.run)
        for language, pool in self.pools.items():
            await pool.wait_ready()
            if all(p.state is RunnerState.FATAL for p in pool.processes):
                raise StartupFailed(f"the {language} runner cannot start: "
                                    f"{pool.processes[0].last_error}")
        loaded, self.serving.streams_sent = await load_files(self.pools, found)
        return Project.build(found, loaded, languages=list(self.pools))

    def _refuse_missing_runtimes(self, languages: list[str]) -> None:
        """``motia start``: a step whose runtime is missing would be skipped and the events to its
        topics dropped; refuse instead, unless ``--runners`` left its language out on purpose."""
        wanted = self.settings.runners
        missing = [m for m in missing_runtimes(self.settings.project_root, self.registry)
                   if m.spec.language not in languages
                   and (wanted is None or m.spec.language in wanted)]
        if missing:
            others = sorted(languages)
            raise StartupFailed(
                "; ".join(m.message for m in missing)
                + ". motia start refuses to run without them (their steps would be skipped and "
                f"events to their topics dropped); to leave them out on purpose, pass --runners "
                f"{','.join(others) or 'LANGUAGES'}")

    def _supervisor_settings(self) -> SupervisorSettings:
        # A body the HTTP layer accepts must fit the frame that carries it to the step.
        frame_bytes = invoke_frame_bytes(self.settings.max_body_bytes)
        return SupervisorSettings(max_message_bytes=max(DEFAULT_MAX_MESSAGE_BYTES, frame_bytes),
                                  validate_bodies=self.settings.validate_bodies)

    def stream_names(self) -> list[str]:
        """Every stream some runner has loaded, whatever its language."""
        return self.serving.stream_names()

    async def run(self, *, task_status: anyio.abc.TaskStatus[App] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Start everything, report, serve until :meth:`stop`, then stop everything."""
        failure: StartupFailed | None = None
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                await self._open_stores()
                if isinstance(self.stream_fanout, SqliteFanout):
                    await tg.start(self.stream_fanout.run)
                elif self.stream_fanout is not None:
                    from motia_core.streams.redis_fanout import FanoutError

                    try:
                        await tg.start(self.stream_fanout.run)
                    except FanoutError as exc:
                        raise StartupFailed(str(exc)) from exc
                await tg.start(self.workbench.run)  # cancelled last: it writes the last spans
                project = await self._start_runners(tg)
                if project.errors and self.strict:
                    raise StartupFailed(project.report_errors())
                await tg.start(self.bus.run)
                await tg.start(self.scheduler.run)
                runner = await self._start_http()
                self.apply_project(project)
                if self.watch:
                    await tg.start(self.reloader.watch)
                assert self.project is not None
                url = f"http://{self.settings.host}:{self.port}"
                if self.banner:
                    print_startup(self.project, url, self.settings.project_root,
                                  self.serving.skipped, workbench=url + WORKBENCH_PATH
                                  if self.workbench_enabled else None)
                task_status.started(self)
                await self._stop.wait()
                await runner.cleanup()
            except StartupFailed as exc:
                failure = exc
            finally:
                with anyio.CancelScope(shield=True):
                    await self._shutdown()
                tg.cancel_scope.cancel()
        # Raised outside the task group, so callers get it as itself rather than in a group.
        if failure is not None:
            raise failure

    async def _open_stores(self) -> None:
        """Reach every store before anything starts: a Redis server that does not answer (or a
        .motia file that cannot be opened) fails the start with a message naming it."""
        try:
            await self.state.open()
            await self.stream_store.storage.open()
            await self.queue.open()
        except (StateError, QueueError) as exc:
            raise StartupFailed(str(exc)) from exc

    def apply_project(self, project: Project) -> None:
        """Serve ``project``: its routes, subscriptions and cron jobs replace the current ones."""
        self.serving.project = project
        assert self.http_app is not None
        self.http_app[ROUTER_KEY].replace(self._routes(project))
        wanted: dict[tuple[str, str], str] = {}
        for step in project.event_steps:
            for topic in step.subscribes:
                # Subscribing again replaces: pending retries go to the new handler.
                self.bus.subscribe(topic, step.name, self.handlers.deliver_to(step),
                                   self.handlers.subscription_settings(step))
                wanted[(topic, step.name)] = step.file
        for step in project.cron_steps:
            # A tick goes through the step's own queue: once across instances, with retries.
            topic = cron_topic(step.name)
            self.bus.subscribe(topic, step.name, self.handlers.cron_delivery(step),
                               self.handlers.cron_settings(step))
            wanted[(topic, step.name)] = step.file
        for (topic, name), file in self._subscribed.items():
            if (topic, name) in wanted:
                continue
            if file in project.errors:
                # It failed to (re)load: hold its queue, so what is emitted meanwhile waits for
                # the fixed version instead of vanishing.
                self.bus.hold(topic, name)
                wanted[(topic, name)] = file
            else:
                self.bus.unsubscribe(topic, name)
        self._subscribed = wanted
        self.scheduler.schedule([
            CronJob(key=step.file, name=step.name, target=step,
                    expression=step.config.cron)  # type: ignore[union-attr]
            for step in project.cron_steps])
        if self.watch:
            # `motia dev` keeps types.d.ts (and motia_types.py, sig/motia_types.rbs) in step with
            # the configs, as the original does for TypeScript, so steps type-check against
            # what they emit and receive.
            for file, generated in generate_for(project, self.pools).items():
                write_types(generated, self.settings.project_root / file)
                for warning in generated.warnings:
                    log.warning("%s", warning, extra={"action": "types"})
        # Only when a stream guards its joins: with no hook, unknown streams are joined silently
        # (as the original does) instead of answered with access-denied frames.
        self.stream_sockets.access.can_access = (
            self.handlers.can_access if any(s.has_can_access for s in project.streams) else None)

    def _routes(self, project: Project) -> list[Route]:
        """The api routes that can be served; one that cannot is reported and left out."""
        check = Router()
        routes = []
        for api in project.api_routes:
            # A runner that validates bodies itself keeps its schema library's own meaning.
            schema = None if api.step.validates_body else getattr(api.step.config,
                                                                   "body_schema", None)
            route = Route(method=api.method, path=api.path, step=api.step, body_schema=schema)
            try:
                check.compile(route)
            except RouteError as exc:
                message = f"{api.step.file}: {exc}"
                if self.strict:
                    raise StartupFailed(message) from exc
                log.error("%s (the step is not served)", message,
                          extra={"action": "route_invalid", "step": api.step.name})
                continue
            if checked_after_middleware(api.step, self.settings.validate_bodies):
                # Checked in the runner after the middleware (body.validate), not before it.
                route = replace(route, body_schema=None)
            routes.append(route)
        return routes

    def _http_settings(self) -> HttpSettings:
        """CORS and operator access by mode (``motia dev`` is the developer's own machine)."""
        dev = self.mode == "dev"
        origins = self.settings.cors_origins
        return HttpSettings(
            max_body_bytes=self.settings.max_body_bytes,
            max_concurrent_invocations=self.settings.max_concurrent_invocations,
            validate_bodies=self.settings.validate_bodies,
            cors_origins=origins if origins is not None else ((LOCALHOST,) if dev else ()),
            operators=OperatorPolicy(open=dev, token=self.settings.admin_token),
            home=WORKBENCH_PATH if self.workbench_enabled else None,
        )

    @property
    def workbench_enabled(self) -> bool:
        enabled = self.settings.workbench
        return self.mode == "dev" if enabled is None else enabled

    async def _start_http(self) -> web.AppRunner:
        internal = [web.get(OPENAPI_PATH, self._openapi),
                    *dead_letter_routes(self.queue), *workbench_routes(
            self, self.live, writes_only=not self.workbench_enabled),
            *(workbench_ui_routes() if self.workbench_enabled else ())]
        http_app = self.http_app = create_app([], self.handlers, self._http_settings(),
                                              websocket=self.stream_sockets, internal=internal)
        http_app.on_shutdown.append(self.stream_sockets.on_shutdown)
        http_app.on_shutdown.append(self.live.close_all)
        runner = await app_runner(http_app, handle_signals=False, access_log=None)
        site = web.TCPSite(runner, self.settings.host, self.settings.port,
                           reuse_port=self.reuse_port or None)
        await site.start()
        self.port = runner.addresses[0][1]  # the real one when port 0 asked for a free port
        return runner

    async def _openapi(self, _request: web.Request) -> web.Response:
        """GET /__motia/openapi.json: the api steps served now, as OpenAPI 3.1 (a read, open to
        anyone who can reach the server, like the other GETs under /__motia/)."""
        if self.project is None:
            return web.json_response({"error": "the project is still loading"}, status=503)
        return web.json_response(build_openapi(self.project).document)

    # --- shutdown ----------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _shutdown(self) -> None:
        """HTTP has stopped; now cron ticks and deliveries (given a grace period; unfinished
        deliveries go back to the queue), then the runners (through the shutdown ladder), then
        the stores."""
        async with anyio.create_task_group() as tg:  # no tick starts once this returns
            tg.start_soon(self.scheduler.stop, self.settings.shutdown_grace_s)
            tg.start_soon(self.bus.stop, self.settings.shutdown_grace_s)
        async with anyio.create_task_group() as tg:
            for pool in self.pools.values():
                tg.start_soon(pool.stop)
        await self.queue.aclose()
        await self.state.aclose()
        await self.stream_store.storage.aclose()
        if self.otel is not None:  # the last spans, sent from a thread (the SDK blocks)
            await anyio.to_thread.run_sync(self.otel.shutdown)

    def _flows_of(self, step_name: str) -> Sequence[str]:
        project = self.serving.project
        if project is None:
            return ()
        if self._flows[0] is not project:
            self._flows = (project, {s.name: tuple(s.flows) for s in project.steps})
        return self._flows[1].get(step_name, ())

    # --- what the Workbench API reads (http.workbench.WorkbenchSource) ----------------------

    @property
    def project_root(self) -> Path:
        return self.settings.project_root

    @property
    def recorder(self) -> Recorder:
        return self.traces

    def steps(self) -> list[Step]:
        return list(self.project.steps) if self.project is not None else []

    def step_errors(self) -> dict[str, list[str]]:
        errors = self.project.errors if self.project is not None else {}
        return {file: [e.message for e in problems] for file, problems in errors.items()}

    def run_cron(self, step: Step, trace_id: str) -> None:
        assert self._tg is not None, "the app is not running"
        self._tg.start_soon(self.handlers.cron_tick, step, trace_id)

    # --- what the harness and the CLI read ---------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "pid": os.getpid(),  # which core process answered (`motia start --processes N`)
            "runners": {
                language: [{"name": p.name, "state": p.state.value, "pid": p.pid,
                            "inFlight": p.in_flight, "restarts": p.restarts}
                           for p in pool.processes]
                for language, pool in self.pools.items()
            },
            "skipped": dict(self.serving.skipped),
            "reloads": self.reloader.count,
        }


def _recorder(settings: Settings) -> Recorder:
    try:
        retention = Retention(max_traces=settings.max_traces, max_logs=settings.max_logs,
                              retention_hours=settings.retention_hours)
        backend = open_backend(settings.observability_store, settings.data_dir,
                               redis_url=settings.redis_url,
                               redis_prefix=settings.redis_prefix)
    except ValueError as exc:
        raise SettingsError(f"{settings.project_root / 'motia.toml'}: {exc}") from exc
    return Recorder(backend, retention=retention)


def _otel_exporter(settings: Settings,
                   flows_of: Callable[[str], Sequence[str]]) -> OtelExporter | None:
    config = otel_config(settings)
    if config is None:
        return None
    try:
        exporter = OtelExporter(config, flows_of=flows_of)
    except ImportError as exc:
        raise SettingsError(str(exc)) from exc
    log.info("exporting traces over OTLP to %s",
             config.traces_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
             or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"), extra={"action": "otel_export"})
    return exporter


async def serve(settings: Settings, strict: bool, *, reuse_port: bool = False,
                banner: bool = True, on_ready: Callable[[], None] | None = None) -> int:
    """Run until SIGINT/SIGTERM; the CLI's exit code. ``on_ready`` is called once it serves
    (a supervisor of several processes waits for it)."""
    configure_logging(json=settings.json_logs, level=settings.log_level)
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        app = App(settings, strict=strict, watch=not strict, reuse_port=reuse_port,
                  banner=banner)
    # The project's own settings (a runner, the stream hook, a store): say which.
    except (RunnerConfigError, HookNotFound, SettingsError, StateError, QueueError) as exc:
        log.error("cannot start: %s", exc, extra={"action": "startup_failed"})
        return 1
    stopped = anyio.Event()

    async def run(*, task_status: anyio.abc.TaskStatus[App] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await app.run(task_status=task_status)
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        try:
            await tg.start(run)
        except StartupFailed as exc:
            log.error("cannot start: %s", exc, extra={"action": "startup_failed"})
            return 1
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            if on_ready is not None:  # now a signal from the supervisor stops gracefully
                on_ready()
            async with anyio.create_task_group() as watch:
                watch.start_soon(_on_signals, signals, app)
                await stopped.wait()
                watch.cancel_scope.cancel()
    return 0


async def _on_signals(signals: AsyncIterator[int], app: App) -> None:
    """The first signal stops gracefully; a second one exits at once. Accepted events are safe
    either way: they are in the queue's file, and a restart delivers them."""
    async for signum in signals:
        name = signal.Signals(signum).name
        if not app.stopping:
            log.info("received %s, stopping (send it again to exit at once)", name,
                     extra={"action": "stopping"})
            app.stop()
        else:
            log.warning("received %s again: exiting now", name, extra={"action": "exit"})
            os._exit(128 + signum)
