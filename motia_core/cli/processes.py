"""`motia start --processes N`: N core processes of one project on one port.

The supervisor (this process) starts N children, each a whole `motia start --processes 1` with
the same options: its own runners, the port bound with SO_REUSEPORT (the kernel spreads the
connections), and the same stores (the SQLite files under .motia/, or Redis), through which
events, cron ticks and retries flow between them. It serves nothing itself; it

- knows a child is ready when the child writes one byte on the pipe whose fd it was given
  (``MOTIA_SUPERVISOR_FD``); a child that exits before, on the first start, fails the start;
- forwards SIGINT/SIGTERM to every child (each drains, as a single process does) and exits once
  all of them have; a second signal is forwarded too (each child then exits at once);
- restarts a child that dies unexpectedly (a crash, ``kill -9``), with a backoff, saying so in
  the log; the leases of what it held run out, or are reclaimed at once by the next process
  that opens the SQLite queue, and another process delivers that work;
- asks the kernel to SIGTERM the children if it dies itself (``PR_SET_PDEATHSIG``, Linux), so a
  killed supervisor leaves no orphans serving the port.

The children run in their own session (and process group): a Ctrl-C in the terminal reaches
the supervisor only, which forwards it once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

__all__ = ("BANNER_ENV", "CHILD_ENV", "READY_FD_ENV", "Supervisor", "child_ready", "free_port",
           "supervise")

log = logging.getLogger("motia.processes")

# Set in every child: its index (0..N-1). Its presence means "bind with SO_REUSEPORT".
CHILD_ENV = "MOTIA_PROCESS_INDEX"
# The fd of the pipe a child writes one byte to once it serves.
READY_FD_ENV = "MOTIA_SUPERVISOR_FD"
# "0" in the children that must not print the start-up table (all but the first, first time).
BANNER_ENV = "MOTIA_PROCESS_BANNER"

# Restart backoff: doubles from FIRST to MAX; back to FIRST after a child served STABLE seconds.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_S = 60.0
PR_SET_PDEATHSIG = 1


def free_port(host: str) -> int:
    """A port free now on ``host``, for `--port 0` (every child must bind the same one)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def child_ready() -> None:
    """In a child: tell the supervisor this process serves (no-op when not supervised)."""
    fd = os.environ.pop(READY_FD_ENV, None)
    if fd is None:
        return
    try:
        os.write(int(fd), b"r")
        os.close(int(fd))
    except (OSError, ValueError):
        pass


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes] | None = None
    ready: bool = False
    started_at: float = 0.0
    crashes: int = 0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Run ``count`` children of ``argv`` (a `motia start --processes 1 ...` command line)."""

    def __init__(self, argv: Sequence[str], count: int, url: str) -> None:
        self.argv = list(argv)
        self.count = count
        self.url = url
        self.children = [_Child(i) for i in range(count)]
        self.stopping = False
        self._stop = anyio.Event()  # built in the running loop: see supervise()
        self._failure: int | None = None
        self._limiter = anyio.CapacityLimiter(2 * count + 2)
        self._announced = False

    async def run(self) -> int:
        """The exit code: 0 after a signal stopped every child, else a failed start's code."""
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._on_signals, signals)
                async with anyio.create_task_group() as children:
                    for child in self.children:
                        children.start_soon(self._keep, child)
                tg.cancel_scope.cancel()
        return self._failure or 0

    def _announce(self) -> None:
        if self._announced or not all(c.ready for c in self.children):
            return
        self._announced = True
        pids = ", ".join(str(c.process.pid) for c in self.children if c.process is not None)
        log.info("%d processes serve %s (pids %s)", self.count, self.url, pids,
                 extra={"action": "processes_ready", "count": self.count})

    async def _keep(self, child: _Child) -> None:
        """Start ``child``, and again each time it dies, until the supervisor stops."""
        while not self.stopping:
            code, served = await self._run_once(child)
            if self.stopping:
                return
            if not served and not self._announced and not child.exits:
                # Died before serving on its very first start: the project cannot start.
                log.error("process %d exited with code %d before it served: stopping",
                          child.index, code, extra={"action": "startup_failed"})
                self._failure = code if code > 0 else 1
                self._stop_all(signal.SIGTERM)
                return
            child.exits.append(code)
            uptime = time.monotonic() - child.started_at
            child.crashes = 1 if uptime >= STABLE_S else child.crashes + 1
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (child.crashes - 1))
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
            log.warning("process %d (pid %s) exited unexpectedly (%s); restarting it in %.1fs",
                        child.index, child.process.pid if child.process else "?", how, delay,
                        extra={"action": "process_restart", "index": child.index,
                               "delay_s": delay})
            with anyio.move_on_after(delay):
                await self._stop.wait()

    async def _run_once(self, child: _Child) -> tuple[int, bool]:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        env[CHILD_ENV] = str(child.index)
        env[READY_FD_ENV] = str(write_fd)
        env["MOTIA_PROCESSES"] = "1"
        first = child.index == 0 and not child.exits
        env[BANNER_ENV] = "1" if first else "0"
        try:
            child.process = subprocess.Popen(
                self.argv, env=env, pass_fds=(write_fd,), start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        finally:
            os.close(write_fd)
        child.ready = False
        child.started_at = time.monotonic()
        process = child.process
        log.debug("process %d started (pid %d)", child.index, process.pid,
                  extra={"action": "process_started", "index": child.index, "pid": process.pid})
        try:
            # One byte when it serves; b"" when it exits first (its end of the pipe closes).
            said = await anyio.to_thread.run_sync(os.read, read_fd, 1, limiter=self._limiter)
        finally:
            os.close(read_fd)
        if said:
            child.ready = True
            self._announce()
            if child.exits:
                log.info("process %d serves again (pid %d)", child.index, process.pid,
                         extra={"action": "process_restarted", "index": child.index,
                                "pid": process.pid})
        code = await anyio.to_thread.run_sync(process.wait, limiter=self._limiter)
        child.ready = False
        return code, bool(said)

    def _stop_all(self, signum: int) -> None:
        self.stopping = True
        self._stop.set()
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                try:
                    child.process.send_signal(signum)
                except ProcessLookupError:
                    pass

    async def _on_signals(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not self.stopping:
                log.info("received %s, stopping %d processes", name, self.count,
                         extra={"action": "stopping"})
            else:
                log.warning("received %s again: the processes exit now", name,
                            extra={"action": "exit"})
            self._stop_all(signum)


def supervise(argv: Sequence[str], count: int, url: str) -> int:
    """Run the supervisor until a signal stops it (or the start fails); the exit code."""

    async def go() -> int:
        return await Supervisor(argv, count, url).run()

    return anyio.run(go)
