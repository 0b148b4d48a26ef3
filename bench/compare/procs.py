"""Servers under test as real processes: launch, wait for the first 200, sample memory, stop.

Every contender (motia-core, the original Motia, the bare aiohttp handler) runs as its own
process tree started here, so the load generator in this process is the same for all of them
and memory is the server's alone. Each server gets its own session, so stopping it signals its
process group by the id we started; survivors found in its tree are then killed by pid.
Memory is read from /proc (Linux), the whole tree summed, every 50 ms on a thread so that short
lived children (the original's process per invocation) are caught as often as they can be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio

__all__ = ("MemorySampler", "Peak", "Server", "free_port", "tree_pids", "tree_rss")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
STOP_GRACE_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parents() -> dict[int, list[int]]:
    """ppid -> children for every process alive now, from /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # it exited between the listing and the read
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_pids(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``root`` and every descendant alive now."""
    children = _parents() if children is None else children
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def tree_rss(root: int, children: dict[int, list[int]] | None = None) -> tuple[int, int]:
    """(resident bytes summed over the tree, number of processes in it)."""
    total = count = 0
    for pid in tree_pids(root, children):
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * _PAGE
            count += 1
        except OSError:
            continue
    return total, count


@dataclass
class Peak:
    """The largest tree seen so far for one root."""

    bytes: int = 0
    processes: int = 0
    samples: int = 0


@dataclass
class MemorySampler:
    """Peak RSS of several process trees, one /proc walk every ``interval_s`` on a thread.

    One thread for all roots, so sampling costs the same small share of a core whichever
    contenders are being measured.
    """

    roots: dict[str, int]
    interval_s: float = 0.05
    peaks: dict[str, Peak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemorySampler:
        self.peaks = {name: Peak() for name in self.roots}
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            children = _parents()
            for name, root in self.roots.items():
                rss, count = tree_rss(root, children)
                peak = self.peaks[name]
                peak.bytes = max(peak.bytes, rss)
                peak.processes = max(peak.processes, count)
                peak.samples += 1
            self._stop.wait(self.interval_s)


@dataclass
class Server:
    """One server process of a contender, with its output in ``log`` (never an unread pipe)."""

    name: str
    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    launched_at: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.launched_at = time.perf_counter()
            self.process = subprocess.Popen(list(self.argv), cwd=self.cwd, env=dict(self.env),
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                            start_new_session=True)

    async def wait_ready(self, paths: Sequence[str], timeout_s: float) -> dict[str, float]:
        """Seconds from launch to the first 200 of each path; raises with the log's tail."""
        firsts: dict[str, float] = {}
        timeout = aiohttp.ClientTimeout(total=max(timeout_s, 1))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            with anyio.move_on_after(timeout_s):
                for path in paths:
                    while path not in firsts:  # bounded by the enclosing timeout
                        if self.process is not None and self.process.poll() is not None:
                            break
                        try:
                            async with session.get(self.base + path) as response:
                                await response.read()
                                if response.status == 200:
                                    firsts[path] = time.perf_counter() - self.launched_at
                                    continue
                        except aiohttp.ClientError:
                            pass
                        await anyio.sleep(0.01)
        if len(firsts) < len(paths):
            missing = ", ".join(p for p in paths if p not in firsts)
            code = None if self.process is None else self.process.poll()
            how = (f"exited with code {code} before answering" if code is not None else
                   f"gave no 200 for {missing} within {timeout_s:.0f} s")
            raise RuntimeError(f"{self.name} {how}; its output ({self.log}) ends with: "
                               f"{self.tail()}")
        return firsts

    async def wait_processes(self, count: int, timeout_s: float) -> None:
        """With ``motia start --processes N``: until N distinct pids answered /__motia/health
        (the kernel spreads new connections over the processes bound to the port)."""
        if count <= 1:
            return
        pids: set[int] = set()
        timeout = aiohttp.ClientTimeout(total=max(timeout_s, 1))
        with anyio.move_on_after(timeout_s):
            while len(pids) < count:  # bounded by the enclosing timeout
                # a new connection each time, so the kernel may pick another process
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    try:
                        async with session.get(self.base + "/__motia/health") as response:
                            pids.add(int((await response.json())["pid"]))
                    except (aiohttp.ClientError, KeyError, ValueError):
                        await anyio.sleep(0.01)
        if len(pids) < count:
            raise RuntimeError(f"{self.name}: {len(pids)} of {count} processes answered "
                               f"within {timeout_s:.0f} s; its output ({self.log}) ends with: "
                               f"{self.tail()}")

    def tail(self, lines: int = 2) -> str:
        """The last lines of the output, after its last error line (often the telling one)."""
        try:
            text = [line.strip() for line in
                    self.log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "(no output)"
        errors = [line for line in text if "error" in line.lower()]
        picked = ([errors[-1]] if errors else []) + [t for t in text[-lines:] if t not in errors]
        return " | ".join(picked) or "(no output)"

    async def stop(self) -> None:
        """SIGTERM its process group, wait, then SIGKILL whatever of its tree is left."""
        process = self.process
        if process is None:
            return
        survivors = [(pid, _started(pid)) for pid in tree_pids(process.pid)]
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await anyio.to_thread.run_sync(process.wait, STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                await anyio.to_thread.run_sync(process.wait, STOP_GRACE_S)
        for pid, started in survivors:  # children that kept running after their parent went
            if pid != process.pid and started is not None and _started(pid) == started:
                _kill(pid)  # the same process (same start time), not a reused pid
        self.process = None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _started(pid: int) -> int | None:
    """The process's start time in clock ticks (field 22 of /proc/<pid>/stat), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
