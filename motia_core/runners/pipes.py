"""A runner's stdin and stdout as plain non-blocking pipes, wrapped as anyio byte streams.

Why not the streams ``anyio.open_process`` gives: on asyncio they sit on the loop's pipe
transport, which reads 256 KiB at a time (glibc serves a buffer that size with mmap, so every
read costs an mmap, an mremap and a munmap) and anyio adds a full loop iteration after every
write. A no-op invocation is only a few syscalls each way, so those costs were a third of its
round trip, and with many calls in flight the per-write iteration capped throughput. These
streams read at most 64 KiB straight from the fd and write straight to it, gathering the frames
sent in one loop iteration into one write. stderr stays an ordinary anyio stream (it is not hot),
whose lines ``pump_stderr`` logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream

__all__ = ("PipeReceiveStream", "PipeSendStream", "open_piped_process", "pump_stderr")

_READ_CHUNK = 64 * 1024  # under glibc's mmap threshold (128 KiB)
_MAX_BUFFERED_CHUNKS = 4
_HIGH_WATER = 1024 * 1024  # pending bytes past which send() waits for the pipe
_CLOSE_FLUSH_S = 2.0


class PipeSendStream(anyio.abc.ByteSendStream):
    """Writes to our end of the child's stdin, one ``write`` for what a loop iteration sends.

    With many calls in flight, each frame's own ``write`` (and the wake-up of the runner it
    causes) was the core's largest cost. So what the sends of a loop iteration give is written
    in one ``write`` in the next iteration (a ``call_soon``). An idle loop comes back to it at
    once; a busy one gathers there the frames of a whole iteration: the runner is woken once for
    them, and reads them in one go. (Writing the first frame of an iteration at once, to spare a
    lone call the wait, cost more than it saved: with 32 pipeline items in flight it took 0.6 to
    0.75 of the items/s, the core spending about a seventh of its time in that ``write`` on a
    2-core VM, where waking a process on the other core is dear.) When the pipe is full, what is
    left waits for it to have room (the loop watches the fd) and ``send`` waits once more than
    ``_HIGH_WATER`` bytes are pending. An error of a write (EPIPE: the runner is gone) is raised
    by the next ``send``; requests already sent learn of it from the other side closing.
    ``aclose`` writes what is pending first (for ``_CLOSE_FLUSH_S`` at most).
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)  # our end only: the child's end is a separate file description
        self._fd: int | None = fd
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()
        self._error: OSError | None = None
        self._soon = False  # a flush is scheduled for the next loop iteration
        self._watching = False  # the loop calls _flush when the pipe has room
        self._drained: list[asyncio.Future[None]] = []
        self._blocked_since: float | None = None  # loop time of the pipe's last progress

    async def send(self, item: bytes) -> None:
        self._check()
        idle = not (self._pending or self._soon or self._watching)
        self._pending += item
        if idle:
            self._soon = True
            self._loop.call_soon(self._flush_soon)
        if len(self._pending) > _HIGH_WATER:
            await self._drain()
            self._check()

    async def aclose(self) -> None:
        if self._fd is None:
            return
        with anyio.move_on_after(_CLOSE_FLUSH_S):
            await self._drain()
        self._unwatch()
        self._pending.clear()
        _close(self._fd)
        self._fd = None
        self._wake()

    def _check(self) -> None:
        if self._fd is None:
            raise anyio.ClosedResourceError
        if self._error is not None:  # EPIPE: the runner closed its stdin or died
            raise anyio.BrokenResourceError from self._error

    def _flush_soon(self) -> None:
        self._soon = False
        self._flush()

    def _flush(self) -> None:
        written = 0
        if self._pending and self._fd is not None and self._error is None:
            try:
                written = os.write(self._fd, self._pending)
            except BlockingIOError:
                written = 0  # the pipe is full: the runner is busy
            except OSError as exc:
                self._error, written = exc, len(self._pending)
            del self._pending[:written]
        if self._pending and self._fd is not None and self._error is None:
            if written or self._blocked_since is None:
                self._blocked_since = self._loop.time()
            if not self._watching:
                self._loop.add_writer(self._fd, self._flush)
                self._watching = True
            return
        self._blocked_since = None
        self._unwatch()
        self._wake()

    @property
    def blocked_s(self) -> float:
        """How long the runner has taken none of the bytes waiting for it (0 when none wait):
        slow is not stuck, a runner that stopped reading is."""
        if self._blocked_since is None:
            return 0.0
        return self._loop.time() - self._blocked_since

    def _unwatch(self) -> None:
        if self._watching and self._fd is not None:
            self._loop.remove_writer(self._fd)
        self._watching = False

    def _wake(self) -> None:
        waiters, self._drained = self._drained, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _drain(self) -> None:
        """Until nothing is pending (or the pipe broke, or it was closed)."""
        while self._pending and self._fd is not None and self._error is None:
            if not self._soon and not self._watching:
                self._flush()
                continue
            waiter = self._loop.create_future()
            self._drained.append(waiter)
            await waiter


