"""``PipeSendStream``: the frames of one loop iteration in one write, back-pressure, close, errors.

Real pipes (``os.pipe``); the other end is read with ``os.read`` / ``FIONREAD`` to see what has
reached the pipe at each point.
"""

from __future__ import annotations

import array
import fcntl
import os
import termios
import threading

import anyio
import anyio.lowlevel
import pytest

from motia_core.runners.pipes import PipeSendStream

pytestmark = pytest.mark.anyio

FRAME = b'{"jsonrpc":"2.0","method":"step.invoke","id":1}\n'


def in_pipe(fd: int) -> int:
    unread = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, unread)
    return unread[0]


def read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into += chunk


async def test_the_frames_of_one_iteration_go_together_in_the_next() -> None:
    read_fd, write_fd = os.pipe()
    send = PipeSendStream(write_fd)
    try:
        for _ in range(10):  # no await suspends here: all ten in one loop iteration
            await send.send(FRAME)
        assert in_pipe(read_fd) == 0  # nothing yet: the write is the next iteration's
        await anyio.lowlevel.checkpoint()
        assert os.read(read_fd, 65536) == FRAME * 10  # all ten in one write, in order
        await send.send(FRAME)  # a new iteration: written in the one after it
        assert in_pipe(read_fd) == 0
        await anyio.lowlevel.checkpoint()
        assert in_pipe(read_fd) == len(FRAME)
    finally:
        await send.aclose()
        os.close(read_fd)


async def test_a_full_pipe_holds_the_rest_and_send_waits_past_the_high_water() -> None:
    read_fd, write_fd = os.pipe()
    send = PipeSendStream(write_fd)
    chunk = os.urandom(64 * 1024)
    got = bytearray()
    try:
        with anyio.fail_after(10):
            for _ in range(8):  # 512 KiB: more than the pipe holds, less than the high water
                await send.send(chunk)
            await anyio.lowlevel.checkpoint()  # the iteration that writes them
            # Nobody reads yet: the pipe is full and the rest waits, and sending goes on.
            assert 0 < in_pipe(read_fd) < 8 * len(chunk)
            reader = threading.Thread(target=read_all, args=(read_fd, got))
            reader.start()
            for _ in range(24):  # 1.5 MiB more: send waits for the reader past 1 MiB pending
                await send.send(chunk)
            await send.aclose()  # writes what is left, then closes: the reader sees EOF
            await anyio.to_thread.run_sync(reader.join)
        assert bytes(got) == chunk * 32
    finally:
        os.close(read_fd)


async def test_aclose_writes_what_is_pending() -> None:
    read_fd, write_fd = os.pipe()
    send = PipeSendStream(write_fd)
    for n in range(5):
        await send.send(b"%d\n" % n)
    await send.aclose()  # in the same iteration: four frames were still pending
    try:
        assert os.read(read_fd, 65536) == b"0\n1\n2\n3\n4\n"
        assert os.read(read_fd, 65536) == b""  # and then EOF
    finally:
        os.close(read_fd)
    with pytest.raises(anyio.ClosedResourceError):
        await send.send(FRAME)


async def test_a_deferred_write_that_fails_is_raised_by_the_next_send() -> None:
    read_fd, write_fd = os.pipe()
    send = PipeSendStream(write_fd)
    try:
        await send.send(FRAME)  # written at once
        await send.send(FRAME)  # pending until the next iteration
        os.close(read_fd)  # the runner is gone
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()  # the deferred write met EPIPE
        with pytest.raises(anyio.BrokenResourceError):
            await send.send(FRAME)
    finally:
        await send.aclose()
