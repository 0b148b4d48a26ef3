"""One supervised runner process: start, handshake, load, serve, restart, stop.

``RunnerProcess.run()`` owns the OS process for its whole life and is meant to run in a task
group of the pool that owns it. Every state change goes through ``_transition`` (the rules are in
``states.py``) and is reported to the listeners, which is what logs, health checks and tests see.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from motia_core import __version__
from motia_core.protocol import (
    DEFAULT_MAX_MESSAGE_BYTES,
    METHODS,
    PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    InitializeParams,
    InitializeResult,
    InvokeParams,
    InvokeResult,
    LoadedFile,
    LoadParams,
    LoadResult,
    PeerInfo,
    StreamCanAccessParams,
)
from motia_core.protocol.errors import (
    RpcError,
    RunnerCrashed,
    RunnerNotReady,
    TimedOut,
    UnsupportedProtocolVersion,
)
from motia_core.protocol.rpc import DeadlineExceeded, Endpoint, Handler, ProtocolViolation
from motia_core.runners.pipes import PipeSendStream, open_piped_process, pump_stderr
from motia_core.runners.shutdown import ladder, reap, signal_group
from motia_core.runners.spec import RunnerSpec
from motia_core.runners.states import RunnerState, ShutdownRung, check_transition

__all__ = ("RunnerProcess", "StateListener", "SupervisorSettings")

log = logging.getLogger("motia.runner")

# The methods a runner may call on the core.
RUNNER_TO_CORE = {
    name: m for name, m in METHODS.items() if m.direction in ("runner->core", "both")
}

StateListener = Callable[["RunnerProcess", RunnerState, RunnerState], None]

# sysexits' EX_CONFIG: the runner found its setup wrong (Node too old, its packages missing).
# A restart cannot fix that, so it is not retried.
EXIT_CONFIG_ERROR = 78
# A runner that exits unexpectedly is reported with this many of its last stderr lines.
_STDERR_TAIL_LINES = 10
_STDERR_LINE_CHARS = 500


@dataclass(frozen=True)
class SupervisorSettings:
    handshake_timeout_s: float = 10.0
    # A runner counts as started once it has been ready this long; earlier exits are failures.
    stable_start_s: float = 1.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0
    # Quick failures in a row before giving up (FATAL).
    max_quick_failures: int = 5
    # How long an invocation waits for a starting or restarting runner.
    ready_timeout_s: float = 30.0
    shutdown_budget_s: float = 5.0
    # Extra time past an invocation's own timeout before the core cancels it.
    cancel_grace_s: float = 1.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # The project's `validate_bodies`, told to the runner in `initialize`.
    validate_bodies: bool = True


class _HandshakeFailed(Exception):
    pass


class RunnerProcess:
    def __init__(
        self,
        spec: RunnerSpec,
        *,
        project_root: Path,
        callbacks: Handler,
        index: int = 0,
        streams: Iterable[str] = (),
        settings: SupervisorSettings | None = None,
        listeners: Iterable[StateListener] = (),
    ) -> None:
        self.spec = spec
        self.index = index
        self.name = f"{spec.language}#{index}"
        self.project_root = project_root
        self.settings = settings or SupervisorSettings()
        self.streams = list(streams)
        self.state = RunnerState.STOPPED
        self.pid: int | None = None
        self.info: InitializeResult | None = None
        self.loaded: dict[str, LoadedFile] = {}
        self.in_flight = 0
        self.restarts = 0
        self.last_error: str | None = None
        self.shutdown_rung: ShutdownRung | None = None
        self._callbacks = callbacks
        self._listeners = list(listeners)
        self._files: dict[str, None] = {}  # ordered set of files to (re)load on every start
        self._endpoint: Endpoint | None = None
        self._process: anyio.abc.Process | None = None
        self._changed = anyio.Event()
        self._stopping = False
        self._restarting = False
        self._stuck = anyio.Event()
        self._stuck_reason = ""
        self._exit_code: int | None = None  # of the last process, once reaped
        self._stop_requested = anyio.Event()

    # --- state ---------------------------------------------------------------------------------

    def add_listener(self, listener: StateListener) -> None:
        self._listeners.append(listener)

    def _transition(self, new: RunnerState) -> None:
        old = self.state
        check_transition(self.name, old, new)
        self.state = new
        self._changed.set()
        self._changed = anyio.Event()
        for listener in self._listeners:
            listener(self, old, new)

    async def wait_for_state(self, *states: RunnerState, timeout_s: float = 30.0) -> RunnerState:
        with anyio.fail_after(timeout_s):
            while self.state not in states:
                await self._changed.wait()
        return self.state

    # --- the supervision loop ------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        """Keep the runner alive until ``stop()``; returns in STOPPED (or after FATAL + stop)."""
        task_status.started()
        quick_failures = 0
        while not self._stopping:
            self._transition(RunnerState.STARTING)  # STOPPED|BACKOFF|FATAL|READY -> STARTING
            ready_at = await self._run_once()
            if self._stopping:
                break
            if self._restarting:  # asked for: no failure, no backoff
                self._restarting = False
                continue
            self.restarts += 1
            up_s = time.monotonic() - ready_at if ready_at else 0.0
            quick_failures = 0 if up_s >= self.settings.stable_start_s else quick_failures + 1
            self._transition(RunnerState.BACKOFF)  # STARTING|READY -> BACKOFF
            config_error = self._exit_code == EXIT_CONFIG_ERROR
            if config_error or quick_failures >= self.settings.max_quick_failures:
                after = "" if config_error else f" after {quick_failures} quick failures"
                log.error("runner %s gave up%s: %s", self.name, after, self.last_error,
                          extra={"action": "gave_up"})
                self._transition(RunnerState.FATAL)  # BACKOFF -> FATAL
                await self._stop_requested.wait()
                break
            delay = min(self.settings.backoff_initial_s * 2 ** max(quick_failures - 1, 0),
                        self.settings.backoff_max_s)
            log.warning("runner %s backoff %.1fs after: %s", self.name, delay, self.last_error,
                        extra={"action": "backoff"})
            with anyio.move_on_after(delay):
                await self._stop_requested.wait()
        if self.state is not RunnerState.STOPPING:
            self._transition(RunnerState.STOPPING)
        self._transition(RunnerState.STOPPED)  # STOPPING -> STOPPED

    async def _run_once(self) -> float | None:
        """Start the process and serve it until it ends. Returns when it became ready, if it did."""
        self._exit_code = None
        argv = self.spec.argv(self.project_root)
        try:
            process, stdout, stdin = await open_piped_process(
                argv, cwd=self.project_root,
                env=self.spec.environment(self.project_root, self.name),
            )
        except OSError as exc:
            self.last_error = (f"cannot start runner {self.name} with {argv[0]!r}: {exc}; "
                               f"{self.spec.install_hint}")
            log.error("%s", self.last_error, extra={"action": "spawn_failed"})
            return None
        self._process = process
        self.pid = process.pid
        if self._stopping:
            # stop() came while we were spawning and found no process to walk the ladder on.
            signal_group(process, signal.SIGKILL)
        log.info("runner %s spawned (pid %d)", self.name, process.pid, extra={"action": "spawned"})
        endpoint = Endpoint(stdout, stdin, name=f"runner {self.name}",
                            methods=RUNNER_TO_CORE, handler=self._callbacks,
                            max_message_bytes=self.settings.max_message_bytes,
                            on_stalled=lambda: self._stalled(endpoint, stdin), whole_frames=True)
        ready_at: float | None = None
        violation: str | None = None
        stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
        stderr_read = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def pump() -> None:
                assert process.stderr is not None
                try:
                    await pump_stderr(process.stderr, logging.getLogger(
                        f"motia.runner.{self.spec.language}"), self.name, stderr_tail)
                finally:
                    stderr_read.set()

            tg.start_soon(pump)
            serve_done = anyio.Event()
            # A channel that ends (EOF, stray line) during the handshake fails it at once, with
            # that cause, instead of after the whole handshake deadline with a vaguer one.
            handshake_scope = anyio.CancelScope()

            async def serve() -> None:
                nonlocal violation
                try:
                    await endpoint.serve()
                except ProtocolViolation as exc:
                    violation = str(exc)
                finally:
                    serve_done.set()
                    handshake_scope.cancel()

            tg.start_soon(serve)
            try:
                with handshake_scope:
                    await self._handshake(endpoint)
                if self._stopping or serve_done.is_set():
                    return None
                self._endpoint = endpoint
                ready_at = time.monotonic()
                self._transition(RunnerState.READY)  # STARTING -> READY
                log.info("runner %s ready", self.name, extra={"action": "ready"})
                tg.start_soon(self._restart_when_stuck, process, endpoint)
                await serve_done.wait()
            except _HandshakeFailed as exc:
                violation = str(exc)
            finally:
                self._endpoint = None
                # A ladder being walked (stop, restart) gets its budget before SIGKILL.
                patience_s = (self.settings.shutdown_budget_s + 1
                              if self._stopping or self._restarting else 0.0)
                with anyio.CancelScope(shield=True):
                    code = await reap(process, patience_s, stderr_read)
                    await stdin.aclose()
                    await stdout.aclose()
                self._exit_code = code
                reason = violation or f"exited with code {code}"
                if not (self._stopping or self._restarting):
                    self.last_error = (f"runner {self.name} (pid {process.pid}) "
                                       f"{_with_stderr(reason, code, stderr_tail)}")
                    log.warning("runner %s exited (not expected): %s", self.name, reason,
                                extra={"action": "exited"})
                endpoint.close(RunnerCrashed(f"runner {self.name} (pid {process.pid}) {reason}",
                                             {"pid": process.pid, "exitCode": code}))
                tg.cancel_scope.cancel()
        self._process = None
        return ready_at

    async def _handshake(self, endpoint: Endpoint) -> None:
        params = InitializeParams(
            protocol_version=PROTOCOL_VERSION,
            core=PeerInfo(name="motia-core", version=__version__),
            project_root=str(self.project_root),
            max_message_bytes=self.settings.max_message_bytes,
            streams=self.streams,
            validate_bodies=self.settings.validate_bodies,
        )
        command = " ".join(self.spec.argv(self.project_root))
        try:
            with anyio.fail_after(self.settings.handshake_timeout_s):
                info = await endpoint.request("initialize", params, InitializeResult)
                if info.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
                    raise UnsupportedProtocolVersion(
                        f"runner {self.name} ({command}) speaks protocol version "
                        f"{info.protocol_version}, this core speaks "
                        f"{sorted(SUPPORTED_PROTOCOL_VERSIONS)}; upgrade the older side"
                    )
                self.info = info
        except TimeoutError as exc:
            raise _HandshakeFailed(
                f"did not complete its handshake within {self.settings.handshake_timeout_s}s "
                f"({command})"
            ) from exc
        except RpcError as exc:
            raise _HandshakeFailed(f"failed its handshake: {exc}") from exc
        if self._files:
            try:
                await self._load(endpoint, list(self._files))
            except RpcError as exc:
                raise _HandshakeFailed(f"failed to load its steps: {exc}") from exc

    async def _load(self, endpoint: Endpoint, files: list[str],
                    streams: list[str] | None = None) -> list[LoadedFile]:
        params = LoadParams(files=files, streams=streams)
        result: LoadResult = await endpoint.request("steps.load", params, LoadResult)
        for entry in result.files:
            self.loaded[entry.file] = entry
        return result.files

    # --- what owners call ----------------------------------------------------------------------

    async def _ready_endpoint(self) -> Endpoint:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        while True:
            endpoint = self._endpoint
            if endpoint is not None and self.state is RunnerState.READY:
                return endpoint
            if self.state in (RunnerState.FATAL, RunnerState.STOPPING, RunnerState.STOPPED):
                raise RunnerNotReady(
                    f"runner {self.name} is {self.state.value}"
                    + (f": {self.last_error}" if self.last_error else "")
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RunnerNotReady(
                    f"runner {self.name} was not ready within {self.settings.ready_timeout_s}s "
                    f"(state {self.state.value})"
                )
            with anyio.move_on_after(remaining):
                await self._changed.wait()

    async def load(self, files: Iterable[str], streams: Iterable[str] | None = None,
                   ) -> list[LoadedFile]:
        """Load (or reload) files now and after every restart; ``streams`` replaces the
        stream names the runner knows (and sends at every later start)."""
        files = list(files)
        endpoint = await self._ready_endpoint()
        # Recorded only now: files recorded while the runner was starting would be loaded by its
        # handshake and then again here, and the second load re-runs the module (a reload).
        self._files.update(dict.fromkeys(files))
        if streams is not None:
            self.streams = list(streams)
        return await self._load(endpoint, files, None if streams is None else self.streams)

    def forget(self, files: Iterable[str]) -> None:
        """Stop loading these files at later starts (they were deleted)."""
        for file in files:
            self._files.pop(file, None)
            self.loaded.pop(file, None)

    async def invoke(self, params: InvokeParams, timeout_s: float | None = None) -> Any:
        """Run one invocation; returns the handler's output. Fails with an RpcError subclass."""
        endpoint = await self._ready_endpoint()
        self.in_flight += 1
        try:
            # The endpoint's deadline (no cancel scope per call, which doubled the core's cost of
            # a round trip) also ends a write to a runner that stopped reading (a full pipe).
            deadline_s = None if timeout_s is None else timeout_s + self.settings.cancel_grace_s
            try:
                result: InvokeResult = await endpoint.request("step.invoke", params, InvokeResult,
                                                              timeout_s=deadline_s)
            except DeadlineExceeded:
                # Neither the runner's own deadline nor the cancellation got an answer in time.
                self._mark_stuck(endpoint, "an invocation did not yield after its deadline")
                raise TimedOut(f"Step execution timed out after {timeout_s:g} seconds "
                               f"({params.file} on runner {self.name}); the runner is "
                               "restarted") from None
            return result.output
        finally:
            self.in_flight -= 1

    async def can_access(self, params: StreamCanAccessParams, timeout_s: float = 10.0) -> bool:
        """Ask the runner whether a WebSocket client may join (the stream file's canAccess)."""
        endpoint = await self._ready_endpoint()
        with anyio.fail_after(timeout_s):
            return bool(await endpoint.request("streams.canAccess", params))

    def _begin_restart(self, process: anyio.abc.Process, why: str) -> None:
        self._restarting = True
        self._endpoint = None  # new invocations now wait for the next READY
        log.info("runner %s restarting (pid %d): %s", self.name, process.pid, why,
                 extra={"action": "restarting"})

    def _stalled(self, endpoint: Endpoint, stdin: PipeSendStream) -> None:
        """A cancellation could not be written in time. Behind a long queue of input a runner
        may just be slow; one that has taken nothing of it for the grace a cancellation gets
        has stopped reading (a busy loop) and cannot be reached: it is replaced."""
        if stdin.blocked_s >= self.settings.cancel_grace_s:
            self._mark_stuck(endpoint, f"it has read nothing of its input for "
                                       f"{stdin.blocked_s:.1f}s")

    def _mark_stuck(self, endpoint: Endpoint, why: str) -> None:
        if self._endpoint is endpoint and not self._stuck.is_set():
            self._stuck_reason = why
            self._stuck.set()

    async def _restart_when_stuck(self, process: anyio.abc.Process, endpoint: Endpoint) -> None:
        """A handler that ignored its deadline and the cancellation may hold the runner (a busy
        loop blocks a whole Node runner, and stops it reading its stdin): replace the process.
        Runs while it is ready."""
        await self._stuck.wait()
        self._stuck = anyio.Event()
        if not self._stopping and self._endpoint is endpoint:
            self._begin_restart(process, self._stuck_reason)
            await ladder(process, endpoint, self.settings.shutdown_budget_s)

    async def restart(self) -> ShutdownRung:
        """Replace the process gracefully (a changed shared module, say): its in-flight
        invocations finish, new ones wait for the new process, which loads the same files.
        Returns once the new process is ready (or has given up)."""
        process, endpoint = self._process, self._endpoint
        if self._stopping or process is None or process.returncode is not None \
                or endpoint is None:
            return ShutdownRung.ALREADY_EXITED
        self._begin_restart(process, "requested")
        rung = await ladder(process, endpoint, self.settings.shutdown_budget_s)
        while self._restarting:  # cleared by the supervision loop as it starts the new process
            await self._changed.wait()
        await self.wait_for_state(RunnerState.READY, RunnerState.FATAL, RunnerState.STOPPED,
                                  timeout_s=self.settings.handshake_timeout_s + 5)
        return rung

    async def stop(self) -> ShutdownRung:
        """The shutdown ladder: `shutdown`+`exit`, SIGTERM to the group, SIGKILL. Idempotent."""
        if self._stopping:
            await self.wait_for_state(RunnerState.STOPPED,
                                      timeout_s=self.settings.shutdown_budget_s + 5)
            return self.shutdown_rung or ShutdownRung.ALREADY_EXITED
        self._stopping = True
        self._stop_requested.set()
        if self.state is not RunnerState.STOPPED:
            self._transition(RunnerState.STOPPING)  # any live state -> STOPPING
        process, endpoint = self._process, self._endpoint
        rung = ShutdownRung.ALREADY_EXITED
        if process is not None and process.returncode is None:
            rung = await ladder(process, endpoint, self.settings.shutdown_budget_s)
        self.shutdown_rung = rung
        log.info("runner %s stopped (%s)", self.name, rung.value, extra={"action": "stopped"})
        return rung


def _with_stderr(reason: str, code: int, tail: Iterable[str]) -> str:
    """An unexpected exit's reason, with what the runner last said (often the why of it)."""
    if code == EXIT_CONFIG_ERROR and reason.startswith("exited"):
        reason += " (a configuration error, not retried)"
    lines = [line if len(line) <= _STDERR_LINE_CHARS else line[:_STDERR_LINE_CHARS] + "..."
             for line in tail]
    if not lines:
        return reason
    return reason + "; its last words on stderr:\n" + "\n".join(f"  {line}" for line in lines)