class PipeReceiveStream(anyio.abc.ByteReceiveStream):
    """Reads from our end of the child's stdout with a reader that stays on the loop.

    ``anyio.wait_readable`` would register and unregister the fd around every wait and try a
    read that fails first: three extra syscalls per message. Here the fd stays registered, the
    loop's callback reads what arrived and wakes ``receive()``; reading pauses while a few chunks
    wait unconsumed. asyncio only, as is the rest of the core (aiohttp).
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd: int | None = fd
        self._loop = asyncio.get_running_loop()
        self._chunks: deque[bytes] = deque()
        self._eof = False
        self._error: OSError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._reading = False
        self._resume()

    def _resume(self) -> None:
        if not self._reading and self._fd is not None and not self._eof:
            self._loop.add_reader(self._fd, self._readable)
            self._reading = True

    def _pause(self) -> None:
        if self._reading and self._fd is not None:
            self._loop.remove_reader(self._fd)
        self._reading = False

    def _readable(self) -> None:
        assert self._fd is not None  # aclose() unregisters before closing
        try:
            data = os.read(self._fd, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            self._error, data = exc, b""
        if data:
            self._chunks.append(data)
            if len(self._chunks) >= _MAX_BUFFERED_CHUNKS:
                self._pause()  # the reader is behind; the pipe holds the rest
        else:
            self._eof = True
            self._pause()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive(self, max_bytes: int = _READ_CHUNK) -> bytes:
        while not self._chunks:
            if self._fd is None:
                raise anyio.ClosedResourceError
            if self._error is not None:
                raise anyio.BrokenResourceError from self._error
            if self._eof:
                raise anyio.EndOfStream
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        if len(chunk) > max_bytes:
            self._chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self._resume()
        return chunk

    async def aclose(self) -> None:
        self._pause()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._chunks.clear()
        self._wake()


async def pump_stderr(stream: anyio.abc.ByteReceiveStream, logger: logging.Logger,
                      runner: str, tail: deque[str] | None = None) -> None:
    """Log each line a runner writes to stderr (its own logs, a step's prints) as it comes;
    ``tail`` (bounded by its ``maxlen``) keeps the last ones: why a runner that exits did."""
    pending = ""

    def emit(line: str) -> None:
        logger.info("%s", line, extra={"action": "stderr", "runner": runner})
        if tail is not None:
            tail.append(line)

    try:
        async for text in TextReceiveStream(stream, errors="replace"):
            pending += text
            *lines, pending = pending.split("\n")
            for line in lines:
                if line:
                    emit(line)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        # Reaping closed the pipe while a child of the runner (esbuild, something a step
        # spawned) still held its write end: the runner is gone, so is its stderr.
        pass
    if pending:
        emit(pending)


def _close(fd: int | None) -> None:
    if fd is not None:
        anyio.notify_closing(fd)  # a task waiting on this fd gets ClosedResourceError
        os.close(fd)


async def open_piped_process(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
) -> tuple[anyio.abc.Process, PipeReceiveStream, PipeSendStream]:
    """Start ``argv`` in a new session; return it with its stdout and stdin as pipe streams.

    The returned process has ``stderr`` as an anyio stream and no ``stdin``/``stdout`` of its
    own. Closing the two pipe streams is the caller's job (after the process is reaped).
    """
    child_in, our_in = os.pipe()
    our_out, child_out = os.pipe()
    try:
        process = await anyio.open_process(
            list(argv), stdin=child_in, stdout=child_out, stderr=subprocess.PIPE,
            cwd=cwd, env=dict(env), start_new_session=True,
        )
    except BaseException:
        os.close(our_in)
        os.close(our_out)
        raise
    finally:
        os.close(child_in)  # the child has its copies; ours would hide its exit (no EOF)
        os.close(child_out)
    return process, PipeReceiveStream(our_out), PipeSendStream(our_in)
