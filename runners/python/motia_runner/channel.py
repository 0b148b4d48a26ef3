"""The byte channel to the core: private copies of the real stdin/stdout, newline framing.

``claim_stdio()`` runs before anything else so that no user code can reach the protocol streams:
the real fd 1 is duplicated to a private descriptor and fd 1 itself is pointed at stderr, which
catches ``print``, ``sys.stdout.write``, C extensions writing to fd 1 and child processes alike.
fd 0 gets the same treatment (pointed at /dev/null) so a ``subprocess.run(["cat"])`` in a handler
cannot swallow protocol input.

Reading and writing stay on the event loop thread with ``add_reader``/``add_writer`` and plain
``os.read``/``os.write``: no per-message thread hop, no transport machinery, one ``os.write`` per
message in the common case, and a FIFO of leftovers when the pipe is full, so messages never
interleave.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable

from motia_runner._oversize import Oversized

__all__ = ("LineReader", "Writer", "claim_stdio")

# Below glibc's mmap threshold (128 KiB): os.read allocates its buffer up front, and a bigger
# one costs an mmap, an mremap and a munmap on every read, a third of an idle round trip.
_CHUNK = 64 * 1024


def claim_stdio() -> tuple[int, int]:
    """Take the real stdin/stdout for the protocol; return their private fds ``(in, out)``."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    proto_in, proto_out = os.dup(0), os.dup(1)  # non-inheritable: children never see them
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # The interpreter's own sys.stdout already writes to fd 1 (now stderr), but block-buffered;
    # a line-buffered one keeps prints timely and in order with stderr.
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace",
                      closefd=False)
    return proto_in, proto_out


class Writer:
    """Writes whole messages to the protocol fd, in order, without blocking the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int,
                 on_broken: Callable[[], None]) -> None:
        self._loop = loop
        self._fd = fd
        self._on_broken = on_broken
        self._pending = bytearray()
        self._broken = False
        try:
            os.set_blocking(fd, False)
        except OSError:
            pass

    def write(self, data: bytes) -> None:
        """Queue one framed message (newline included). Loop thread only."""
        if self._pending:
            self._pending += data
            return
        try:
            n = os.write(self._fd, data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._lost()
            return
        if n < len(data):
            self._pending += memoryview(data)[n:]
            self._loop.add_writer(self._fd, self._flush)

    def _flush(self) -> None:
        try:
            n = os.write(self._fd, self._pending)
        except BlockingIOError:
            return
        except OSError:
            self._lost()
            return
        del self._pending[:n]
        if not self._pending:
            self._loop.remove_writer(self._fd)

    def _lost(self) -> None:
        if not self._broken:
            self._broken = True
            self._pending.clear()
            self._on_broken()

    def drain_blocking(self) -> None:
        """Write out whatever is queued, blocking; used once, right before the process exits."""
        if self._broken or not self._pending:
            return
        self._loop.remove_writer(self._fd)
        try:
            os.set_blocking(self._fd, True)
            view = memoryview(self._pending)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            pass
        self._pending.clear()


class LineReader:
    """Splits the protocol input into lines and enforces the per-line byte limit."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int,
                 on_line: Callable[[bytes], None],
                 on_oversized: Callable[[Oversized], None],
                 on_eof: Callable[[], None]) -> None:
        self.max_bytes = 16 * 1024 * 1024
        self._loop = loop
        self._fd = fd
        self._on_line = on_line
        self._on_oversized = on_oversized
        self._on_eof = on_eof
        self._buf = bytearray()
        self._skip: Oversized | None = None
        self._stopped = False

    def start(self) -> None:
        """Read on the loop; fall back to a thread when the fd cannot be polled (a plain file)."""
        try:
            os.set_blocking(self._fd, False)
            self._loop.add_reader(self._fd, self._readable)
        except (OSError, ValueError, NotImplementedError):
            os.set_blocking(self._fd, True)
            threading.Thread(target=self._pump, name="motia-stdin", daemon=True).start()

    def stop(self) -> None:
        """Process no further input (the runner is exiting)."""
        self._stopped = True
        try:
            self._loop.remove_reader(self._fd)
        except (OSError, ValueError, NotImplementedError):
            pass

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.feed(data)
        else:
            self.stop()
            self._on_eof()

    def _pump(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _CHUNK)
            except OSError:
                data = b""
            if not data:
                self._loop.call_soon_threadsafe(self._on_eof)
                return
            self._loop.call_soon_threadsafe(self.feed, data)

    def feed(self, data: bytes) -> None:
        """Take a chunk of input; call back once per complete line."""
        if self._stopped:
            return
        start = 0
        if self._skip is not None or self._buf:
            nl = data.find(b"\n")
            if nl < 0:
                self._carry(data)
                return
            self._finish_partial(data[:nl])
            start = nl + 1
        limit = self.max_bytes
        find = data.find
        while not self._stopped:
            nl = find(b"\n", start)
            if nl < 0:
                break
            if nl - start > limit:
                self._on_oversized(Oversized(data[start:nl]))
            elif nl > start:
                self._on_line(data[start:nl])
            start = nl + 1
        if start < len(data) and not self._stopped:
            self._carry(data[start:])

    def _carry(self, data: bytes) -> None:
        """Keep the unterminated tail; once it passes the limit keep only its ends."""
        if self._skip is not None:
            self._skip.add(data)
            return
        self._buf += data
        if len(self._buf) > self.max_bytes:
            self._skip = Oversized(self._buf)
            self._buf = bytearray()

    def _finish_partial(self, end: bytes) -> None:
        if self._skip is not None:
            skip, self._skip = self._skip, None
            skip.add(end)
            self._on_oversized(skip)
            return
        self._buf += end
        line, self._buf = bytes(self._buf), bytearray()
        if len(line) > self.max_bytes:
            self._on_oversized(Oversized(line))
        elif line.strip():
            self._on_line(line)

